import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/storage/database.ts';
import * as foundation from '../../src/storage/migrations/001-foundation.ts';
import * as mfa from '../../src/storage/migrations/002-mfa.ts';
import * as nameSuffixMigration from '../../src/storage/migrations/004-name-suffixes.ts';
import { SUFFIX_CHARACTERS } from '../../src/storage/migrations/004-name-suffixes.ts';
import { nextPrefix } from '../../src/storage/queries/user-search.ts';
import type { NewUser } from '../../src/storage/queries/users.ts';
import { createStore } from '../../src/storage/store.ts';
import { openTestDatabase, openUnmigrated, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';
import { runs, SEED } from '../fuzz/fuzz-support.ts';

// The user list's part-of-name search is served by an index of name suffixes
// (migration 004, a B-tree on both stores). These tests hold its answers to a
// plain JavaScript filter, and show the index is there, used, and kept in step
// with the users table.

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);
const newId = () => randomBytes(16).toString('hex');
let accounts = 0;
const nextAccountId = () => String(30_000_000 + ++accounts);
/** What the application stores as a username's key, and searches with. */
const normal = (text: string) => text.normalize('NFKC').toLowerCase();

function user(accountId: string, key: string): NewUser {
  return { id: newId(), accountId, username: key, usernameKey: key, role: 'agent', passwordHash: '$argon2id$x', state: 'active', email: null, createdAt: NOW, passwordChangeRequired: false };
}

// Few letters, so names share trigrams; and the characters a query could trip on.
const LETTERS = ['a', 'b', 'c', 'ab', 'abc', '_', '%', '"', "'", '\\', '*', ' ', 'ä', 'ß', '猫', '\u0307'];
const text = (min: number, max: number) => fc.array(fc.constantFrom(...LETTERS), { minLength: min, maxLength: max }).map((parts) => parts.join(''));

