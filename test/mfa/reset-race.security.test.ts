import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCode } from '../../src/services/mfa-challenge.ts';
import type { CodeResult } from '../../src/services/mfa-challenge.ts';
import { resetMfa } from '../../src/services/mfa-reset.ts';
import { hashToken } from '../../src/services/sessions.ts';
import type { SessionView } from '../../src/storage/queries/sessions.ts';
import type { Store } from '../../src/storage/store.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { secretOf } from '../helpers/phone.ts';
import { STEP, addUser, apiPending, codeNow, enrolByApi, mfaTenant, sessionsOf, totp } from './support.ts';

// Reset MFA landing while a sign-in's code is being checked. Whatever the
// interleaving, no full session may outlive the reset. The interleavings are
// forced by hooks inside one transaction that start the other, and each test
// checks that the second one had to wait for the first:
// - PostgreSQL: the two really run at once on two connections, and the second
//   is seen waiting for a lock (pg_stat_activity, in this test's schema).
// - SQLite: one process, one connection, which Kysely's driver lends to one
//   transaction at a time (a mutex, kysely/dist/esm/dialect/sqlite/sqlite-driver.js).
//   Waiting there means: the second one's first call to the store has been
//   made, and is still unanswered once every pending promise callback has run
//   (a setImmediate comes after them all). better-sqlite3 answers synchronously,
//   so a statement that is not queued behind the open transaction has been
//   answered by then. A transaction that is not one (statements straight on
//   the connection) lets it through, and `waited` is false.

