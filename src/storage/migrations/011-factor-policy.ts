import type { Kysely } from 'kysely';

// Which second factors an account allows, and whether its admins must use a
// security key or passkey (issue 14): two columns of Account Access Control's
// rules. allowed_factors lists the kinds, comma-separated (domain/factor-policy.ts).
//
// Only adds, with defaults that keep today's behaviour: instances of the
// previous version keep working beside it.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('account_access_rules').addColumn('allowed_factors', 'text', (c) => c.notNull().defaultTo('totp,webauthn')).execute();
  await db.schema.alterTable('account_access_rules').addColumn('admins_need_key', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
