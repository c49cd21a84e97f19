import { CompiledQuery } from 'kysely';
import type { Compilable, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.ts';

// The statements of every sign-in, built with Kysely's typed builder once per
// dialect and then run with new values: building and compiling a query (an
// immutable tree, frozen node by node, then printed) cost more of the event
// loop than running it on SQLite. The builder code stays the source of truth;
// only the values change between runs.

/** Stands for a value in the one build: `p('id')` where the query takes the id. */
export type Param<P> = <K extends keyof P & string>(name: K) => P[K];

const MARK = '\u0000portcullis-param:';

/** Every SQL text compiled here: a fixed set, which PostgreSQL gets as named prepared statements (postgres-connection.ts). */
export const compiledTexts = new Set<string>();

/**
 * The texts of `deferrableWrite`s: writes whose caller needs neither a result
 * nor an error at the call. Inside a PostgreSQL transaction they wait and go to
 * the server together with the next statement's turn (postgres-connection.ts).
 */
export const deferrableTexts = new Set<string>();

interface Plan<P> {
  sql: string;
  /** Each compiled parameter: a value to take from the call, or a constant of the query. */
  slots: Array<{ name: keyof P & string } | { constant: unknown }>;
}

/**
 * A query compiled on first use for each dialect (SQLite, PostgreSQL) and run
 * afterwards with the values it is called with. The build must not branch on
 * values: it sees only placeholders.
 */
export function compiledOnce<P extends Record<string, unknown>, O>(
  build: (db: Kysely<Database>, p: Param<P>) => Compilable<O>,
  deferrable = false,
): (db: Kysely<Database>, values: P) => Promise<QueryResult<O>> {
  const plans = new Map<unknown, Plan<P>>();
  const placeholder: Param<P> = (name) => `${MARK}${name}` as never;
  return (db, values) => {
    const dialect = db.getExecutor().adapter.constructor;
    let plan = plans.get(dialect);
    if (!plan) {
      const compiled = build(db, placeholder).compile();
      // A placeholder Kysely printed into the text instead of binding it would run as that text.
      if (compiled.sql.includes(MARK)) throw new Error('a placeholder was inlined into the SQL of a compiled query');
      // A deferrable write is joined with others, its $n renumbered: only a plain
      // INSERT, UPDATE or DELETE without literals qualifies.
      if (deferrable) {
        if (writtenTable(compiled.sql) === undefined || /'|\$\$/.test(compiled.sql)) throw new Error(`not a deferrable write: ${compiled.sql.slice(0, 60)}`);
        deferrableTexts.add(compiled.sql);
      }
      compiledTexts.add(compiled.sql);
      plan = {
        sql: compiled.sql,
        slots: compiled.parameters.map((value) =>
          typeof value === 'string' && value.startsWith(MARK) ? { name: value.slice(MARK.length) } : { constant: value },
        ),
      };
      plans.set(dialect, plan);
    }
    const parameters = plan.slots.map((slot) => ('name' in slot ? values[slot.name] : slot.constant));
    return db.executeQuery<O>(CompiledQuery.raw(plan.sql, parameters));
  };
}

/**
 * A compiled INSERT, UPDATE or DELETE that answers nothing. Inside a PostgreSQL
 * transaction it is sent with the next statement (or the commit) instead of on
 * its own: one round trip for several such writes. Its errors then surface
 * from that next statement and abort the transaction, as they would have:
 * after an error a PostgreSQL transaction can only roll back, so no caller
 * could have gone on from one anyway. Only for writes that take no lock the
 * code after them relies on (a row lock is taken when the write runs).
 */
export function deferrableWrite<P extends Record<string, unknown>>(
  build: (db: Kysely<Database>, p: Param<P>) => Compilable<unknown>,
): (db: Kysely<Database>, values: P) => Promise<void> {
  const run = compiledOnce<P, unknown>(build, true);
  return async (db, values) => {
    await run(db, values);
  };
}

/** The table an INSERT, UPDATE or DELETE text writes to (quoted as Kysely prints it); undefined for any other text. */
export function writtenTable(text: string): string | undefined {
  return /^(?:insert into|update|delete from) ("[^"]+"(?:\."[^"]+")?)/i.exec(text)?.[1];
}

/** The number of rows an INSERT, UPDATE or DELETE changed. */
export function changed(result: QueryResult<unknown>): number {
  return Number(result.numAffectedRows ?? 0n);
}
