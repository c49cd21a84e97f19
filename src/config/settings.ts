import { availableParallelism } from 'node:os';
import { isAddressRange } from '../domain/addresses.ts';
import { httpDefaults, mfaDefaults, passwordDefaults, sessionDefaults, throttleDefaults } from './defaults.ts';

/** Everything the service reads from its environment, typed and validated. */
export interface Settings {
  port: number;
  host: string;
  databaseUrl: string;
  databasePoolSize: number;
  /**
   * Worker processes of `portcullis serve` (node:cluster) behind one listening
   * socket; 1 is a single process, no cluster. Default: one per four cores.
   */
  workers: number;
  /** Client addresses (or CIDRs) that may read /metrics. */
  metricsAllow: string[];
  /** Fastify trustProxy: false, or the proxies' addresses/CIDRs, or a hop count. */
  trustProxy: false | string | number;
  /** https://portcullis.example.com; when unset, a request's own Host is the origin. */
  publicUrl: URL | undefined;
  logLevel: string;
  /** How long a client may take to send a request, and to stay silent (issue 16, finding 7). */
  http: {
    /** The whole request, headers and body (node:http requestTimeout). */
    requestTimeoutMs: number;
    /** The headers alone (node:http headersTimeout). */
    headersTimeoutMs: number;
    /** A socket with no traffic either way this long is closed (Fastify connectionTimeout). */
    connectionTimeoutMs: number;
  };
  password: {
    argon2MemoryKiB: number;
    argon2Iterations: number;
    argon2Parallelism: number;
    /** Threads that hash passwords (one per core by default). */
    hashThreads: number;
    minLength: number;
    maxLength: number;
  };
  throttle: { maxConsecutiveFailures: number; firstLockMs: number; maxLockMs: number };
  /** Failed passwords per client address: counted in a window instead of reset by success, and only a short wait (never doubling), not a lock. */
  addressThrottle: { maxConsecutiveFailures: number; firstLockMs: number; maxLockMs: number; windowMs: number };
  mfa: {
    maxCodesPerPendingSignIn: number;
    window: number;
    skewSearchSteps: number;
    stepUpMaxAgeMs: number;
    secretBytes: number;
  };
  /** smtp://user:pass@host:port (or smtps://) to send notifications by email; unset: to the log. */
  smtpUrl: string | undefined;
  mailFrom: string;
  session: {
    idleTimeoutMs: number;
    absoluteTimeoutMs: number;
    pendingTimeoutMs: number;
    touchIntervalMs: number;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function publicUrl(raw: string | undefined): URL | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PORTCULLIS_PUBLIC_URL must be an absolute URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('PORTCULLIS_PUBLIC_URL must start with https:// or http://');
  }
  return url;
}

function databaseUrl(raw: string | undefined): string {
  const value = raw === undefined || raw === '' ? 'sqlite:./data/portcullis.db' : raw;
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(value)) {
    throw new ConfigError(
      `PORTCULLIS_DATABASE_URL must start with sqlite: or postgres://, got "${value}"`,
    );
  }
  return value;
}

/** Addresses or CIDRs, comma-separated, each checked. */
function addressList(name: string, raw: string, alternatives = ''): string[] {
  const parts = raw.split(',').map((p) => p.trim());
  if (!parts.every(isAddressRange)) throw new ConfigError(`${name} must be addresses/CIDRs separated by commas${alternatives}; got "${raw}"`);
  return parts;
}

/**
 * Which proxies may set X-Forwarded-For. Unset: none, so the header is
 * ignored and a client cannot pick the address its throttle is counted on.
 */
function trustProxy(raw: string | undefined): false | string | number {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (/^\d{1,2}$/.test(raw)) return Number(raw);
  if (raw === 'true') {
    throw new ConfigError('PORTCULLIS_TRUST_PROXY=true would trust any client; give the proxy addresses or a hop count');
  }
  return addressList('PORTCULLIS_TRUST_PROXY', raw, ', or a hop count (0–99)').join(',');
}

/**
 * One worker per four cores, at least one. A full sign-in costs the event loop
 * about 1.8 ms of CPU (SQLite; ~3.4 ms on PostgreSQL) against ~7 ms of argon2id
 * on a hashing thread (docs/performance.md): one loop keeps three to four
 * cores of hashing busy before it is the limit. More loops than that would only
 * take cores from the hashing threads (and add database connections); fewer
 * leave hashing cores idle once the loop saturates. On 2 or 3 cores this is 1:
 * a single process, exactly as before workers existed.
 */
