import { usages } from './usage.ts';
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatKey, parseKeyRing } from '../config/secret-key.ts';
import { openRuntime } from '../runtime.ts';
import { rotateSecrets } from '../services/key-rotation.ts';
import { DEFAULT_SIGNING_DELAY_S, ID_TOKEN_TTL_S, rotateSigningKeys } from '../services/oidc/signing-keys.ts';
import { printJson, UsageError } from './io.ts';


function newKeyId(): string {
  return `k${Date.now().toString(36)}`;
}

export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === 'generate') {
    const { values } = parseArgs({ args: rest, options: { id: { type: 'string' } }, strict: true });
    const id = values.id ?? newKeyId();
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new UsageError('key id: 1–32 letters, digits, _ or -');
    process.stdout.write(`${formatKey(id, randomBytes(32))}\n`);
    return 0;
  }
  if (verb === 'rotate-signing') {
    const { values } = parseArgs({ args: rest, options: { 'delay-seconds': { type: 'string' } }, strict: true });
    const raw = values['delay-seconds'] ?? String(DEFAULT_SIGNING_DELAY_S);
    if (!/^\d{1,9}$/.test(raw)) throw new UsageError('--delay-seconds: a whole number of seconds');
    const runtime = await openRuntime(env, { keys: true });
    try {
      const result = await rotateSigningKeys(runtime.deps, { delayMs: Number(raw) * 1000, idTokenTtlMs: ID_TOKEN_TTL_S * 1000 });
      printJson({
        added: result.added.map((k) => ({ kid: k.kid, alg: k.alg, signsFrom: new Date(k.signsFrom).toISOString() })),
        retiring: result.retiring.map((k) => ({ kid: k.kid, retiresAt: new Date(k.retiresAt).toISOString() })),
      });
      return 0;
    } finally {
      await runtime.close();
    }
  }
  if (verb !== 'rotate') throw new UsageError(usages.keys);
  const { values } = parseArgs({ args: rest, options: { new: { type: 'boolean' } }, strict: true });
  if (values.new) {
    if (env.PORTCULLIS_SECRET_KEY) {
      process.stderr.write('portcullis: --new edits the embedded key file; with PORTCULLIS_SECRET_KEY, put the new key first in it yourself\n');
      return 1;
    }
    // Open once to find (or create) the key file, then put a new key in front of it.
    const probe = await openRuntime(env, { keys: true });
    const dataDir = probe.database.dataDir;
    await probe.close();
    if (!dataDir) throw new UsageError('--new needs the embedded (SQLite) store');
    const file = join(dataDir, 'secret.key');
    const ring = parseKeyRing(readFileSync(file, 'utf8'), file);
    const entries = [formatKey(newKeyId(), randomBytes(32)), ...[...ring.all].map(([id, key]) => formatKey(id, key))];
    // Write beside it and rename: a crash mid-write must not lose the keys.
    const next = `${file}.new`;
    writeFileSync(next, `${entries.join(',')}\n`, { mode: 0o600 });
    renameSync(next, file);
  }
  const runtime = await openRuntime(env, { keys: true });
  try {
    const result = await rotateSecrets(runtime.deps);
    printJson({ activeKeyId: runtime.deps.secrets.activeKeyId, ...result });
    return result.unreadable > 0 || result.signingKeys.unreadable > 0 ? 1 : 0;
  } finally {
    await runtime.close();
  }
}
