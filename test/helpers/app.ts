import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadSettings } from '../../src/config/settings.ts';
import type { Settings } from '../../src/config/settings.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import type { Deps } from '../../src/services/deps.ts';
import { createPasswordHasher } from '../../src/services/passwords.ts';
import type { PasswordHasher } from '../../src/services/passwords.ts';
import type { Notice } from '../../src/services/notifier.ts';
import { createSecretBox } from '../../src/services/secret-box.ts';
import type { SecretBox } from '../../src/services/secret-box.ts';
import type { OpenDatabase } from '../../src/storage/database.ts';
import { createMetrics } from '../../src/services/metrics.ts';
import { createLogger, systemRandom } from '../../src/runtime.ts';
import { TestClock } from './clock.ts';
import { openTestDatabase } from './stores.ts';
import type { TestDatabase } from './stores.ts';
import { Writable } from 'node:stream';

/** Cheap argon2id parameters for tests: the same code path, a fraction of the cost. */
export const TEST_ENV = { PORTCULLIS_ARGON2_MEMORY_KIB: '1024', PORTCULLIS_ARGON2_ITERATIONS: '1', PORTCULLIS_LOG_LEVEL: 'info' };

/** Collects every log line, so tests can check nothing secret was logged. */
export class LogSink extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  get text() {
    return this.lines.join('');
  }
}

export interface TestApp {
  app: FastifyInstance;
  deps: Deps;
  clock: TestClock;
  db: TestDatabase;
  logs: LogSink;
  settings: Settings;
  /** Every notification the app sent, in order. */
  notices: Notice[];
  close(): Promise<void>;
}

/** Runs on the database before the migrations to the latest schema: a test that starts from an older schema fills it here. */
export type BeforeMigrate = (database: OpenDatabase, tools: { secrets: SecretBox; hasher: PasswordHasher }) => Promise<void>;

export async function buildTestApp(
  kind: 'sqlite' | 'postgres' = 'sqlite',
  env: Record<string, string> = {},
  beforeMigrate?: BeforeMigrate,
): Promise<TestApp> {
  const settings = loadSettings({ ...TEST_ENV, ...env });
  // A key of its own, or the one given (a CLI process beside the app needs the same).
  const keys = parseKeyRing(env.PORTCULLIS_SECRET_KEY ?? `test:${randomBytes(32).toString('base64')}`);
  const secrets = createSecretBox(keys, systemRandom);
  const hasher = createPasswordHasher(settings.password);
  const db = await openTestDatabase(kind, beforeMigrate && ((database) => beforeMigrate(database, { secrets, hasher })));
  const clock = new TestClock();
  const logs = new LogSink();
  const logger = createLogger(settings, logs);
  const notices: Notice[] = [];
  const deps: Deps = {
    store: db.store,
    settings,
    clock,
    random: systemRandom,
    hasher,
    logger,
    secrets,
    notifier: { notify: async (notice) => void notices.push(notice) },
    metrics: createMetrics(),
  };
  const app = await buildApp({ deps, keys });
  await app.ready();
  return {
    app,
    deps,
    clock,
    db,
    logs,
    settings,
    notices,
    close: async () => {
      await app.close();
      await deps.hasher.close();
      await db.close();
    },
  };
}

/**
 * Runs fn with the app's password hasher swapped (by default for one whose
 * threads are gone, as after a lost hashing thread), then puts the real one back.
 */
export async function withHasher<T>(t: TestApp, fn: () => Promise<T>, swap?: (working: PasswordHasher) => PasswordHasher): Promise<T> {
  const working = t.deps.hasher;
  let replacement: PasswordHasher;
  if (swap) replacement = swap(working);
  else {
    replacement = createPasswordHasher(t.settings.password);
    await replacement.close();
  }
  t.deps.hasher = replacement;
  try {
    return await fn();
  } finally {
    t.deps.hasher = working;
  }
}