export function defaultWorkers(cores: number): number {
  return Math.max(1, Math.floor(cores / 4));
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads settings from the environment; throws ConfigError with a clear message on bad values. */
export function loadSettings(env: Env = process.env): Settings {
  const logLevel = env.PORTCULLIS_LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`PORTCULLIS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const minutes = (name: string, fallbackMs: number, max: number) =>
    integer(env, name, fallbackMs / 60_000, 1, max) * 60_000;
  const password = {
    argon2MemoryKiB: integer(env, 'PORTCULLIS_ARGON2_MEMORY_KIB', passwordDefaults.argon2MemoryKiB, 8, 4_194_304),
    argon2Iterations: integer(env, 'PORTCULLIS_ARGON2_ITERATIONS', passwordDefaults.argon2Iterations, 1, 100),
    argon2Parallelism: integer(env, 'PORTCULLIS_ARGON2_PARALLELISM', passwordDefaults.argon2Parallelism, 1, 16),
    hashThreads: integer(env, 'PORTCULLIS_HASH_THREADS', availableParallelism(), 1, 1024),
    minLength: passwordDefaults.minLength,
    maxLength: passwordDefaults.maxLength,
  };
  const idleTimeoutMs = minutes('PORTCULLIS_SESSION_IDLE_MINUTES', sessionDefaults.idleTimeoutMs, 24 * 60);
  const session = {
    idleTimeoutMs,
    absoluteTimeoutMs: minutes('PORTCULLIS_SESSION_ABSOLUTE_MINUTES', sessionDefaults.absoluteTimeoutMs, 30 * 24 * 60),
    pendingTimeoutMs: minutes('PORTCULLIS_PENDING_SIGNIN_MINUTES', sessionDefaults.pendingTimeoutMs, 60),
    // Last-seen is recorded at most this often, so it lags a use by less than a
    // tenth of the idle limit: a session in use is never ended as idle, and an
    // idle one ends after at least 90% of the limit (issue 16, finding 11).
    touchIntervalMs: Math.min(sessionDefaults.touchIntervalMs, Math.floor(idleTimeoutMs / 10)),
  };
  const throttle = {
    maxConsecutiveFailures: integer(env, 'PORTCULLIS_LOCK_AFTER_FAILURES', throttleDefaults.maxConsecutiveFailures, 1, 100),
    firstLockMs: minutes('PORTCULLIS_LOCK_MINUTES', throttleDefaults.firstLockMs, 24 * 60),
    maxLockMs: minutes('PORTCULLIS_LOCK_MAX_MINUTES', throttleDefaults.maxLockMs, 7 * 24 * 60),
  };
  // One address may be everyone behind a NAT or a proxy: it waits a moment, it is never locked for long.
  const addressThrottle = {
    maxConsecutiveFailures: integer(env, 'PORTCULLIS_ADDRESS_LOCK_AFTER_FAILURES', throttle.maxConsecutiveFailures, 1, 10_000),
    firstLockMs: throttleDefaults.addressDelayMs,
    maxLockMs: throttleDefaults.addressDelayMs,
    windowMs: throttle.firstLockMs,
  };
  if (throttle.maxLockMs < throttle.firstLockMs) {
    throw new ConfigError('PORTCULLIS_LOCK_MAX_MINUTES must not be less than PORTCULLIS_LOCK_MINUTES');
  }
  const mfa = {
    maxCodesPerPendingSignIn: integer(env, 'PORTCULLIS_MFA_MAX_CODES_PER_SIGNIN', mfaDefaults.maxCodesPerPendingSignIn, 1, 100),
    window: mfaDefaults.window,
    skewSearchSteps: mfaDefaults.skewSearchSteps,
    stepUpMaxAgeMs: minutes('PORTCULLIS_STEP_UP_MINUTES', mfaDefaults.stepUpMaxAgeMs, 24 * 60),
    secretBytes: mfaDefaults.secretBytes,
  };
  const requestTimeoutMs = integer(env, 'PORTCULLIS_REQUEST_TIMEOUT_SECONDS', httpDefaults.requestTimeoutMs / 1000, 1, 3600) * 1000;
  const http = {
    requestTimeoutMs,
    headersTimeoutMs: Math.min(httpDefaults.headersTimeoutMs, requestTimeoutMs),
    // A client that stops reading or sending for as long as a whole request may take is gone.
    connectionTimeoutMs: requestTimeoutMs,
  };
  const smtpUrl = env.PORTCULLIS_SMTP_URL || undefined;
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]+/.test(smtpUrl)) {
    throw new ConfigError('PORTCULLIS_SMTP_URL must look like smtp://user:password@host:587 or smtps://…');
  }
  return {
    mfa,
    smtpUrl,
    mailFrom: env.PORTCULLIS_MAIL_FROM || 'Portcullis <no-reply@localhost>',
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: databaseUrl(env.PORTCULLIS_DATABASE_URL),
    databasePoolSize: integer(env, 'PORTCULLIS_DATABASE_POOL_SIZE', 10, 1, 1000),
    workers: integer(env, 'PORTCULLIS_WORKERS', defaultWorkers(availableParallelism()), 1, 256),
    trustProxy: trustProxy(env.PORTCULLIS_TRUST_PROXY),
    metricsAllow: addressList('PORTCULLIS_METRICS_ALLOW', env.PORTCULLIS_METRICS_ALLOW || '127.0.0.1,::1'),
    publicUrl: publicUrl(env.PORTCULLIS_PUBLIC_URL),
    logLevel,
    http,
    password,
    throttle,
    addressThrottle,
    session,
  };
}
