import type { Kysely } from 'kysely';

// Passwords an admin sets, and the links that let a user set their own
// (issue 15).
//
// users.password_change_required: 1 while the password is one an admin chose
// (Add user, `user create`, `user import`); the user must choose their own at
// the first sign-in before anything else. Existing users keep 0: their
// passwords were set before the rule and nobody can tell by whom.
//
// password_resets: at most one live Reset password link per user (the
// primary key): issuing a new one replaces the row, so a link issued before
// it matches nothing. Only the SHA-256 of the link's 256-bit token is kept
// (OWASP Forgot Password Cheat Sheet: store tokens hashed); using it deletes
// the row in the statement that checks it, so a link works once.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('password_change_required', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('password_resets')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('password_resets_pk', ['account_id', 'user_id'])
    .execute();
}
