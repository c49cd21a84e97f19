import type { Kysely } from 'kysely';

// Passkey sign-in (issue 14): a sign-in that starts with a passkey has no
// session yet, so its challenge cannot live in webauthn_challenges (bound to a
// session by a foreign key). It is kept here instead, bound to the browser
// that asked for it: `binding` is the SHA-256 of a random token in a
// short-lived cookie of that browser (never the token itself), and
// `account_id` the account it was asked for. Single use (deleted when spent),
// expiring (swept with the sessions).
//
// Only adds: instances of the previous version keep working beside it.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('passkey_challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('binding', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('passkey_challenges_binding').on('passkey_challenges').columns(['binding']).execute();
  await db.schema.createIndex('passkey_challenges_expiry').on('passkey_challenges').columns(['expires_at']).execute();
}
