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

export async function openSqlite(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const url = `sqlite:${join(dir, 'portcullis.db')}`;
  const database = openDatabase(url);
  await migrateToLatest(database.db);
  return {
    name: 'sqlite',
    url,
    database,
    store: createStore(database.db, 'sqlite'),
    close: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh schema of its own on the real server, dropped on close. */
export async function openPostgres(): Promise<TestDatabase> {
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const database = openDatabase(POSTGRES_URL, { schema, poolSize: 5 });
  await migrateToLatest(database.db);
  return {
    name: 'postgres',
    url: POSTGRES_URL,
    database,
    store: createStore(database.db, 'postgres'),
    schema,
    close: async () => {
      await database.close();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

/** The stores a contract test runs on: SQLite always, PostgreSQL when it answers (always in CI). */
export async function storeKinds(): Promise<Array<'sqlite' | 'postgres'>> {
  return (await hasPostgres()) ? ['sqlite', 'postgres'] : ['sqlite'];
}

export function openTestDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  return kind === 'sqlite' ? openSqlite() : openPostgres();
}
