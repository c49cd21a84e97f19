import { SqliteAdapter, sql } from 'kysely';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { MfaStateName } from '../../domain/mfa-state.ts';
import type { Role } from '../../domain/roles.ts';
import type { User, UserState } from '../records.ts';
import { SUFFIX_CHARACTERS } from '../migrations/004-name-suffixes.ts';
import type { Database, UsersTable } from '../schema.ts';
import { compiledOnce } from '../compiled.ts';

export interface NewUser extends User {
  usernameKey: string;
}

export type MfaFilter = MfaStateName;

export interface UserListQuery {
  /** Matches usernames containing this text, case-insensitively. */
  search?: string;
  /** Only users in this MFA state; 'locked' needs now. */
  mfa?: MfaFilter;
  now?: number;
  limit: number;
  offset: number;
}

const lockRow = compiledOnce<{ accountId: string; userId: string }, { id: string }>((db, p) =>
  db.selectFrom('users').select('id').where('account_id', '=', p('accountId')).where('id', '=', p('userId')).forNoKeyUpdate(),
);

const selectByUsername = compiledOnce<{ accountId: string; usernameKey: string }, Selectable<UsersTable>>((db, p) =>
  db.selectFrom('users').selectAll().where('account_id', '=', p('accountId')).where('username_key', '=', p('usernameKey')),
);

function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    accountId: row.account_id,
    username: row.username,
    role: row.role as Role,
    passwordHash: row.password_hash,
    state: row.state as UserState,
    email: row.email,
    createdAt: row.created_at,
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Below this many matches a search sorts the matches it found through the suffix
 * index; from it on, it walks the account's users in name order (docs/performance.md).
 */
const NARROW_AT_MOST = 2000;

