import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './settings.ts';

// PORTCULLIS_SECRET_KEY holds one or more keys, comma-separated, each
// "KEYID:BASE64" where BASE64 (standard or url-safe) decodes to exactly 32
// bytes (AES-256). The first key is the active one; the others are kept to
// read data written under them until it is re-encrypted. Example:
//   PORTCULLIS_SECRET_KEY=k2:Zm9v…,k1:YmFy…

export interface SecretKey {
  id: string;
  key: Buffer;
}

export interface KeyRing {
  active: SecretKey;
  all: ReadonlyMap<string, Buffer>;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export function parseKeyRing(raw: string, source = 'PORTCULLIS_SECRET_KEY'): KeyRing {
  const entries = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (entries.length === 0) throw new ConfigError(`${source} is empty; expected KEYID:BASE64 (32 bytes)`);
  const all = new Map<string, Buffer>();
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const encoded = entry.slice(colon + 1);
    if (!KEY_ID.test(id)) {
      throw new ConfigError(`${source}: each key must look like KEYID:BASE64, with a key id of letters, digits, _ or -`);
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) {
      throw new ConfigError(`${source}: key "${id}" must be 32 bytes in base64 (44 characters); got ${key.length} bytes`);
    }
    if (all.has(id)) throw new ConfigError(`${source}: key id "${id}" appears twice`);
    all.set(id, key);
  }
  const [firstId] = all.keys();
  return { active: { id: firstId as string, key: all.get(firstId as string) as Buffer }, all };
}

export function formatKey(id: string, key: Buffer): string {
  return `${id}:${key.toString('base64')}`;
}

export interface KeyRingSource {
  ring: KeyRing;
  /** Set when a key file was created now, so the caller can say so. */
  generatedFile?: string;
}

/**
 * The key ring from the environment or, for the embedded default, from
 * secret.key in the data folder, created on first start.
 */
export function loadKeyRing(env: Record<string, string | undefined>, dataDir: string | undefined, opts: { create?: boolean } = {}): KeyRingSource {
  const raw = env.PORTCULLIS_SECRET_KEY;
  if (raw !== undefined && raw !== '') return { ring: parseKeyRing(raw) };
  if (dataDir === undefined) {
    throw new ConfigError(
      'PORTCULLIS_SECRET_KEY is required with PostgreSQL: every instance must share it. Generate one with `portcullis keys generate`.',
    );
  }
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return { ring: parseKeyRing(readFileSync(file, 'utf8'), file) };
  // A reader of what is sealed already (the CLI's logout tokens): a new key would open nothing.
  if (opts.create === false) throw new ConfigError(`PORTCULLIS_SECRET_KEY is not set and there is no key file ${file}`);
  writeFileSync(file, `${formatKey('k1', randomBytes(32))}\n`, { mode: 0o600, flag: 'wx' });
  return { ring: parseKeyRing(readFileSync(file, 'utf8'), file), generatedFile: file };
}
