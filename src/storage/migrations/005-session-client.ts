import type { Kysely } from 'kysely';

// Where each session was signed in from, for the user's own list of sessions
// ("Your sessions", OWASP ASVS 4.0.3 3.3.4): the client's address and a short
// form of its User-Agent, both as the sign-in saw them.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('client_ip', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('client_agent', 'text').execute();
}
