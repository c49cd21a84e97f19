import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultWorkers, loadSettings } from '../../src/config/settings.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The error loadSettings throws for env; fails the test when it throws nothing or something else. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadSettings accepted ${JSON.stringify(env)}`);
}

describe('loadSettings: defaults', () => {
  const settings = loadSettings({});

  it('listens on 127.0.0.1:3000', () => {
    expect(settings.port).toBe(3000);
    expect(settings.host).toBe('127.0.0.1');
  });

  it('stores in SQLite under ./data', () => {
    expect(settings.databaseUrl).toBe('sqlite:./data/portcullis.db');
  });

  it('hashes on one thread per core', () => {
    expect(loadSettings({}).password.hashThreads).toBe(availableParallelism());
    expect(loadSettings({ PORTCULLIS_HASH_THREADS: '3' }).password.hashThreads).toBe(3);
  });

  it('runs one worker per four cores, at least one: a single process below four cores', () => {
    expect([1, 2, 3, 4, 7, 8, 16, 64].map(defaultWorkers)).toEqual([1, 1, 1, 1, 1, 2, 4, 16]);
    expect(settings.workers).toBe(defaultWorkers(availableParallelism()));
    expect(loadSettings({ PORTCULLIS_WORKERS: '3' }).workers).toBe(3);
  });

  it('hashes with argon2id at the OWASP parameters m=19456, t=2, p=1', () => {
    expect(settings.password).toMatchObject({ argon2MemoryKiB: 19_456, argon2Iterations: 2, argon2Parallelism: 1 });
  });

  it('asks for passwords of 12 to 128 characters', () => {
    expect(settings.password).toMatchObject({ minLength: 12, maxLength: 128 });
  });

  it('locks after 10 failures for 15 minutes, doubling up to 24 hours', () => {
    expect(settings.throttle).toEqual({ maxConsecutiveFailures: 10, firstLockMs: 15 * MINUTE, maxLockMs: 24 * HOUR });
  });

  it('ends sessions after 30 idle minutes or 12 hours, and pending sign-ins after 5 minutes', () => {
    expect(settings.session).toMatchObject({ idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: 12 * HOUR, pendingTimeoutMs: 5 * MINUTE });
  });

  it('trusts no proxy, has no public URL, logs at info', () => {
    expect(settings.trustProxy).toBe(false);
    expect(settings.publicUrl).toBeUndefined();
    expect(settings.logLevel).toBe('info');
  });

  it('treats empty variables as unset', () => {
    const empty = loadSettings({ PORT: '', PORTCULLIS_DATABASE_URL: '', PORTCULLIS_PUBLIC_URL: '', PORTCULLIS_LOG_LEVEL: '', PORTCULLIS_TRUST_PROXY: '' });
    expect(empty).toEqual(settings);
  });
});

describe('loadSettings: overrides', () => {
  it('reads good values', () => {
    const settings = loadSettings({
      PORT: '8080',
      PORTCULLIS_DATABASE_URL: 'postgres://portcullis@db/portcullis',
      PORTCULLIS_PUBLIC_URL: 'https://sign-in.example.com',
      PORTCULLIS_LOG_LEVEL: 'warn',
      PORTCULLIS_TRUST_PROXY: '10.0.0.1, 192.168.0.0/16',
      PORTCULLIS_LOCK_MINUTES: '5',
      PORTCULLIS_LOCK_MAX_MINUTES: '5',
      PORTCULLIS_SESSION_IDLE_MINUTES: '10',
    });
    expect(settings.port).toBe(8080);
    expect(settings.databaseUrl).toBe('postgres://portcullis@db/portcullis');
    expect(settings.publicUrl?.origin).toBe('https://sign-in.example.com');
    expect(settings.logLevel).toBe('warn');
    expect(settings.trustProxy).toBe('10.0.0.1,192.168.0.0/16');
    expect(settings.throttle).toMatchObject({ firstLockMs: 5 * MINUTE, maxLockMs: 5 * MINUTE });
    expect(settings.session.idleTimeoutMs).toBe(10 * MINUTE);
  });

  it('reads a proxy hop count as a number', () => {
    expect(loadSettings({ PORTCULLIS_TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('accepts postgresql:// as well as postgres://', () => {
    expect(loadSettings({ PORTCULLIS_DATABASE_URL: 'postgresql://db/p' }).databaseUrl).toBe('postgresql://db/p');
  });
});

describe('loadSettings: bad values throw ConfigError naming the variable', () => {
  it.each([
    ['non-numeric PORT', { PORT: 'http' }, /\bPORT\b/],
    ['PORT with trailing text', { PORT: '3000x' }, /\bPORT\b/],
    ['negative PORT', { PORT: '-1' }, /\bPORT\b/],
    ['PORT above 65535', { PORT: '65536' }, /\bPORT\b/],
    ['PORT far out of range', { PORT: '99999999999999999999' }, /\bPORT\b/],
    ['a MySQL database', { PORTCULLIS_DATABASE_URL: 'mysql://user@db/portcullis' }, /PORTCULLIS_DATABASE_URL/],
    ['a relative public URL', { PORTCULLIS_PUBLIC_URL: 'sign-in.example.com' }, /PORTCULLIS_PUBLIC_URL/],
    ['a non-HTTP public URL', { PORTCULLIS_PUBLIC_URL: 'ftp://sign-in.example.com' }, /PORTCULLIS_PUBLIC_URL/],
    ['an unknown log level', { PORTCULLIS_LOG_LEVEL: 'verbose' }, /PORTCULLIS_LOG_LEVEL/],
    ['trusting every proxy', { PORTCULLIS_TRUST_PROXY: 'true' }, /PORTCULLIS_TRUST_PROXY/],
    ['a proxy list that is not addresses', { PORTCULLIS_TRUST_PROXY: 'loopback; rm -rf' }, /PORTCULLIS_TRUST_PROXY/],
    ['a lock maximum below the first lock', { PORTCULLIS_LOCK_MINUTES: '60', PORTCULLIS_LOCK_MAX_MINUTES: '30' }, /PORTCULLIS_LOCK_MAX_MINUTES/],
    ['a lock maximum below the default first lock', { PORTCULLIS_LOCK_MAX_MINUTES: '10' }, /PORTCULLIS_LOCK_MAX_MINUTES/],
    ['zero lock minutes', { PORTCULLIS_LOCK_MINUTES: '0' }, /PORTCULLIS_LOCK_MINUTES/],
    ['argon2 memory below 8 KiB', { PORTCULLIS_ARGON2_MEMORY_KIB: '7' }, /PORTCULLIS_ARGON2_MEMORY_KIB/],
    ['no hashing threads', { PORTCULLIS_HASH_THREADS: '0' }, /PORTCULLIS_HASH_THREADS/],
    ['hashing threads that are not a number', { PORTCULLIS_HASH_THREADS: 'four' }, /PORTCULLIS_HASH_THREADS/],
    ['no workers', { PORTCULLIS_WORKERS: '0' }, /PORTCULLIS_WORKERS/],
    ['workers that are not a number', { PORTCULLIS_WORKERS: 'auto' }, /PORTCULLIS_WORKERS/],
  ] as const)('%s', (_label, env, name) => {
    expect(configError(env).message).toMatch(name);
  });
});
