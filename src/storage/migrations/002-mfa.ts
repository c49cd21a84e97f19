import type { Kysely } from 'kysely';

// TOTP authenticators, recovery codes, and the pending enrolment secret of a sign-in.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('authenticators')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    // At most one per user: a second enrolment racing the first fails on this key.
    .addColumn('user_id', 'text', (c) => c.notNull().unique().references('users.id').onDelete('cascade'))
    .addColumn('secret_key_id', 'text', (c) => c.notNull())
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('digits', 'integer', (c) => c.notNull())
    .addColumn('period', 'integer', (c) => c.notNull())
    .addColumn('last_used_step', 'bigint', (c) => c.notNull())
    .addColumn('drift_steps', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enrolled_at', 'bigint', (c) => c.notNull())
    .addColumn('enrolled_ip', 'text')
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('authenticators_account').on('authenticators').columns(['account_id', 'user_id']).execute();

  await db.schema
    .createTable('recovery_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('recovery_codes_user').on('recovery_codes').columns(['account_id', 'user_id']).execute();

  await db.schema.alterTable('sessions').addColumn('enrollment_key_id', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('enrollment_secret', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('enrollment_secret').execute();
  await db.schema.alterTable('sessions').dropColumn('enrollment_key_id').execute();
  await db.schema.dropTable('recovery_codes').execute();
  await db.schema.dropTable('authenticators').execute();
}
