import { Kysely, PostgresDialect } from 'kysely';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { compiledTexts, deferrableTexts, writtenTable } from './compiled.ts';
import type { Database } from './schema.ts';

// bigint columns hold epoch milliseconds, well inside Number's safe range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** A write waiting inside a transaction: its text and values as Kysely compiled them. */
export interface Write {
  text: string;
  values: unknown[];
}

interface Wrapped {
  client: PostgresPoolClient;
  /** Called each time the pool hands the connection out. */
  checkedOut(): void;
}

/** What a waiting write answers at once: no rows, no count (`deferrableWrite` returns nothing). */
const DEFERRED = { command: 'DEFERRED', rowCount: null, rows: [] };

/** Joined texts prepared by name per connection, at most: beyond, they run unnamed. */
const MAX_NAMED_BATCHES = 64;

/**
 * Splits waiting writes, in order, into runs that each write to different
 * tables: the clauses of one statement share a snapshot and cannot see each
 * other's rows, so two writes to one table (the same row, perhaps) stay in
 * order in separate statements.
 */
export function batchesOf(writes: Write[]): Write[][] {
  const batches: Write[][] = [];
  let tables = new Set<string>();
  for (const write of writes) {
    const table = writtenTable(write.text);
    if (table === undefined) throw new Error(`not a deferrable write: ${write.text.slice(0, 40)}`);
    const last = batches[batches.length - 1];
    if (!last || tables.has(table)) {
      batches.push([write]);
      tables = new Set([table]);
    } else {
      last.push(write);
      tables.add(table);
    }
  }
  return batches;
}

/** Writes as one statement: `with w1 as (…), w2 as (…) select 1`, their parameters renumbered in turn. */
export function joinWrites(writes: Write[]): Write {
  const values: unknown[] = [];
  const clauses = writes.map((write, i) => {
    const offset = values.length;
    values.push(...write.values);
    return `w${i + 1} as (${write.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
  });
  return { text: `with ${clauses.join(', ')} select 1`, values };
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
 *
 * Inside a transaction, the writes `deferrableWrite` marks wait until the next
 * statement of any other kind, or the commit, and are sent first, together:
 * the writes in a row that touch different tables as one statement of
 * data-modifying `with` clauses (each runs once and to completion), so that the
 * end of a sign-in (the throttle cleared, the session inserted, the event
 * audited) costs the loop one round trip instead of three. Every other
 * statement still sees every write made before it; a rollback drops the waiting
 * ones.
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
  // The joined texts of waiting writes: as fixed a set as the code paths that make them.
  const batches = new Map<string, string>();
  const batchName = (text: string): string | undefined => {
    let name = batches.get(text);
    if (name === undefined && batches.size < MAX_NAMED_BATCHES) {
      name = `portcullis_batch_${batches.size + 1}`;
      batches.set(text, name);
    }
    return name;
  };
  const clients = new WeakMap<pg.PoolClient, Wrapped>();
  const wrap = (client: pg.PoolClient): Wrapped => {
    let inTransaction = false;
    let waiting: Write[] = [];
    /**
     * Sends the waiting writes, in order. Nothing comes in between: Kysely runs
     * one query at a time on a transaction's connection (its single-connection
     * provider waits for the one before), and this runs inside that query's turn.
     */
    const flush = async () => {
      const writes = waiting;
      waiting = [];
      for (const batch of batchesOf(writes)) {
        const { text, values } = batch.length === 1 ? (batch[0] as Write) : joinWrites(batch);
        await client.query({ name: batch.length === 1 ? nameOf(text) : batchName(text), text, values });
      }
    };
    const query = async (text: string, values: unknown[]) => {
      if (/^(begin|start transaction)\b/i.test(text)) {
        inTransaction = true;
        waiting = [];
      } else if (/^rollback\b(?!\s+to\b)/i.test(text)) {
        inTransaction = false;
        waiting = [];
      } else if (/^rollback to\b/i.test(text)) {
        // Sending `savepoint` sent every write before it: the ones waiting came
        // after the latest savepoint, so this rollback would undo them all.
        waiting = [];
      } else if (inTransaction && deferrableTexts.has(text)) {
        waiting.push({ text, values });
        return DEFERRED;
      } else {
        if (waiting.length > 0) await flush();
        if (/^commit\b/i.test(text)) inTransaction = false;
      }
      return send(text, values);
    };
    const send = async (text: string, values: unknown[]) => {
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
      client: {
        // Anything else (a cursor) goes after the waiting writes too.
        query: ((text: unknown, values?: ReadonlyArray<unknown>) =>
          typeof text === 'string' ? query(text, [...(values ?? [])]) : flush().then(() => client.query(text as never))) as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client.release(destroy),
      },
      // A connection comes out of the pool outside any transaction, even if its
      // last user's `begin` failed and no rollback followed: nothing may wait.
      checkedOut() {
        inTransaction = false;
        waiting = [];
      },
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
      wrapped.checkedOut();
      return wrapped.client;
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
