import { SqliteAdapter } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { Role } from '../../domain/roles.ts';
import type { Account, User, UserState } from '../records.ts';
import type { Database, UsersTable } from '../schema.ts';
import { compiledOnce } from '../compiled.ts';
import { userSearch } from './user-search.ts';
import type { UserListQuery } from './user-search.ts';

export type { MfaFilter, UserListQuery } from './user-search.ts';

export interface NewUser extends User {
  usernameKey: string;
}

const lockRow = compiledOnce<{ accountId: string; userId: string }, { id: string }>((db, p) =>
  db.selectFrom('users').select('id').where('account_id', '=', p('accountId')).where('id', '=', p('userId')).forNoKeyUpdate(),
);

const selectByUsername = compiledOnce<{ accountId: string; usernameKey: string }, Selectable<UsersTable>>((db, p) =>
  db.selectFrom('users').selectAll().where('account_id', '=', p('accountId')).where('username_key', '=', p('usernameKey')),
);

/** The account a sign-in names and, in one statement with it, its user of that name (left joined: none when no such user). */
const selectSignInPair = compiledOnce<
  { accountId: string; usernameKey: string },
  Selectable<UsersTable> & { a_id: string; a_name: string; a_mfa: number; a_created: number }
>((db, p) =>
  db
    .selectFrom('accounts')
    .leftJoin('users', (j) => j.onRef('users.account_id', '=', 'accounts.id').on('users.username_key', '=', p('usernameKey')))
    .selectAll('users')
    .select(['accounts.id as a_id', 'accounts.name as a_name', 'accounts.mfa_enabled as a_mfa', 'accounts.created_at as a_created'])
    .where('accounts.id', '=', p('accountId')),
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
    passwordChangeRequired: row.password_change_required === 1,
    inactiveSince: row.inactive_since ?? null,
  };
}

const markActive = compiledOnce<{ accountId: string; userId: string; now: number }, never>((db, p) =>
  db.updateTable('users').set({ last_active_at: p('now'), inactive_since: null }).where('account_id', '=', p('accountId')).where('id', '=', p('userId')),
);

// Every query takes the account id: there is no way to reach a user without it.
export function userQueries(db: Kysely<Database>) {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  const search = userSearch(db);

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
          // Named only when set: the column's default is 0, and a row written so
          // also fits a schema from before migration 009 (tests that migrate old data).
          ...(user.passwordChangeRequired ? { password_change_required: 1 } : {}),
        })
        .onConflict((oc) => oc.columns(['account_id', 'username_key']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    /** The account and its user of this username key, as a sign-in needs both: one statement instead of two. */
    async findForSignIn(accountId: string, usernameKey: string): Promise<{ account?: Account; user?: User }> {
      const row = (await selectSignInPair(db, { accountId, usernameKey })).rows[0];
      if (!row) return {};
      const account: Account = { id: row.a_id, name: row.a_name, mfaEnabled: row.a_mfa === 1, createdAt: row.a_created };
      // Left joined: the user's columns are all null when the account has no user of that name.
      return (row.id as string | null) === null ? { account } : { account, user: toUser(row) };
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
      const { rows, total } = await search(accountId, query);
      return { users: rows.map(toUser), total };
    },

    /**
     * Replaces the user's password hash with one the user chose, if it is still
     * `expected`; answers whether it did. A password the user chose is never
     * one they must change, so the flag an admin-set password carries goes.
     */
    async setPassword(accountId: string, userId: string, passwordHash: string, now: number, expected: string): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: now, password_change_required: 0 })
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

    /** The account's active admins, by id. */
    async activeAdmins(accountId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('users')
        .select('id')
        .where('account_id', '=', accountId)
        .where('role', '=', 'admin')
        .where('state', '=', 'active')
        .execute();
      return rows.map((r) => r.id);
    },

    /** A sign-in, or an admin enabling the user again: their inactivity starts over (migration 010). */
    async markActive(accountId: string, userId: string, now: number): Promise<void> {
      await markActive(db, { accountId, userId, now });
    },

    /**
     * Disables the account's active users other than admins whose last sign-in
     * (or, for those who never signed in, their creation) is before `cutoff`.
     * One conditional statement: of instances running it at once, each user is
     * disabled, and answered, by one only (the row's state changes once).
     */
    async disableInactive(accountId: string, cutoff: number, now: number): Promise<Array<{ id: string; username: string; inactiveSince: number }>> {
      const rows = await db
        .updateTable('users')
        .set((eb) => ({ state: 'disabled', updated_at: now, inactive_since: eb.fn.coalesce('last_active_at', 'created_at') }))
        .where('account_id', '=', accountId)
        .where('state', '=', 'active')
        .where('role', '!=', 'admin')
        .where((eb) => eb(eb.fn.coalesce('last_active_at', 'created_at'), '<', cutoff))
        .returning(['id', 'username', 'inactive_since'])
        .execute();
      return rows.map((r) => ({ id: r.id, username: r.username, inactiveSince: Number(r.inactive_since ?? 0) }));
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
