import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/storage/database.ts';
import * as foundation from '../../src/storage/migrations/001-foundation.ts';
import * as mfa from '../../src/storage/migrations/002-mfa.ts';
import * as userSearchMigration from '../../src/storage/migrations/003-user-search.ts';
import { SEARCH_ROWS_PER_ACCOUNT } from '../../src/storage/migrations/003-user-search.ts';
import type { NewUser } from '../../src/storage/queries/users.ts';
import { createStore } from '../../src/storage/store.ts';
import { openTestDatabase, openUnmigrated, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';
import { runs, SEED } from '../fuzz/fuzz-support.ts';

// The user list's part-of-name search is served by an index (migration 003: a
// trigram GIN index on PostgreSQL, a trigram FTS5 table on SQLite). These tests
// hold its answers to a plain JavaScript filter, and show the index is there and
// kept in step with the users table.

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);
const newId = () => randomBytes(16).toString('hex');
let accounts = 0;
const nextAccountId = () => String(30_000_000 + ++accounts);
/** What the application stores as a username's key, and searches with. */
const normal = (text: string) => text.normalize('NFKC').toLowerCase();

function user(accountId: string, key: string): NewUser {
  return { id: newId(), accountId, username: key, usernameKey: key, role: 'agent', passwordHash: '$argon2id$x', state: 'active', email: null, createdAt: NOW };
}

// Few letters, so names share trigrams; and the characters a query could trip on.
const LETTERS = ['a', 'b', 'c', 'ab', 'abc', '_', '%', '"', "'", '\\', '*', ' ', 'ä', 'ß', '猫', '\u0307'];
const text = (min: number, max: number) => fc.array(fc.constantFrom(...LETTERS), { minLength: min, maxLength: max }).map((parts) => parts.join(''));

