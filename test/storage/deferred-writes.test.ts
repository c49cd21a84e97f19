import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchesOf, joinWrites } from '../../src/storage/postgres-connection.ts';
import type { Write } from '../../src/storage/postgres-connection.ts';
import type { AuditEvent } from '../../src/storage/records.ts';
import { createStore } from '../../src/storage/store.ts';
import { openTestDatabase, POSTGRES_URL, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';

// How writes that waited inside a PostgreSQL transaction are sent
// (postgres-connection.ts): runs of different tables joined into one
// statement, their parameters renumbered. On the real server:
// store.contract.test.ts ("writes that answer nothing") and
// prepared-statements.test.ts.

const write = (text: string, ...values: unknown[]): Write => ({ text, values });

describe('waiting writes, joined', () => {
  it('joins writes to different tables, and starts a new statement at a table already in it, keeping the order', () => {
    const audit1 = write('insert into "audit_events" ("id") values ($1)', 'e1');
    const clear = write('delete from "throttles" where "scope" = $1', 'totp');
    const session = write('insert into "sessions" ("id") values ($1)', 's1');
    const audit2 = write('insert into "audit_events" ("id") values ($1)', 'e2');
    const touch = write('update "sessions" set "last_seen_at" = $1', 5);
    expect(batchesOf([audit1, clear, session, audit2, touch])).toEqual([[audit1, clear, session], [audit2, touch]]);
    expect(batchesOf([audit1])).toEqual([[audit1]]);
    expect(batchesOf([])).toEqual([]);
  });

  it('numbers each write’s parameters after the ones before it, two-digit numbers included', () => {
    const first = write('delete from "throttles" where "scope" = $1 and "subject" = $2', 'totp', 'alice');
    const many = Array.from({ length: 11 }, (_, i) => i + 1);
    const columns = many.map((i) => `"c${i}"`).join(', ');
    const second = write(`insert into "sessions" (${columns}) values (${many.map((i) => `$${i}`).join(', ')})`, ...many);
    const joined = joinWrites([first, second]);
    expect(joined.values).toEqual(['totp', 'alice', ...many]);
    expect(joined.text).toBe(
      'with w1 as (delete from "throttles" where "scope" = $1 and "subject" = $2), ' +
        `w2 as (insert into "sessions" (${columns}) values (${many.map((i) => `$${i + 2}`).join(', ')})) select 1`,
    );
    expect(joined.text).toContain('$3, $4');
    expect(joined.text).toContain('$12, $13)');
  });

  it('refuses a text that is not an INSERT, UPDATE or DELETE', () => {
    expect(() => batchesOf([write('select 1')])).toThrow(/not a deferrable write/);
  });
});

const kinds = await storeKinds();

describe.runIf(kinds.includes('postgres'))('waiting writes on the real server (postgres)', () => {
  let t: TestDatabase;
  let n = 0;
  const ACCOUNT = '23456789';
  const event = (): AuditEvent => ({ id: `e${++n}`, accountId: ACCOUNT, at: n, actorUserId: null, actor: 'cli', action: 'user.create', targetUserId: null, target: null, ip: null, result: 'success', detail: null });
  /** The account's audit event ids as another connection sees them: what has landed. */
  const landed = async () => {
    const c = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${t.schema}` });
    await c.connect();
    try {
      return (await c.query<{ id: string }>('select id from audit_events where account_id = $1 order by at', [ACCOUNT])).rows.map((r) => r.id);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    t = await openTestDatabase('postgres');
    await t.store.accounts.create({ id: ACCOUNT, name: 'Acme', mfaEnabled: false, createdAt: 1 });
  });
  afterAll(() => t.close());

  it('a rollback to a savepoint drops the writes waiting since it and keeps the ones before it', async () => {
    const before = event();
    const after = event();
    const trx = await t.database.db.startTransaction().execute();
    const store = createStore(trx, 'postgres');
    await store.audit.record(before);
    const withSavepoint = await trx.savepoint('sp').execute();
    await store.audit.record(after);
    await withSavepoint.rollbackToSavepoint('sp').execute();
    await withSavepoint.commit().execute();
    expect(await landed()).toEqual([before.id]);
  });

  it('a write outside a transaction lands at once, also on a connection whose last `begin` failed', async () => {
    // The same connection back from the pool (it hands out the one released last).
    await t.database.db.connection().execute(async (conn) => {
      await expect(sql.raw('begin isolation level no_such_level').execute(conn)).rejects.toThrow();
    });
    const e = event();
    await t.database.db.connection().execute(async (conn) => {
      await createStore(conn, 'postgres').audit.record(e);
      expect(await landed()).toContain(e.id);
    });
  });
});
