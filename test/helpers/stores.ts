import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest, openDatabase } from '../../src/storage/database.ts';
import type { OpenDatabase } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import type { Store } from '../../src/storage/store.ts';

/** The PostgreSQL server the tests use: the machine's own, trust auth, database "test". */
export const POSTGRES_URL = process.env.PORTCULLIS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  url: string;
  database: OpenDatabase;
  store: Store;
  /** For PostgreSQL, the schema this test file owns. */
  schema?: string;
  close(): Promise<void>;
}

let postgresReachable: Promise<boolean> | undefined;

/**
 * Whether PostgreSQL answers. In CI it must: .ci/run starts it, and a
 * silently skipped store would hide a broken half of the product.
 */
export function hasPostgres(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (error) {
      if (process.env.CI) throw new Error(`PostgreSQL is required in CI and is not reachable at ${POSTGRES_URL}: ${String(error)}`);
      return false;
    }
  })();
  return postgresReachable;
}

/** Runs one statement on the test server on a connection of its own (schemas come and go this way). */
export async function onPostgres(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

/** An empty database of its own: a SQLite file in a temporary folder, or a fresh schema on the real server; removed on close. */
export async function openUnmigrated(kind: 'sqlite' | 'postgres'): Promise<Omit<TestDatabase, 'store'>> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
    const url = `sqlite:${join(dir, 'portcullis.db')}`;
    const database = openDatabase(url);
    return {
      name: 'sqlite',
      url,
      database,
      close: async () => {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await onPostgres(`create schema ${schema}`);
  const database = openDatabase(POSTGRES_URL, { schema, poolSize: 5 });
  return {
    name: 'postgres',
    url: POSTGRES_URL,
    database,
    schema,
    close: async () => {
      await database.close();
      await onPostgres(`drop schema ${schema} cascade`);
    },
  };
}

/** The stores a contract test runs on: SQLite always, PostgreSQL when it answers (always in CI). */
export async function storeKinds(): Promise<Array<'sqlite' | 'postgres'>> {
  return (await hasPostgres()) ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A migrated database of its own, with the store over it. */
export async function openTestDatabase(kind: 'sqlite' | 'postgres', beforeMigrate?: (database: OpenDatabase) => Promise<void>): Promise<TestDatabase> {
  const opened = await openUnmigrated(kind);
  if (beforeMigrate) await beforeMigrate(opened.database);
  await migrateToLatest(opened.database.db);
  return { ...opened, store: createStore(opened.database.db, kind) };
}