for (const kind of await storeKinds()) {
  describe(`user search index on ${kind}`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await openTestDatabase(kind);
    });
    afterAll(async () => t?.close());

    async function tenant(keys: string[]): Promise<string> {
      const accountId = nextAccountId();
      await t.store.accounts.create({ id: accountId, name: 'Search', mfaEnabled: false, createdAt: NOW });
      for (const key of new Set(keys.map(normal))) expect(await t.store.users.create(user(accountId, key))).toBe(true);
      return accountId;
    }

    const search = async (accountId: string, term: string) =>
      (await t.store.users.list(accountId, { search: term, limit: 1000, offset: 0 })).users.map((u) => u.username);

    it(`finds exactly the usernames that contain the text, like a plain filter (seed ${SEED})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(text(1, 8), { minLength: 1, maxLength: 25 }), fc.array(text(1, 5), { minLength: 1, maxLength: 6 }), async (keys, terms) => {
          const accountId = await tenant(keys);
          // Another account with the same names: never part of the answer.
          await tenant(keys);
          const all = [...new Set(keys.map(normal))];
          for (const term of terms) {
            const expected = all.filter((k) => k.includes(normal(term))).sort();
            const found = await search(accountId, term);
            expect([...found].sort(), `search ${JSON.stringify(term)}`).toEqual(expected);
            const counted = await t.store.users.list(accountId, { search: term, limit: 1, offset: 0 });
            expect(counted.total).toBe(expected.length);
          }
        }),
        runs(kind === 'sqlite' ? 60 : 25),
      );
    });

    it('answers a text thousands of names contain by walking the names, in the same order and with the same total', async () => {
      // 2,100 matches: more than a search narrows to before it walks instead.
      const keys = Array.from({ length: 2100 }, (_, i) => `member.${String((i * 7919) % 2100).padStart(4, '0')}`);
      const accountId = await tenant([...keys, 'other']);
      const sorted = [...keys].sort();
      const page = async (term: string, offset: number) => t.store.users.list(accountId, { search: term, limit: 25, offset });
      const many = await page('member', 2000);
      expect(many.total).toBe(2100);
      expect(many.users.map((u) => u.username)).toEqual(sorted.slice(2000, 2025));
      const few = await page('member.20', 50);
      expect(few.total).toBe(100);
      expect(few.users.map((u) => u.username)).toEqual(sorted.filter((k) => k.includes('member.20')).slice(50, 75));
      expect((await page('ber.2099', 0)).users.map((u) => u.username)).toEqual(['member.2099']);
      // A page past the last match: no users, and still the total.
      expect(await page('member.20', 200)).toEqual({ users: [], total: 100 });
      expect(await page('member', 2500)).toEqual({ users: [], total: 2100 });
    });

    it('finds a user created after the index was made, and forgets one whose account is deleted', async () => {
      const accountId = await tenant(['first.user']);
      await t.store.users.create(user(accountId, 'second.user'));
      expect(await search(accountId, 'user')).toEqual(['first.user', 'second.user']);
      await sql`delete from accounts where id = ${accountId}`.execute(t.database.db);
      expect(await search(accountId, 'user')).toEqual([]);
      if (kind === 'sqlite') {
        const left = await sql<{ n: number }>`select count(*) as n from user_search where user_search match '"first.user"'`.execute(t.database.db);
        expect(left.rows[0]?.n).toBe(0);
      }
    });

    it('finds a renamed user by the new name only', async () => {
      const accountId = await tenant(['old.name']);
      await sql`update users set username_key = 'new.name', username = 'new.name' where account_id = ${accountId}`.execute(t.database.db);
      expect(await search(accountId, 'new.n')).toEqual(['new.name']);
      expect(await search(accountId, 'old.n')).toEqual([]);
    });

    if (kind === 'sqlite') {
      it('answers searches of three characters or more from the FTS5 table (a row missing from it is not found)', async () => {
        const accountId = await tenant(['hidden.agent', 'shown.agent']);
        // Take one user out of the index behind the application's back.
        await sql`delete from user_search_rows where username_key = 'hidden.agent' and user_id in (select id from users where account_id = ${accountId})`.execute(t.database.db);
        expect(await search(accountId, 'agent')).toEqual(['shown.agent']);
        // Two characters are too few for trigrams: those read the users table itself.
        expect(await search(accountId, 'en')).toEqual(['hidden.agent', 'shown.agent']);
      });

      it('can run its SQLite part again after a start that stopped half-way, changing nothing', async () => {
        const accountId = await tenant(['again.one', 'again.two']);
        await userSearchMigration.up(t.database.db as never);
        // Every user has exactly one search row, none twice (a row taken out by an
        // earlier test is back: the back-fill adds what is missing).
        const rows = await sql<{ users: number; rows: number; distinct: number }>`select (select count(*) from users) as users,
          (select count(*) from user_search_rows) as rows, (select count(distinct user_id) from user_search_rows) as "distinct"`.execute(t.database.db);
        expect(rows.rows[0]).toEqual({ users: rows.rows[0]?.rows, rows: rows.rows[0]?.distinct, distinct: rows.rows[0]?.users });
        expect(await search(accountId, 'again')).toEqual(['again.one', 'again.two']);
        await t.store.users.create(user(accountId, 'again.three'));
        expect(await search(accountId, 'again')).toEqual(['again.one', 'again.three', 'again.two']);
      });

      it("gives each account's users search row ids in the account's own range", async () => {
        const one = await tenant(['ann', 'bob']);
        const two = await tenant(['cat']);
        const rows = await sql<{ n: number; account_id: string }>`select r.n, u.account_id from user_search_rows r join users u on u.id = r.user_id where u.account_id in (${one}, ${two})`.execute(t.database.db);
        for (const row of rows.rows) expect(Math.floor(row.n / SEARCH_ROWS_PER_ACCOUNT)).toBe(Number(row.account_id));
        expect(rows.rows).toHaveLength(3);
      });

      it('refuses a new user when the account has used its whole range, and writes nothing', async () => {
        const accountId = await tenant(['first']);
        const last = (Number(accountId) + 1) * SEARCH_ROWS_PER_ACCOUNT - 1;
        const other = await tenant(['placeholder']);
        // Stand-in for 16,777,216 users: move another user's row to the range's last id.
        await sql`update user_search_rows set n = ${last} where user_id in (select id from users where account_id = ${other})`.execute(t.database.db);
        await expect(t.store.users.create(user(accountId, 'one.too.many'))).rejects.toThrow(/reached its number of users/);
        expect(await t.store.users.findByUsername(accountId, 'one.too.many')).toBeUndefined();
        expect(await search(accountId, 'first')).toEqual(['first']);
      });
    } else {
      it('has the trigram index, and the search query can use it', async () => {
        const db = t.database.db;
        const index = await sql<{ indexdef: string }>`select indexdef from pg_indexes where schemaname = current_schema() and indexname = 'users_username_trgm'`.execute(db);
        expect(index.rows[0]?.indexdef).toMatch(/USING gin \(account_id, username_key \S*gin_trgm_ops\)/);
        const plan = await db.connection().execute(async (conn) => {
          await sql`set enable_seqscan = off`.execute(conn);
          try {
            return await sql<{ 'QUERY PLAN': string }>`explain select id from users where username_key like ${'%agent%'} escape '\\'`.execute(conn);
          } finally {
            await sql`reset enable_seqscan`.execute(conn);
          }
        });
        expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('users_username_trgm');
      });
    }

    it('indexes the users a database had before the index was added', async () => {
      const before = await openUnmigrated(kind);
      try {
        const db = before.database.db;
        const store = createStore(db, kind);
        const schema = before.schema;
        const old = new Migrator({
          db,
          provider: { getMigrations: async () => ({ '001-foundation': foundation, '002-mfa': mfa }) },
          migrationTableName: 'portcullis_migrations',
          migrationLockTableName: 'portcullis_migrations_lock',
          ...(schema ? { migrationTableSchema: schema } : {}),
        });
        expect((await old.migrateToLatest()).error).toBeUndefined();
        await store.accounts.create({ id: '40000001', name: 'Old', mfaEnabled: false, createdAt: NOW });
        for (const key of ['legacy.one', 'legacy.two', 'other']) await store.users.create(user('40000001', key));
        expect((await migrateToLatest(db)).applied).toEqual(['003-user-search']);
        const found = await store.users.list('40000001', { search: 'legacy', limit: 10, offset: 0 });
        expect(found.users.map((u) => u.username)).toEqual(['legacy.one', 'legacy.two']);
      } finally {
        await before.close();
      }
    });
  });
}
