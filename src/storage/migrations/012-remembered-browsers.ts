import type { Kysely } from 'kysely';

// Remember this browser (issue 15).
//
// account_access_rules.remember_browser_days: how many days a browser may
// skip the code after a successful one; null or 0: off (the default).
//
// remembered_browsers: one row per browser a user chose to remember. Only the
// SHA-256 of the cookie's 256-bit token is kept (a leaked database hands out
// no skipped codes); a row is bound to its account and user, and lives until
// expires_at, or less when the account's setting is lowered (created_at +
// the current days is checked as well). Reset MFA, a password change or
// reset, the user, an admin, and the setting switched off delete rows.
//
// Only adds: instances of the previous version keep working beside it.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('account_access_rules').addColumn('remember_browser_days', 'integer').execute();
  await db.schema
    .createTable('remembered_browsers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('device', 'text')
    .addColumn('ip', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('remembered_browsers_user').on('remembered_browsers').columns(['account_id', 'user_id']).execute();
}
