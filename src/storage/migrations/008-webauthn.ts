import type { Kysely } from 'kysely';

// Security keys and passkeys (issue 14): a factor of type `webauthn` keeps its
// credential id (base64url, as the browser reports it), its COSE public key
// (base64url), the signature counter it last reported and its transports
// (JSON list), beside the name and times every factor has. A credential id is
// unique within an account (logto: uniqueness per tenant); lookups always
// name the account and the user too.
//
// A ceremony's challenge is kept server-side, bound to the (pending) session
// that asked for it: single use (deleted when spent), expiring, and gone with
// its session (foreign key, on delete cascade).

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('factors').addColumn('credential_id', 'text').execute();
  await db.schema.alterTable('factors').addColumn('public_key', 'text').execute();
  await db.schema.alterTable('factors').addColumn('sign_count', 'bigint').execute();
  await db.schema.alterTable('factors').addColumn('transports', 'text').execute();
  await db.schema.createIndex('factors_credential').on('factors').columns(['account_id', 'credential_id']).unique().execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webauthn_challenges_session').on('webauthn_challenges').columns(['session_id']).execute();
}
