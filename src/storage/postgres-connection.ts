import { Kysely, PostgresDialect } from 'kysely';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { compiledTexts } from './compiled.ts';
import type { Database } from './schema.ts';

// bigint columns hold epoch milliseconds, well inside Number's safe range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

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

export interface PostgresOptions {
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
  poolSize?: number;
}

/** Opens a pool to the PostgreSQL database a `postgres://…` URL names. */
export function openPostgres(url: string, options: PostgresOptions = {}): { db: Kysely<Database>; close(): Promise<void> } {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
  return { db, close: () => db.destroy() };
}
