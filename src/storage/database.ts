import type { Kysely } from 'kysely';
import { openPostgres } from './postgres-connection.ts';
import type { PostgresOptions } from './postgres-connection.ts';
import { openSqlite } from './sqlite-connection.ts';
import type { SqliteOptions } from './sqlite-connection.ts';
import type { Database } from './schema.ts';

// What opening a database takes and gives, whichever the URL names. The
// connections (sqlite-connection.ts, postgres-connection.ts) and the migrations
// (migrate.ts) are modules of their own; the two below are re-exported so that
// "open, then migrate" is imported from one place.
export { migrateToLatest } from './migrate.ts';
export type { MigrateResult } from './migrate.ts';
export { sqlitePath } from './sqlite-connection.ts';
export { startCheckpointer } from './checkpointer.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where an embedded database keeps its files; undefined for PostgreSQL. */
  dataDir: string | undefined;
  close(): Promise<void>;
}

/** PostgreSQL's pool and schema; SQLite's checkpointing (everything else is in its URL). */
export type OpenOptions = PostgresOptions & SqliteOptions;

/** Opens the database a `sqlite:PATH` or `postgres://…` URL names. */
export function openDatabase(url: string, options: OpenOptions = {}): OpenDatabase {
  if (url.startsWith('sqlite:')) return { ...openSqlite(url, { checkpoint: options.checkpoint }), dialect: 'sqlite' };
  return { ...openPostgres(url, options), dialect: 'postgres', dataDir: undefined };
}