// Every query takes the account id: there is no way to reach a user without it.
export function userQueries(db: Kysely<Database>) {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;

  /**
   * The ids of the account's users with a name suffix starting with the text's
   * first SUFFIX_CHARACTERS (migration 004): a range of the suffix B-tree. A user
   * comes once per place the text occurs in the name, so ids may repeat.
   */
  const suffixMatches = (accountId: string, text: string) => {
    const start = [...text].slice(0, SUFFIX_CHARACTERS).join('');
    const end = nextPrefix(start);
    let q = db.selectFrom('user_name_suffixes').select('user_id').where('account_id', '=', accountId).where('suffix', '>=', start);
    if (end !== undefined) q = q.where('suffix', '<', end);
    return q;
  };

  return {
    /** Inserts unless the username is taken in this account; answers whether it was inserted. */
    async create(user: NewUser): Promise<boolean> {
      const result = await db
        .insertInto('users')
        .values({
          id: user.id,
          account_id: user.accountId,
          username: user.username,
          username_key: user.usernameKey,
          role: user.role,
          password_hash: user.passwordHash,
          state: user.state,
          email: user.email,
          created_at: user.createdAt,
          updated_at: user.createdAt,
        })
        .onConflict((oc) => oc.columns(['account_id', 'username_key']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    async findByUsername(accountId: string, usernameKey: string): Promise<User | undefined> {
      const row = (await selectByUsername(db, { accountId, usernameKey })).rows[0];
      return row && toUser(row);
    },

    /**
     * Inside a transaction, on PostgreSQL: locks the user's row until it ends, so
     * the transactions that begin with this (the code step, Reset MFA) take turns
     * for one user. The row always exists, unlike the authenticator a user who is
     * setting up has not got yet. `FOR NO KEY UPDATE` leaves inserts that refer to
     * the user (sessions, audit) free. On SQLite writers take turns anyway.
     */
    async lockForUpdate(accountId: string, userId: string): Promise<void> {
      if (!sqlite) await lockRow(db, { accountId, userId });
    },

    async get(accountId: string, userId: string): Promise<User | undefined> {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('id', '=', userId)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async existingKeys(accountId: string, usernameKeys: string[]): Promise<Set<string>> {
      if (usernameKeys.length === 0) return new Set();
      const rows = await db
        .selectFrom('users')
        .select('username_key')
        .where('account_id', '=', accountId)
        .where('username_key', 'in', usernameKeys)
        .execute();
      return new Set(rows.map((r) => r.username_key));
    },

    async list(accountId: string, query: UserListQuery): Promise<{ users: User[]; total: number }> {
      const text = query.search ? query.search.normalize('NFKC').toLowerCase() : '';
      // Two ways to answer. Narrow: find the users whose names contain the text through
      // the suffix index (migration 004), then sort just those. Walk: go through the
      // account's users in name order, keeping the ones that match. Narrowing is tried
      // first; when it finds too many, the walk, which stops after a page when matches
      // are common, answers instead. The choice is made here: a planner cannot know
      // where in the name order the matches lie (PostgreSQL's walked 90,000 names to
      // find 25 that sort late).
      const narrowing = text !== '';
      /** The account's users that match; on SQLite, "+" can keep the planner off the account's index. */
      const matching = (accountIndex: boolean) => {
        const account = accountIndex || !sqlite ? sql.ref<string>('users.account_id') : sql<string>`+users.account_id`;
        let base = db.selectFrom('users').where(account, '=', accountId);
        if (text) base = base.where(sql<boolean>`username_key like ${`%${escapeLike(text)}%`} escape '\\'`);
        if (query.mfa === 'enrolled' || query.mfa === 'not_enrolled') {
          const enrolled = (eb: ExpressionBuilder<Database, 'users'>) =>
            eb.exists(
              eb.selectFrom('factors').select('factors.id').whereRef('factors.account_id', '=', 'users.account_id').whereRef('factors.user_id', '=', 'users.id'),
            );
          base = base.where((eb) => (query.mfa === 'enrolled' ? enrolled(eb) : eb.not(enrolled(eb))));
        } else if (query.mfa === 'locked') {
          const now = query.now ?? 0;
          base = base.where((eb) =>
            eb.exists(
              eb
                .selectFrom('throttles')
                .select('throttles.subject')
                .where('throttles.scope', '=', 'totp')
                .whereRef('throttles.account_id', '=', 'users.account_id')
                .whereRef('throttles.subject', '=', 'users.id')
                .where('throttles.locked_until', '>', now),
            ),
          );
        }
        return base;
      };
      type Matching = ReturnType<typeof matching>;
      const page = (q: Matching, order: 'name' | 'expression') =>
        q
          .selectAll()
          // Sorting by an expression keeps PostgreSQL from walking the name index.
          .orderBy(order === 'name' ? sql.ref('username_key') : sql`username_key || ''`)
          .limit(query.limit)
          .offset(query.offset)
          .execute();
      const count = async (q: Matching) => Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      if (narrowing) {
        // The suffix index, stopping at the limit.
        const found = await suffixMatches(accountId, text).limit(NARROW_AT_MOST).execute();
        if (found.length === 0) return { users: [], total: 0 };
        if (found.length < NARROW_AT_MOST) {
          const narrowed = matching(false).where('users.id', 'in', [...new Set(found.map((r) => r.user_id))]);
          const [rows, total] = await Promise.all([page(narrowed, 'expression'), count(narrowed)]);
          return { users: rows.map(toUser), total };
        }
      }
      const all = matching(true);
      const [rows, total] = await Promise.all([page(all, 'name'), count(all)]);
      return { users: rows.map(toUser), total };
    },

    /** Replaces the user's password hash if it is still `expected`; answers whether it did. */
    async setPassword(accountId: string, userId: string, passwordHash: string, now: number, expected: string): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: now })
        .where('account_id', '=', accountId)
        .where('id', '=', userId)
        .where('password_hash', '=', expected)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async update(accountId: string, userId: string, changes: { role: Role; state: UserState; email: string | null }, now: number): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ role: changes.role, state: changes.state, email: changes.email, updated_at: now })
        .where('account_id', '=', accountId)
        .where('id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async count(accountId: string): Promise<number> {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

/** The first text after every text that starts with `prefix`, or undefined when there is none. */
export function nextPrefix(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    let last = (points.pop() as number) + 1;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // no surrogates in text
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return undefined;
}
