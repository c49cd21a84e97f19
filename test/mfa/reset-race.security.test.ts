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
import { STEP, addUser, apiPending, codeNow, enrolByApi, mfaTenant, sessionsOf } from './support.ts';

// Reset MFA landing while a sign-in's code is being checked. Whatever the
// interleaving, no full session may outlive the reset. The interleavings are
// forced by hooks in the store; on PostgreSQL the second one really runs the
// two transactions at once, on two connections.

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

    const reset = (userId: string) => resetMfa(t.deps, tenant.accountId, userId, { userId: tenant.adminId, label: 'alice', ip: null });

    /** Backends of this database waiting for a row lock (PostgreSQL). */
    async function lockWaiters(): Promise<number> {
      const rows = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`.execute(t.db.database.db);
      return rows.rows[0]?.n ?? 0;
    }

    it('a reset that lands after the code is checked: the sign-in starts over, with no session', async () => {
      const { userId, view, code } = await pendingSignIn('checked');
      const store = t.deps.store;
      // The reset commits right after the code step has read the authenticator.
      const racing: Store = {
        ...store,
        authenticators: {
          ...store.authenticators,
          get: async (accountId, id) => {
            const found = await store.authenticators.get(accountId, id);
            await reset(userId);
            return found;
          },
        },
      };
      const result = await submitCode({ ...t.deps, store: racing }, view, code, '127.0.0.1');

      expect(result.kind).toBe('restart');
      expect(await t.deps.store.authenticators.get(tenant.accountId, userId)).toBeUndefined();
      expect(await sessionsOf(t, userId)).toEqual([]);
    });

    it('a reset that starts while the new session is being made ends that session too', async () => {
      const { userId, view, code } = await pendingSignIn('finishing');
      const store = t.deps.store;
      let resetting: Promise<unknown> | undefined;
      let waited = 0;
      // Inside the sign-in's last transaction, once the pending session is ended
      // (its row locked on PostgreSQL) and before the new one is written, a reset
      // starts on another connection and runs as far as the database lets it.
      const racing: Store = {
        ...store,
        transaction: (fn) =>
          store.transaction((trx) =>
            fn({
              ...trx,
              sessions: {
                ...trx.sessions,
                create: async (session) => {
                  resetting = reset(userId);
                  if (kind === 'postgres') {
                    for (let i = 0; i < 100 && waited === 0; i++) {
                      await new Promise((r) => setTimeout(r, 20));
                      waited = await lockWaiters();
                    }
                  }
                  return trx.sessions.create(session);
                },
              },
            }),
          ),
      };
      const result: CodeResult = await submitCode({ ...t.deps, store: racing }, view, code, '127.0.0.1');
      await resetting;

      // The sign-in may finish first (its session then ended by the reset) or start over.
      expect(['signed_in', 'restart']).toContain(result.kind);
      expect(resetting).toBeDefined();
      // On PostgreSQL the reset really had to wait for the sign-in's row lock.
      if (kind === 'postgres') expect(waited).toBeGreaterThan(0);
      expect(await t.deps.store.authenticators.get(tenant.accountId, userId)).toBeUndefined();
      expect((await sessionsOf(t, userId)).filter((s) => s.state === 'full')).toEqual([]);
    });

    it('one pending sign-in sent two different right codes at once becomes at most one session', async () => {
      const { userId, view, secret } = await pendingSignIn('twice');
      const fullBefore = (await sessionsOf(t, userId)).filter((s) => s.state === 'full').length;
      t.clock.advance(STEP); // the previous step is then not the enrolment's, which is used
      // Both requests pass the counting before either finishes: each waits for the
      // other at its read of the authenticator. The older code finishes first, so the
      // newer one's step is still unused and only the ended pending session stops it.
      const store = t.deps.store;
      let arrived = 0;
      let release!: () => void;
      const together = new Promise<void>((r) => (release = r));
      const racing: Store = {
        ...store,
        authenticators: {
          ...store.authenticators,
          get: async (accountId, id) => {
            const found = await store.authenticators.get(accountId, id);
            if (++arrived === 2) release();
            await together;
            return found;
          },
        },
      };
      const results = await Promise.all([codeNow(t, secret, -1), codeNow(t, secret)].map((code) => submitCode({ ...t.deps, store: racing }, view, code, '127.0.0.1')));

      expect(results.map((r) => r.kind).sort()).toEqual(['restart', 'signed_in']);
      expect(results.filter((r) => r.kind === 'signed_in')).toHaveLength(1);
      expect((await sessionsOf(t, userId)).filter((s) => s.state === 'full')).toHaveLength(fullBefore + 1);
    });
  });
}
