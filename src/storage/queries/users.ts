import { sql } from 'kysely';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { Role } from '../../domain/roles.ts';
import type { User, UserState } from '../records.ts';
import type { Database, UsersTable } from '../schema.ts';

export interface NewUser extends User {
  usernameKey: string;
}

export type MfaFilter = 'enrolled' | 'not_enrolled' | 'locked';

export interface UserListQuery {
  /** Matches usernames containing this text, case-insensitively. */
  search?: string;
  /** Only users in this MFA state; 'locked' needs now. */
  mfa?: MfaFilter;
  now?: number;
  limit: number;
  offset: number;
}

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

// Every query takes the account id: there is no way to reach a user without it.
export function userQueries(db: Kysely<Database>) {
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
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('username_key', '=', usernameKey)
        .executeTakeFirst();
      return row && toUser(row);
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
      let base = db.selectFrom('users').where('account_id', '=', accountId);
      if (query.search) {
        const pattern = `%${escapeLike(query.search.normalize('NFKC').toLowerCase())}%`;
        base = base.where(sql<boolean>`username_key like ${pattern} escape '\\'`);
      }
      if (query.mfa === 'enrolled' || query.mfa === 'not_enrolled') {
        const enrolled = (eb: ExpressionBuilder<Database, 'users'>) =>
          eb.exists(eb.selectFrom('authenticators').select('authenticators.id').whereRef('authenticators.user_id', '=', 'users.id'));
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
      const [rows, count] = await Promise.all([
        base.selectAll().orderBy('username_key').limit(query.limit).offset(query.offset).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { users: rows.map(toUser), total: Number(count.n) };
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