for (const kind of await storeKinds()) {
  // Hundreds of cases a property (thousands of rows for the search): the default 30 s is too tight a
  // bound on a busy two-core machine (a CI run beside other work took 30 s for one).
  describe(`user search index on ${kind}`, { timeout: 120_000 }, () => {
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

    const suffixRows = async (accountId: string) =>
      (await sql<{ suffix: string }>`select suffix from user_name_suffixes where account_id = ${accountId} order by suffix`.execute(t.database.db)).rows.map((r) => r.suffix);

    it('finds a user created after the index was made, and forgets one whose account is deleted', async () => {
      const accountId = await tenant(['first.user']);
      await t.store.users.create(user(accountId, 'second.user'));
      expect(await search(accountId, 'user')).toEqual(['first.user', 'second.user']);
      await sql`delete from accounts where id = ${accountId}`.execute(t.database.db);
      expect(await search(accountId, 'user')).toEqual([]);
      expect(await suffixRows(accountId)).toEqual([]);
    });

    it('finds a renamed user by the new name only, and keeps no suffix of the old one', async () => {
      const accountId = await tenant(['old.name']);
      await sql`update users set username_key = 'new.name', username = 'new.name' where account_id = ${accountId}`.execute(t.database.db);
      expect(await search(accountId, 'new.n')).toEqual(['new.name']);
      expect(await search(accountId, 'old.n')).toEqual([]);
      expect(await suffixRows(accountId)).toEqual(['.name', 'ame', 'e', 'ew.name', 'me', 'name', 'new.name', 'w.name']);
    });

    if (kind === 'postgres') {
      it('keeps the suffixes of a user renamed from a session with another search_path (psql, a maintenance job)', async () => {
        const accountId = await tenant(['psql.before']);
        await t.database.db.connection().execute(async (conn) => {
          await sql`set search_path = public`.execute(conn);
          try {
            await sql`update ${sql.id(t.schema as string, 'users')} set username_key = 'psql.after', username = 'psql.after' where account_id = ${accountId}`.execute(conn);
          } finally {
            await sql`set search_path = ${sql.id(t.schema as string)}`.execute(conn);
          }
        });
        expect(await search(accountId, 'after')).toEqual(['psql.after']);
        expect(await search(accountId, 'before')).toEqual([]);
      });
    }

    it('stores each suffix once, cut to the stored length, and finds texts longer than that by their start', async () => {
      const long = 'customer.service.agent.0001';
      const alike = 'customer.service.agent.0002';
      const accountId = await tenant([long, alike, 'aaaaaaaaaaaaaaaaaaaa']);
      const rows = await suffixRows(accountId);
      expect(Math.max(...rows.map((r) => [...r].length))).toBe(SUFFIX_CHARACTERS);
      // Twenty a's: five starting places give the same cut suffix, stored once.
      expect(rows.filter((r) => /^a+$/.test(r))).toHaveLength(SUFFIX_CHARACTERS);
      expect(await search(accountId, 'customer.service.agent.0001')).toEqual([long]);
      expect(await search(accountId, 'service.agent.000')).toEqual([long, alike]);
      expect(await search(accountId, 'service.agent.0002')).toEqual([alike]);
      expect(await search(accountId, 'service.agent.0003')).toEqual([]);
      expect(await search(accountId, 'aaaaaaaaaaaaaaaaaaaa')).toEqual(['aaaaaaaaaaaaaaaaaaaa']);
      expect(await search(accountId, 'aaaaaaaaaaaaaaaaaaaaa')).toEqual([]);
    });

    it('answers from the suffix index: a user whose rows are missing from it is not found', async () => {
      const accountId = await tenant(['hidden.agent', 'shown.agent']);
      // Take one user out of the index behind the application's back.
      await sql`delete from user_name_suffixes where user_id in (select id from users where account_id = ${accountId} and username_key = 'hidden.agent')`.execute(t.database.db);
      expect(await search(accountId, 'agent')).toEqual(['shown.agent']);
      expect(await search(accountId, 'en')).toEqual(['shown.agent']);
    });

    it('reads the suffix index by range (the plan names it, not a scan of the table)', async () => {
      const db = t.database.db;
      if (kind === 'sqlite') {
        const plan = await sql<{ detail: string }>`explain query plan select user_id from user_name_suffixes where account_id = ${'30000001'} and suffix >= ${'agent'} and suffix < ${'agenu'}`.execute(db);
        expect(plan.rows.map((r) => r.detail).join('\n')).toMatch(/SEARCH user_name_suffixes USING PRIMARY KEY \(account_id=\? AND suffix>\? AND suffix<\?\)/);
      } else {
        const plan = await db.connection().execute(async (conn) => {
          await sql`set enable_seqscan = off`.execute(conn);
          try {
            return await sql<{ 'QUERY PLAN': string }>`explain select user_id from user_name_suffixes where account_id = ${'30000001'} and suffix >= ${'agent'} and suffix < ${'agenu'}`.execute(conn);
          } finally {
            await sql`reset enable_seqscan`.execute(conn);
          }
        });
        const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(text).toMatch(/Index (Only )?Scan using user_name_suffixes_pkey/);
        expect(text).toMatch(/suffix >= 'agent'::text\) AND \(suffix < 'agenu'::text/);
        // The trigram index of migration 003 is gone: nothing else to keep up to date.
        const old = await sql`select 1 from pg_indexes where schemaname = current_schema() and indexname = 'users_username_trgm'`.execute(db);
        expect(old.rows).toEqual([]);
      }
    });

    if (kind === 'sqlite') {
      it('can run its SQLite part again after a start that stopped half-way, changing nothing', async () => {
        const accountId = await tenant(['again.one', 'again.two']);
        const before = await suffixRows(accountId);
        await nameSuffixMigration.up(t.database.db as never);
        expect(await suffixRows(accountId)).toEqual(before);
        expect(await search(accountId, 'again')).toEqual(['again.one', 'again.two']);
        await t.store.users.create(user(accountId, 'again.three'));
        expect(await search(accountId, 'again')).toEqual(['again.one', 'again.three', 'again.two']);
        const old = await sql`select name from sqlite_master where name like 'user_search%'`.execute(t.database.db);
        expect(old.rows).toEqual([]);
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
        expect((await migrateToLatest(db)).applied).toEqual(['003-user-search', '004-name-suffixes', '005-session-client', '006-factors', '007-oidc', '008-webauthn', '009-password-resets', '010-access-rules', '011-factor-policy', '012-remembered-browsers', '013-passkey-challenges']);
        const found = await store.users.list('40000001', { search: 'legacy', limit: 10, offset: 0 });
        expect(found.users.map((u) => u.username)).toEqual(['legacy.one', 'legacy.two']);
      } finally {
        await before.close();
      }
    });
  });
}

describe('nextPrefix (the end of a prefix range)', () => {
  it('is the first text after every text that starts with the prefix', () => {
    expect(nextPrefix('abc')).toBe('abd');
    expect(nextPrefix('agent9')).toBe('agent:');
    expect(nextPrefix('a\u{10FFFF}')).toBe('b');
    expect(nextPrefix('a\uD7FF')).toBe('a\uE000');
    expect(nextPrefix('猫')).toBe('猬');
    expect(nextPrefix('\u{10FFFF}')).toBeUndefined();
    expect(nextPrefix('')).toBeUndefined();
  });
});
