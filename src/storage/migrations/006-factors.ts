import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Factors as a concept (issue 12): a user may hold several, each of a type,
// with a name and created / last-used times. Every authenticator moves over
// with its sealed secret, last used step and drift, as an authenticator app
// named "Authenticator app"; the one-per-user table goes. The columns of a
// type are null for factors of other types (webauthn adds its own).
//
// Sessions: the enrolment state of a pending sign-in names its factor type
// (it held a TOTP secret only), and each session records how it was
// authenticated (auth_steps: the factors verified and when, JSON), read for
// RFC 8176 amr values and step-up. Existing sessions get the password step at
// their start and, where a second factor was verified, a TOTP step then.
//
// Not safe beside instances of the previous version: they read the dropped
// table. Stop them before migrating (README, "Running several instances").

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('factors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_ip', 'text')
    .addColumn('last_used_at', 'bigint')
    .addColumn('secret_key_id', 'text')
    .addColumn('secret_ciphertext', 'text')
    .addColumn('algorithm', 'text')
    .addColumn('digits', 'integer')
    .addColumn('period', 'integer')
    .addColumn('last_used_step', 'bigint')
    .addColumn('drift_steps', 'integer')
    .execute();
  await db.schema.createIndex('factors_user').on('factors').columns(['account_id', 'user_id']).execute();
  await sql`
    insert into factors (id, account_id, user_id, type, name, created_at, created_ip, last_used_at,
      secret_key_id, secret_ciphertext, algorithm, digits, period, last_used_step, drift_steps)
    select id, account_id, user_id, 'totp', 'Authenticator app', enrolled_at, enrolled_ip, last_used_at,
      secret_key_id, secret_ciphertext, algorithm, digits, period, last_used_step, drift_steps
    from authenticators`.execute(db);
  await db.schema.dropTable('authenticators').execute();

  await db.schema.alterTable('sessions').renameColumn('enrollment_key_id', 'enrolment_key_id').execute();
  await db.schema.alterTable('sessions').renameColumn('enrollment_secret', 'enrolment_state').execute();
  await db.schema.alterTable('sessions').addColumn('enrolment_type', 'text').execute();
  await sql`update sessions set enrolment_type = 'totp' where enrolment_state is not null`.execute(db);
  await db.schema.alterTable('sessions').addColumn('auth_steps', 'text').execute();
  await sql`
    update sessions set auth_steps = case
      when mfa_verified_at is null then '[{"kind":"password","at":' || created_at || '}]'
      else '[{"kind":"password","at":' || created_at || '},{"kind":"totp","at":' || mfa_verified_at || '}]'
    end`.execute(db);
}
