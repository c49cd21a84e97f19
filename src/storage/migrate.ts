import { Migrator, PostgresAdapter, sql } from 'kysely';
import type { Kysely, MigrationProvider } from 'kysely';
import { migrations } from './migrations/index.ts';
import type { Database } from './schema.ts';

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface MigrateResult {
  applied: string[];
}

/** Whether every migration is recorded already (the common start of a second instance). */
async function upToDate(db: Kysely<Database>): Promise<boolean> {
  try {
    const rows = await sql<{ name: string }>`select name from portcullis_migrations`.execute(db);
    const done = new Set(rows.rows.map((r) => r.name));
    return Object.keys(migrations).every((name) => done.has(name));
  } catch {
    return false; // no migrations table yet
  }
}

/** Brings the schema up to date; throws if a migration fails (nothing half-applied on PostgreSQL). */
/** PostgreSQL errors of a catalog that changed while the migrator read it. */
const RETRIED = new Set(['3F000', '42703', '42P01']);

export async function migrateToLatest(db: Kysely<Database>): Promise<MigrateResult> {
  if (await upToDate(db)) return { applied: [] };
  // The migrator lists the tables and columns of every schema it can see; a
  // schema dropped (3F000), or a column or table dropped (42703, 42P01), by
  // someone else at that moment makes it fail. Such a failure is retried (a
  // real fault of a migration still fails, after the tries: each try rolls back).
  for (let attempt = 1; ; attempt++) {
    try {
      return await runMigrator(db);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!RETRIED.has(code ?? '') || attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

async function runMigrator(db: Kysely<Database>): Promise<MigrateResult> {
  // On PostgreSQL, name the schema the tables go to (the first of search_path):
  // otherwise the migrator would find its table in any other schema and skip creating it.
  const schema = db.getExecutor().adapter instanceof PostgresAdapter
    ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
    : undefined;
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'portcullis_migrations',
    migrationLockTableName: 'portcullis_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
