import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatKey, loadKeyRing, parseKeyRing } from '../../src/config/secret-key.ts';
import type { KeyRing } from '../../src/config/secret-key.ts';
import { ConfigError } from '../../src/config/settings.ts';

const key1 = randomBytes(32);
const key2 = randomBytes(32);
const b64 = (key: Buffer) => key.toString('base64');

/** The error parseKeyRing throws for raw; fails the test when it throws nothing or something else. */
function refusal(raw: string): ConfigError {
  let ring: KeyRing | undefined;
  try {
    ring = parseKeyRing(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`parseKeyRing accepted ${JSON.stringify(raw)} as ${[...ring.all.keys()].join(',')}`);
}

describe('parseKeyRing', () => {
  it('reads one KEYID:BASE64 key of 32 bytes', () => {
    const ring = parseKeyRing(`k1:${b64(key1)}`);
    expect(ring.active.id).toBe('k1');
    expect(ring.active.key.equals(key1)).toBe(true);
    expect([...ring.all.keys()]).toEqual(['k1']);
  });

  it('reads several comma-separated keys; the first is active, all can decrypt', () => {
    const ring = parseKeyRing(`k2:${b64(key2)}, k1:${b64(key1)}`);
    expect(ring.active.id).toBe('k2');
    expect(ring.active.key.equals(key2)).toBe(true);
    expect([...ring.all.keys()]).toEqual(['k2', 'k1']);
    expect(ring.all.get('k1')?.equals(key1)).toBe(true);
  });

  it('reads url-safe base64', () => {
    const ring = parseKeyRing(`k1:${key1.toString('base64url')}`);
    expect(ring.active.key.equals(key1)).toBe(true);
  });

  it('round-trips formatKey', () => {
    expect(parseKeyRing(formatKey('prod-2026_a', key1)).all.get('prod-2026_a')?.equals(key1)).toBe(true);
  });

  it('refuses a 16-byte key, without printing it', () => {
    const short = b64(randomBytes(16));
    const error = refusal(`k1:${short}`);
    expect(error.message).toMatch(/PORTCULLIS_SECRET_KEY/);
    expect(error.message).toMatch(/32 bytes/);
    expect(error.message).not.toContain(short);
  });

  it('refuses a 33-byte key', () => {
    refusal(`k1:${b64(randomBytes(33))}`);
  });

  it('refuses a key without an id, without printing it', () => {
    for (const raw of [`:${b64(key1)}`, b64(key1)]) {
      const error = refusal(raw);
      expect(error.message).toMatch(/PORTCULLIS_SECRET_KEY/);
      expect(error.message).not.toContain(b64(key1));
    }
  });

  it('refuses an id with characters outside letters, digits, _ and -', () => {
    refusal(`k 1:${b64(key1)}`);
    refusal(`k.1:${b64(key1)}`);
  });

  it('refuses the same id twice', () => {
    expect(refusal(`k1:${b64(key1)},k1:${b64(key2)}`).message).toMatch(/twice/);
  });

  it('refuses garbage base64', () => {
    refusal('k1:!!!not base64 at all!!!');
    // Junk characters that Buffer.from would silently skip, leaving 32 valid bytes.
    const encoded = b64(key1);
    refusal(`k1:${encoded.slice(0, 10)}!*${encoded.slice(10)}`);
    refusal(`k1:${encoded.slice(0, 10)} ${encoded.slice(10)}`);
  });

  it('refuses an empty value', () => {
    for (const raw of ['', '   ', ',', ' , ']) {
      expect(refusal(raw).message).toMatch(/PORTCULLIS_SECRET_KEY/);
    }
  });

  it('names the source it was given', () => {
    expect(() => parseKeyRing('', '/var/lib/portcullis/secret.key')).toThrow(/\/var\/lib\/portcullis\/secret\.key/);
  });
});

describe('loadKeyRing', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-key-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates secret.key, readable by its owner only, on first start', () => {
    const file = join(dataDir, 'secret.key');
    const first = loadKeyRing({}, dataDir);
    expect(first.generatedFile).toBe(file);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.ring.active.id).toBe('k1');
    expect(first.ring.active.key).toHaveLength(32);
    expect(readFileSync(file, 'utf8').trim()).toBe(formatKey('k1', first.ring.active.key));
  });

  it('reads the same key on the next start and says nothing was generated', () => {
    const first = loadKeyRing({}, dataDir);
    const second = loadKeyRing({}, dataDir);
    expect(second.generatedFile).toBeUndefined();
    expect(second.ring.active.id).toBe(first.ring.active.id);
    expect(second.ring.active.key.equals(first.ring.active.key)).toBe(true);
  });

  it('generates a different key in another data folder', () => {
    const other = mkdtempSync(join(tmpdir(), 'portcullis-key-'));
    try {
      expect(loadKeyRing({}, dataDir).ring.active.key.equals(loadKeyRing({}, other).ring.active.key)).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('prefers PORTCULLIS_SECRET_KEY and then writes no file', () => {
    const source = loadKeyRing({ PORTCULLIS_SECRET_KEY: `k7:${b64(key1)}` }, dataDir);
    expect(source.generatedFile).toBeUndefined();
    expect(source.ring.active.id).toBe('k7');
    expect(source.ring.active.key.equals(key1)).toBe(true);
    expect(existsSync(join(dataDir, 'secret.key'))).toBe(false);
  });

  it('uses PORTCULLIS_SECRET_KEY without a data folder', () => {
    expect(loadKeyRing({ PORTCULLIS_SECRET_KEY: `k1:${b64(key1)}` }, undefined).ring.active.key.equals(key1)).toBe(true);
  });

  it('throws ConfigError naming PORTCULLIS_SECRET_KEY without a data folder or a key', () => {
    for (const env of [{}, { PORTCULLIS_SECRET_KEY: '' }]) {
      expect(() => loadKeyRing(env, undefined)).toThrow(ConfigError);
      expect(() => loadKeyRing(env, undefined)).toThrow(/PORTCULLIS_SECRET_KEY/);
    }
  });

  it('throws ConfigError naming the file when secret.key is damaged', () => {
    const file = join(dataDir, 'secret.key');
    writeFileSync(file, 'k1:tooshort\n', { mode: 0o600 });
    expect(() => loadKeyRing({}, dataDir)).toThrow(ConfigError);
    expect(() => loadKeyRing({}, dataDir)).toThrow(file);
  });
});
