import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { SqliteDatabase as SqliteDatabaseLike } from 'kysely';
import { startCheckpointer } from './checkpointer.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { Database } from './schema.ts';

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

export interface SqliteConnection {
  db: Kysely<Database>;
  /** The folder of the database file; undefined in memory. */
  dataDir: string | undefined;
  close(): Promise<void>;
}

export interface SqliteOptions {
  /**
   * Who checkpoints the file. 'own' (the default): a thread of this connection's
   * process. 'external': nobody here; the connection only writes to the WAL and
   * another party checkpoints it — the primary of `portcullis serve --workers N`,
   * which runs the one checkpointer for all its workers (src/cluster.ts).
   */
  checkpoint?: 'own' | 'external';
}

/** Opens the SQLite database a `sqlite:PATH` URL names (`sqlite::memory:` for one in memory). */
export function openSqlite(url: string, options: SqliteOptions = {}): SqliteConnection {
  const path = sqlitePath(url);
  const inMemory = path === ':memory:';
  if (!inMemory) {
    // The file holds password and recovery-code hashes, e-mail addresses and
    // the audit log: readable by the service's user only (issue 16, finding 5).
    // A folder made here is 0700; the file is made 0600 before SQLite opens it,
    // and SQLite gives its -wal and -shm files the database file's mode.
    mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
  }
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
  if (!inMemory) sqlite.pragma('wal_autocheckpoint = 0');
  if (!inMemory && options.checkpoint !== 'external') {
    checkpointer = startCheckpointer(resolve(path), () => sqlite.pragma('wal_autocheckpoint = 1000'));
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    dataDir: inMemory ? undefined : dirname(resolve(path)),
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}
