import type { Kysely } from 'kysely';

// Account Access Control's sign-in rules (issue 15), in a table of their own
// (one row per account, absent until an admin saves one): the allowed
// address ranges (JSON, [{ cidr, label }]) and whom they apply to, the
// account's login policy (null: the service's own value), and the inactivity
// rule (inactive_days; inactive_from is when it was switched on, the earliest
// a user's inactivity counts from).
//
// Users: last_active_at is the last sign-in (or re-enabling by an admin),
// inactive_since is set when the inactivity job disabled the user (the time
// their inactivity began) and cleared when they are enabled again.
//
// Only adds: instances of the previous version keep working beside it.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_access_rules')
    .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id').onDelete('cascade'))
    .addColumn('ranges', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('applies_to', 'text', (c) => c.notNull().defaultTo('everyone'))
    .addColumn('min_password_length', 'integer')
    .addColumn('lock_after_failures', 'integer')
    .addColumn('idle_timeout_ms', 'bigint')
    .addColumn('absolute_timeout_ms', 'bigint')
    .addColumn('inactive_days', 'integer')
    .addColumn('inactive_from', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('users').addColumn('last_active_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('inactive_since', 'bigint').execute();
}
