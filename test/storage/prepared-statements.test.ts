import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/storage/schema.ts';
import { createStore, STALE_PLAN_TRIES } from '../../src/storage/store.ts';
import { openTestDatabase, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';

// On PostgreSQL, data statements go as named prepared statements, parsed and
// planned once per connection. Each test pins one connection of the pool and
// looks at what that server session has prepared.

const kinds = await storeKinds();

describe.runIf(kinds.includes('postgres'))('named prepared statements (postgres)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('postgres');
    await t.store.accounts.create({ id: '12345678', name: 'Acme', mfaEnabled: false, createdAt: 1 });
  });
  afterAll(() => t.close());

  const prepared = async (conn: Kysely<Database>) =>
    (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(conn)).rows;

  it('prepares a statement once per connection and reuses it, with the values of each call', async () => {
    await t.database.db.connection().execute(async (conn) => {
      const store = createStore(conn, 'postgres');
      expect(await store.accounts.get('12345678')).toMatchObject({ name: 'Acme' });
      const first = await prepared(conn);
      const accountLookups = first.filter((p) => /from "accounts"/.test(p.statement));
      expect(accountLookups).toHaveLength(1);
      expect(await store.accounts.get('87654321')).toBeUndefined();
      expect(await store.accounts.get('12345678')).toMatchObject({ name: 'Acme' });
      expect((await prepared(conn)).filter((p) => /from "accounts"/.test(p.statement))).toEqual(accountLookups);
    });
  });

  it('prepares only the sign-in statements: no schema change, no search, no id list', async () => {
    await t.database.db.connection().execute(async (conn) => {
      const store = createStore(conn, 'postgres');
      await sql`create table if not exists scratch_prepared (id integer)`.execute(conn);
      await sql`drop table scratch_prepared`.execute(conn);
      await store.audit.list('12345678', { limit: 10, offset: 0 });
      await store.throttles.lockedUntil('password', '12345678', ['a', 'b', 'c'], 0);
      const named = await prepared(conn);
      expect(named.filter((p) => /^\s*(create|drop|alter)/i.test(p.statement))).toEqual([]);
      expect(named.filter((p) => /audit_events|"subject" in/.test(p.statement))).toEqual([]);
    });
  });

  it('sends the writes that end a sign-in as one prepared statement at the commit: the throttle, the session, the audit event', async () => {
    const user = { id: 'u-batch', accountId: '12345678', username: 'batch', usernameKey: 'batch', role: 'agent' as const, passwordHash: 'x', state: 'active' as const, email: null, passwordChangeRequired: false, createdAt: 1, updatedAt: 1 };
    expect(await t.store.users.create(user)).toBe(true);
    await t.database.db.connection().execute(async (conn) => {
      const store = createStore(conn, 'postgres');
      await store.transaction(async (trx) => {
        await trx.throttles.clear({ scope: 'totp', accountId: '12345678', subject: 'batch' });
        await trx.sessions.create({
          id: 'batched-session',
          accountId: '12345678',
          userId: user.id,
          state: 'full',
          createdAt: 1,
          lastSeenAt: 1,
          expiresAt: Date.now() + 60_000,
          methods: [{ kind: 'password', at: 1 }],
          codeFailures: 0,
          enrolment: null,
          client: { ip: null, agent: null },
        });
        await trx.audit.record({ id: 'batched-event', accountId: '12345678', at: 1, actorUserId: null, actor: 'cli', action: 'mfa.verify', targetUserId: null, target: null, ip: null, result: 'success', detail: null });
      });
      const joined = (await prepared(conn)).filter((p) => /^with w1 as \(delete from "throttles"/.test(p.statement));
      expect(joined).toHaveLength(1);
      expect(joined[0]?.statement).toMatch(/w2 as \(insert into "sessions".*w3 as \(insert into "audit_events"/s);
    });
    expect((await t.store.sessions.view('batched-session'))?.user.username).toBe('batch');
    expect(await t.store.audit.list('12345678', { limit: 10, offset: 0 })).toMatchObject([{ id: 'batched-event' }]);
  });

  it('runs a statement found stale on one connection unnamed on the others too (a retry may get another connection)', async () => {
    const lookUp = (conn: Kysely<Database>, counter: { runs: number }) =>
      createStore(conn, 'postgres').transaction(async (trx) => {
        counter.runs++;
        await trx.sessions.addCodeFailure('no-such-session');
        return trx.accounts.get('12345678');
      });
    await t.database.db.connection().execute(async (first) => {
      await t.database.db.connection().execute(async (second) => {
        const a = { runs: 0 };
        const b = { runs: 0 };
        try {
          // Both connections have the statement prepared.
          await lookUp(first, a);
          await lookUp(second, b);
          await sql`alter table accounts add column later_column text`.execute(first);
          await lookUp(first, a);
          expect(a.runs).toBe(3); // one try met the stale statement
          await lookUp(second, b);
          expect(b.runs).toBe(2); // none did
        } finally {
          await sql`alter table accounts drop column if exists later_column`.execute(first);
        }
      });
    });
  });

  it("keeps answering after another instance's migration changes a table under a prepared `select *`", async () => {
    await t.database.db.connection().execute(async (conn) => {
      const store = createStore(conn, 'postgres');
      try {
        expect(await store.accounts.get('12345678')).toMatchObject({ name: 'Acme' });
        // What a newer instance's migration might do while this one runs.
        await sql`alter table accounts add column later_column text`.execute(conn);
        expect(await store.accounts.get('12345678')).toMatchObject({ name: 'Acme' });

        // Inside a transaction the error has aborted it: the store runs the
        // transaction once more, and the request that met it still succeeds.
        let runs = 0;
        const lookUp = () =>
          store.transaction(async (trx) => {
            runs++;
            await trx.sessions.addCodeFailure('no-such-session');
            return trx.users.findByUsername('12345678', 'nobody');
          });
        await expect(lookUp()).resolves.toBeUndefined();
        expect(runs).toBe(1);
        await sql`alter table users add column later_column text`.execute(conn);
        await expect(lookUp()).resolves.toBeUndefined();
        expect(runs).toBe(3);
        await expect(lookUp()).resolves.toBeUndefined();
        expect(runs).toBe(4);
        // Two stale statements in one transaction: one more try each.
        runs = 0;
        const both = () =>
          store.transaction(async (trx) => {
            runs++;
            await trx.sessions.addCodeFailure('no-such-session');
            return [await trx.sessions.view('no-such-session'), await trx.factors.forUser('12345678', 'nobody')];
          });
        await expect(both()).resolves.toEqual([undefined, []]);
        await sql`alter table sessions add column later_column text`.execute(conn);
        await sql`alter table factors add column later_column text`.execute(conn);
        await expect(both()).resolves.toEqual([undefined, []]);
        expect(runs).toBe(1 + 3);
        // A transaction whose every try fails says so: it is not retried forever.
        let failing = 0;
        const broken = store.transaction(async () => {
          failing++;
          throw Object.assign(new Error('cached plan must not change result type'), { code: '0A000', staleStatement: true });
        });
        await expect(broken).rejects.toMatchObject({ code: '0A000' });
        expect(failing).toBe(STALE_PLAN_TRIES);
        // Only a stale statement the wrapper found is retried: any other error once.
        failing = 0;
        const other = store.transaction(async () => {
          failing++;
          throw Object.assign(new Error('feature not supported'), { code: '0A000' });
        });
        await expect(other).rejects.toMatchObject({ code: '0A000' });
        expect(failing).toBe(1);
      } finally {
        await sql`alter table accounts drop column if exists later_column`.execute(conn);
        await sql`alter table users drop column if exists later_column`.execute(conn);
        await sql`alter table sessions drop column if exists later_column`.execute(conn);
        await sql`alter table factors drop column if exists later_column`.execute(conn);
      }
    });
  });
});
