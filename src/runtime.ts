import { randomBytes } from 'node:crypto';
import pretty from 'pino-pretty';
import pino from 'pino';
import type { Logger } from 'pino';
import { loadSettings } from './config/settings.ts';
import type { Settings } from './config/settings.ts';
import type { Clock, RandomSource } from './domain/providers.ts';
import { loadKeyRing } from './config/secret-key.ts';
import type { KeyRing } from './config/secret-key.ts';
import type { Deps } from './services/deps.ts';
import { createMetrics } from './services/metrics.ts';
import { logNotifier, mailNotifier } from './services/notifier.ts';
import { createSecretBox } from './services/secret-box.ts';
import type { SecretBox } from './services/secret-box.ts';
import { createPasswordHasher } from './services/passwords.ts';
import { migrateToLatest, openDatabase } from './storage/database.ts';
import type { OpenDatabase } from './storage/database.ts';
import { createStore } from './storage/store.ts';

export const systemClock: Clock = { now: () => Date.now() };
/**
 * The operating system's CSPRNG (through OpenSSL), drawn 4 KiB at a time: one
 * call costs about as much as 16 bytes alone (7 µs here), and a sign-in wants
 * several small draws. Every byte is handed out once, copied.
 */
export function bufferedRandom(poolBytes = 4096): RandomSource {
  let pool = Buffer.alloc(0);
  let offset = 0;
  return {
    bytes(n) {
      if (n > poolBytes / 4) return randomBytes(n);
      if (offset + n > pool.length) {
        pool = randomBytes(poolBytes);
        offset = 0;
      }
      const out = new Uint8Array(pool.subarray(offset, offset + n));
      offset += n;
      return out;
    },
  };
}

export const systemRandom: RandomSource = bufferedRandom();

/**
 * Paths pino must never print: credentials, cookies, tokens, codes. A code
 * is named where a body would hold one, not as `*.code`: that also hid
 * `err.code` (ECONNREFUSED, HPE_INVALID_HEADER_TOKEN), which says what failed
 * and holds no secret (issue 16, finding 4).
 */
export const redactPaths = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  'body.code',
  'req.body.code',
  '*.recoveryCodes',
  '*.secret',
  '*.token',
];

type SerializedError = ReturnType<typeof pino.stdSerializers.err> & Record<string, unknown>;

/**
 * pino's error serializer, without the bytes an error may carry: Node's HTTP
 * parser puts the request it could not parse on `err.rawPacket` (cookies,
 * a password in the body), and Fastify logs that error at trace. No byte
 * array is a useful log field, so none is written, at any depth of `cause`.
 */
export function serializeError(error: Error): SerializedError {
  const out = pino.stdSerializers.err(error) as SerializedError;
  return withoutBytes(out, 0) as SerializedError;
}

function withoutBytes(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  for (const [key, field] of Object.entries(value)) {
    if (field instanceof Uint8Array || ArrayBuffer.isView(field) || field instanceof ArrayBuffer) delete value[key];
    else if (key === 'cause' && field && typeof field === 'object' && depth < 8) withoutBytes(field as Record<string, unknown>, depth + 1);
  }
  return value;
}

/**
 * Fastify's request serializer (its fields exactly), with the token of a
 * Reset password link cut from the URL: the link is a password's worth of
 * secret for a day (issue 15), and every request is logged with its URL.
 */
export function serializeRequest(req: { method: string; url: string; headers?: Record<string, unknown>; host?: string; ip?: string; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: req.url.replace(/^(\/password\/reset\/)[^?#]*/, '$1[redacted]'),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(settings: Pick<Settings, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino(
    { level: settings.logLevel, redact: { paths: redactPaths, censor: '[redacted]' }, serializers: { err: serializeError, req: serializeRequest } },
    destination,
  );
}

/**
 * Where log lines go (issue 16, finding 13): readable lines when a person
 * watches (the stream is a terminal), JSON lines for a collector otherwise.
 * Redaction happens before either, so both hide the same fields.
 */
export function logDestination(fd: 1 | 2, isTTY: boolean): pino.DestinationStream {
  if (isTTY) return pretty({ destination: fd, colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' });
  return pino.destination(fd);
}

export interface Runtime {
  settings: Settings;
  database: OpenDatabase;
  deps: Deps;
  /** The key ring, when the runtime was opened with keys. */
  keys: KeyRing | undefined;
  close(): Promise<void>;
}

/** For commands that never touch TOTP secrets: using it is a bug. */
const noSecrets: SecretBox = {
  activeKeyId: '',
  seal: () => {
    throw new Error('this command was started without the secret key');
  },
  open: () => {
    throw new Error('this command was started without the secret key');
  },
};

export interface RuntimeOptions {
  logger?: Logger;
  /** Where logs go: stdout for the server; stderr (the default) for commands whose stdout is their JSON answer. */
  logTo?: 'stdout' | 'stderr';
  /** Load PORTCULLIS_SECRET_KEY (or the embedded key file): needed to seal and open TOTP secrets. */
  keys?: boolean;
  /** SQLite: 'external' when another process checkpoints the file (a worker of `serve --workers N`). */
  checkpoint?: 'own' | 'external';
  /** A worker's id, added to every log line it writes. */
  worker?: number;
}

/** Reads the environment, opens and migrates the database, and builds the services' dependencies. */
export async function openRuntime(env: Record<string, string | undefined>, options: RuntimeOptions = {}): Promise<Runtime> {
  const settings = loadSettings(env);
  const root = options.logger ?? createLogger(settings, options.logTo === 'stdout' ? logDestination(1, process.stdout.isTTY) : logDestination(2, process.stderr.isTTY));
  const log = options.worker === undefined ? root : root.child({ worker: options.worker });
  const database = openDatabase(settings.databaseUrl, { poolSize: settings.databasePoolSize, checkpoint: options.checkpoint });
  try {
    const { applied } = await migrateToLatest(database.db);
    if (applied.length > 0) log.info({ applied }, 'database migrated');
  } catch (error) {
    await database.close();
    throw error;
  }
  let keys: KeyRing | undefined;
  try {
    if (options.keys) {
      const loaded = loadKeyRing(env, database.dataDir);
      keys = loaded.ring;
      if (loaded.generatedFile) {
        log.warn({ file: loaded.generatedFile }, 'generated a new secret key into the data folder; back it up, or set PORTCULLIS_SECRET_KEY');
      }
    }
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
    secrets: keys ? createSecretBox(keys, systemRandom) : noSecrets,
    notifier: await createNotifier(settings, log),
    metrics: createMetrics(),
  };
  const close = async () => {
    await deps.hasher.close();
    await database.close();
  };
  return { settings, database, deps, keys, close };
}

async function createNotifier(settings: Settings, logger: Logger) {
  if (!settings.smtpUrl) return logNotifier(logger);
  const nodemailer = await import('nodemailer');
  return mailNotifier(nodemailer.createTransport(settings.smtpUrl), settings.mailFrom, logger);
}
