import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { loadSettings } from './config/settings.ts';
import type { Settings } from './config/settings.ts';
import type { Clock, RandomSource } from './domain/providers.ts';
import type { Deps } from './services/deps.ts';
import { createPasswordHasher } from './services/passwords.ts';
import { migrateToLatest, openDatabase } from './storage/database.ts';
import type { OpenDatabase } from './storage/database.ts';
import { createStore } from './storage/store.ts';

export const systemClock: Clock = { now: () => Date.now() };
export const systemRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/** Paths pino must never print: credentials, cookies, tokens, codes. */
export const redactPaths = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.code',
  '*.secret',
  '*.token',
];

export function createLogger(settings: Pick<Settings, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino({ level: settings.logLevel, redact: { paths: redactPaths, censor: '[redacted]' } }, destination);
}

export interface Runtime {
  settings: Settings;
  database: OpenDatabase;
  deps: Deps;
  close(): Promise<void>;
}

/** Reads the environment, opens and migrates the database, and builds the services' dependencies. */
export async function openRuntime(env: Record<string, string | undefined>, logger?: Logger): Promise<Runtime> {
  const settings = loadSettings(env);
  const log = logger ?? createLogger(settings);
  const database = openDatabase(settings.databaseUrl, { poolSize: settings.databasePoolSize });
  try {
    const { applied } = await migrateToLatest(database.db);
    if (applied.length > 0) log.info({ applied }, 'database migrated');
  } catch (error) {
    await database.close();
    throw error;
  }
  const deps: Deps = {
    store: createStore(database.db, database.dialect),
    settings,
    clock: systemClock,
    random: systemRandom,
    hasher: createPasswordHasher(settings.password),
    logger: log,
  };
  return { settings, database, deps, close: () => database.close() };
}