for (const kind of await storeKinds()) {
  describe(`Reset MFA racing a sign-in (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
    });
    afterAll(() => t.close());

    /** An enrolled user with a pending sign-in, its view and a right code. */
    async function pendingSignIn(username: string): Promise<{ userId: string; view: SessionView; code: string; secret: string }> {
      const userId = await addUser(t, tenant, username);
      const { secret } = await enrolByApi(t, tenant, username);
      t.clock.advance(STEP);
      const { client } = await apiPending(t, tenant, username);
      const view = await t.deps.store.sessions.view(hashToken(client.cookies.get('portcullis') as string));
      if (!view) throw new Error('no pending session');
      return { userId, view, code: codeNow(t, secret), secret };
    }

    /** Backends waiting for a lock while they hold one on a table of this test's schema (PostgreSQL): a row lock waits so. */
    async function lockWaiters(): Promise<number> {
      const rows = await sql<{ n: number }>`select count(distinct a.pid)::int as n from pg_stat_activity a
        join pg_locks l on l.pid = a.pid
        join pg_class c on c.oid = l.relation
        where a.datname = current_database() and a.wait_event_type = 'Lock'
          and c.relnamespace = (select oid from pg_namespace where nspname = current_schema())`.execute(t.db.database.db);
      return rows.rows[0]?.n ?? 0;
    }

    /** A store whose transactions see `replace(trx)` over their own store. */
    function hooked(store: Store, replace: (trx: Store) => Partial<Store>): Store {
      return { ...store, transaction: (fn) => store.transaction((trx) => fn({ ...trx, ...replace(trx) })) };
    }

    /** The first call a service makes to its store, seen from outside. */
    interface FirstCall {
      /** Settles when the call is made. */
      issued: Promise<void>;
      /** Whether the database has answered it (for a transaction: let it begin). */
      answered: boolean;
    }

    /** The store, watched for the first call made to it: any query, or a transaction. */
    function watched(store: Store): { store: Store; first: FirstCall } {
      let issue = () => {};
      const first: FirstCall = { issued: new Promise((resolve) => (issue = resolve)), answered: false };
      let made = false;
      const observe = <T>(call: () => Promise<T>): Promise<T> => {
        if (made) return call();
        made = true;
        issue();
        return call().finally(() => (first.answered = true));
      };
      const group = (queries: object) =>
        new Proxy(queries, {
          get(target, key) {
            const value: unknown = Reflect.get(target, key);
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => observe(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
          },
        });
      const groups = Object.fromEntries(
        Object.entries(store as unknown as Record<string, unknown>).map(([name, value]) => [name, typeof value === 'object' && value !== null ? group(value) : value]),
      );
      const transaction: Store['transaction'] = (fn) => {
        if (made) return store.transaction(fn);
        made = true;
        issue();
        return store.transaction((trx) => {
          first.answered = true;
          return fn(trx);
        });
      };
      return { store: { ...store, ...groups, transaction }, first };
    }

    /** Lets `other`, started from inside an open transaction, run until it waits for that transaction; answers whether it did. */
    async function untilWaiting(other: FirstCall, done: Promise<unknown>): Promise<boolean> {
      let finished = false;
      void done.then(
        () => (finished = true),
        () => (finished = true),
      );
      if (kind === 'sqlite') {
        await other.issued;
        await new Promise((r) => setImmediate(r)); // after every promise callback queued so far
        return !other.answered && !finished;
      }
      // The pauses only pace the polling; the deadline only bounds a broken run.
      const deadline = Date.now() + 5000;
      while (!finished && Date.now() < deadline) {
        if ((await lockWaiters()) > 0) return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    }

    /** Starts a reset of the user (on another connection on PostgreSQL) and lets it run as far as the database lets it. */
    function resetRace(userId: string) {
      const race = { resetting: undefined as Promise<unknown> | undefined, waited: false };
      return Object.assign(race, {
        async start() {
          const { store, first } = watched(t.deps.store);
          race.resetting = resetMfa({ ...t.deps, store }, tenant.accountId, userId, { userId: tenant.adminId, label: 'alice', ip: null });
          race.waited = await untilWaiting(first, race.resetting);
        },
      });
    }

    /** A sign-in store whose transaction starts that reset just before it writes the new session. */
    function resetBeforeNewSession(race: ReturnType<typeof resetRace>): Store {
      return hooked(t.deps.store, (trx) => ({
        sessions: {
          ...trx.sessions,
          create: async (session) => {
            await race.start();
            return trx.sessions.create(session);
          },
        },
      }));
    }

    it('a reset that starts once the sign-in has read the authenticator waits, then ends the new session', async () => {
      const { userId, view, code } = await pendingSignIn('locked-first');
      const race = resetRace(userId);
      const store = hooked(t.deps.store, (trx) => ({
        factors: {
          ...trx.factors,
          forUser: async (accountId, id) => {
            const found = await trx.factors.forUser(accountId, id);
            await race.start();
            return found;
          },
        },
      }));
      const result = await submitCode({ ...t.deps, store }, view, totp(code), '127.0.0.1');
      await race.resetting;

      expect(race.waited).toBe(true);
      expect(result.ok).toBe(true);
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toEqual([]);
      expect(await sessionsOf(t, userId)).toEqual([]);
    });

    it('a reset that starts while the new session is being made ends that session too', async () => {
      const { userId, view, code } = await pendingSignIn('finishing');
      // Inside the sign-in's transaction, once the pending session is ended and
      // before the new one is written, a reset starts on another connection.
      const race = resetRace(userId);
      const store = resetBeforeNewSession(race);
      const result: CodeResult = await submitCode({ ...t.deps, store }, view, totp(code), '127.0.0.1');
      await race.resetting;

      expect(race.waited).toBe(true);
      expect(result.ok).toBe(true);
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toEqual([]);
      expect(await sessionsOf(t, userId)).toEqual([]);
    });

    it('a reset while a user who is setting up is signed in ends that session too (no authenticator row to lock yet)', async () => {
      const userId = await addUser(t, tenant, 'setting-up');
      const { client, res } = await apiPending(t, tenant, 'setting-up');
      const secret = secretOf((res.json<{ otpauthUri: string }>()).otpauthUri);
      const view = await t.deps.store.sessions.view(hashToken(client.cookies.get('portcullis') as string));
      if (!view) throw new Error('no pending session');
      const race = resetRace(userId);
      const store = resetBeforeNewSession(race);
      const result = await submitCode({ ...t.deps, store }, view, totp(codeNow(t, secret)), '127.0.0.1');
      await race.resetting;

      expect(race.waited).toBe(true);
      expect(result).toMatchObject({ ok: true, recoveryCodes: expect.any(Array) });
      // The reset came second: it revoked the authenticator just saved and ended the new session.
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toEqual([]);
      expect(await sessionsOf(t, userId)).toEqual([]);
    });

    it('a sign-in whose code comes while a reset is under way waits for it, and starts over', async () => {
      const { userId, view, code } = await pendingSignIn('reset-first');
      let signingIn: Promise<CodeResult> | undefined;
      let waited = false;
      // The reset has deleted the authenticator (not yet committed) when the code arrives.
      const deps = {
        ...t.deps,
        store: hooked(t.deps.store, (trx) => ({
          factors: {
            ...trx.factors,
            deleteForUser: async (accountId, id) => {
              const removed = await trx.factors.deleteForUser(accountId, id);
              const { store, first } = watched(t.deps.store);
              signingIn = submitCode({ ...t.deps, store }, view, totp(code), '127.0.0.1');
              waited = await untilWaiting(first, signingIn);
              return removed;
            },
          },
        })),
      };
      await resetMfa(deps, tenant.accountId, userId, { userId: tenant.adminId, label: 'alice', ip: null });
      const result = await signingIn;

      expect(waited).toBe(true);
      expect(result).toMatchObject({ ok: false, reason: 'restart' });
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toEqual([]);
      expect(await sessionsOf(t, userId)).toEqual([]);
    });

    it('one pending sign-in sent two different right codes at once becomes at most one session', async () => {
      const { userId, view, secret } = await pendingSignIn('twice');
      const fullBefore = (await sessionsOf(t, userId)).filter((s) => s.state === 'full').length;
      t.clock.advance(STEP); // the previous step is then not the enrolment's, which is used
      const results = await Promise.all([codeNow(t, secret, -1), codeNow(t, secret)].map((code) => submitCode(t.deps, view, totp(code), '127.0.0.1')));

      expect(results.map((r) => (r.ok ? 'signed_in' : r.reason)).sort()).toEqual(['restart', 'signed_in']);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect((await sessionsOf(t, userId)).filter((s) => s.state === 'full')).toHaveLength(fullBefore + 1);
    });
  });
}
