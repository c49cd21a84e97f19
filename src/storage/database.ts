import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Migration, MigrationProvider, PostgresPool, PostgresPoolClient, SqliteDatabase as SqliteDatabaseLike } from 'kysely';
import pg from 'pg';
import { startCheckpointer } from './checkpointer.ts';
import { compiledTexts } from './compiled.ts';
import type { Checkpointer } from './checkpointer.ts';
import * as foundation from './migrations/001-foundation.ts';
import * as mfa from './migrations/002-mfa.ts';
import * as userSearch from './migrations/003-user-search.ts';
import * as nameSuffixes from './migrations/004-name-suffixes.ts';
import * as sessionClient from './migrations/005-session-client.ts';
import * as factors from './migrations/006-factors.ts';
import type { Database } from './schema.ts';

// bigint columns hold epoch milliseconds, well inside Number's safe range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Dialect = 'sqlite' | 'postgres';

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where an embedded database keeps its files; undefined for PostgreSQL. */
  dataDir: string | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
  poolSize?: number;
}

export function sqlitePath(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
}

/** Statements kept prepared per connection; Kysely asks for each query's anew. */
const STATEMENT_CACHE_SIZE = 200;

/**
 * The SQLite connection as Kysely sees it, keeping prepared statements for reuse:
 * preparing took a fifth of the event loop's time in the benchmark. Queries are
 * parameterised, so the same text comes back with new values. Kysely runs one
 * query at a time on the connection and never iterates, so a statement is never
 * in use twice at once.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDatabaseLike {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(query: string) {
      // Kysely begins SQLite transactions DEFERRED: one that reads before it writes
      // then fails at once (SQLITE_BUSY_SNAPSHOT, "database is locked") if another
      // process (a CLI command beside the server) committed in between; the busy
      // timeout never applies. IMMEDIATE takes the write lock at the start, and
      // waits for it like any other statement.
      const text = query === 'begin' ? 'begin immediate' : query;
      let statement = cache.get(text);
      if (statement) {
        // Most recently used last, so the first key is the one to evict.
        cache.delete(text);
      } else {
        statement = sqlite.prepare(text);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, statement);
      return statement;
    },
  };
}

/**
 * The PostgreSQL pool as Kysely sees it, sending the sign-in's statements (the
 * fixed set `compiledOnce` makes) as named prepared statements: the server
 * parses and plans each once per connection instead of on every call (unnamed
 * statements were about half of the database's CPU in the benchmark).
 * node-postgres keeps the names per connection. Everything else — searches
 * whose best plan depends on the text, id lists of any length, schema changes
 * — runs unnamed.
 *
 * A `select *` prepared before another instance's migration added a column
 * fails with "cached plan must not change result type" (0A000). From then on
 * that statement runs unnamed on every connection of the pool: at once, out of
 * a transaction; inside one (which the error has aborted) the error is marked
 * as a stale statement, and `Store.transaction` runs the transaction again.
 */
function withNamedStatements(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && compiledTexts.has(text)) {
      name = `portcullis_${names.size + 1}`;
      names.set(text, name);
    }
    return name;
  };
  // Shared by the pool: a retried transaction may get another connection.
  const stale = new Set<string>();
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let inTransaction = false;
    const query = async (text: string, values: unknown[]) => {
      if (/^(begin|start transaction)\b/i.test(text)) inTransaction = true;
      else if (/^(commit|rollback)\b(?!\s+to\b)/i.test(text)) inTransaction = false; // not `rollback to savepoint`
      const name = nameOf(text);
      if (!name || stale.has(name)) return client.query({ text, values });
      try {
        return await client.query({ name, text, values });
      } catch (error) {
        if ((error as { code?: string }).code !== '0A000') throw error;
        stale.add(name);
        if (inTransaction) throw Object.assign(error as Error, { staleStatement: true });
        return client.query({ text, values });
      }
    };
    return {
      query: ((text: unknown, values?: ReadonlyArray<unknown>) =>
        typeof text === 'string' ? query(text, [...(values ?? [])]) : client.query(text as never)) as unknown as PostgresPoolClient['query'],
      release: (destroy?: boolean) => client.release(destroy),
    };
  };
  return {
    async connect() {
      const client = await pool.connect();
      let wrapped = clients.get(client);
      if (!wrapped) {
        wrapped = wrap(client);
        clients.set(client, wrapped);
      }
      return wrapped;
    },
    end: () => pool.end(),
  };
}

/** Opens the database a `sqlite:PATH` or `postgres://…` URL names. */
export function openDatabase(url: string, options: OpenOptions = {}): OpenDatabase {
  if (url.startsWith('sqlite:')) {
    const path = sqlitePath(url);
    const inMemory = path === ':memory:';
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
    const sqlite = new SqliteDatabase(path);
    // First: every statement after it, the pragmas included, waits for a lock
    // another connection (the checkpointer's, another process's) holds a moment.
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('journal_mode = WAL');
    // NORMAL is durable across application crashes in WAL mode; a power loss may
    // lose the last transactions but never corrupts the file.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // 64 MiB of page cache instead of the default 2 MiB: the B-trees a sign-in and
    // a search walk in an account of 100,000 users then stay in memory instead of
    // being read back through the kernel (docs/performance.md, Growth).
    sqlite.pragma('cache_size = -65536');
    // Checkpoints sync the disk: a thread of their own does them (checkpointer.ts).
    let checkpointer: Checkpointer | undefined;
    if (!inMemory) {
      sqlite.pragma('wal_autocheckpoint = 0');
      checkpointer = startCheckpointer(resolve(path), () => sqlite.pragma('wal_autocheckpoint = 1000'));
    }
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    return {
      db,
      dialect: 'sqlite',
      dataDir: inMemory ? undefined : dirname(resolve(path)),
      close: async () => {
        await checkpointer?.stop();
        await db.destroy();
      },
    };
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
  return { db, dialect: 'postgres', dataDir: undefined, close: () => db.destroy() };
}

const migrations: Record<string, Migration> = {
  '001-foundation': foundation,
  '002-mfa': mfa,
  '003-user-search': userSearch,
  '004-name-suffixes': nameSuffixes,
  '005-session-client': sessionClient,
  '006-factors': factors,
};

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
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrateResult> {
  if (await upToDate(db)) return { applied: [] };
  // The migrator lists the tables of every schema it can see; a schema dropped by
  // someone else at that moment makes it fail (3F000). Such a failure is retried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await runMigrator(db);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== '3F000' || attempt >= 5) throw error;
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
