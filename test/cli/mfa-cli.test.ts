import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { childEnv, portcullis } from '../helpers/cli.ts';
import type { Run } from '../helpers/cli.ts';
import { formatKey, parseKeyRing } from '../../src/config/secret-key.ts';
import { randomId } from '../../src/domain/providers.ts';
import { hashRecoveryCode } from '../../src/domain/recovery-codes.ts';
import { openRuntime } from '../../src/runtime.ts';
import type { Runtime } from '../../src/runtime.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { createSecretBox, totpContext } from '../../src/services/secret-box.ts';
import type { SecretBox } from '../../src/services/secret-box.ts';
import { createSession } from '../../src/services/sessions.ts';
import { ensureSigningKeys, keySetAt } from '../../src/services/oidc/signing-keys.ts';
import { createUser } from '../../src/services/users.ts';
import type { Factor, TotpFactor } from '../../src/storage/records.ts';

/** The user's first authenticator app. */
const firstTotp = (factors: Factor[]): TotpFactor | undefined => factors.find((f): f is TotpFactor => f.type === 'totp');

// The MFA side of the `portcullis` command, run as an operator runs it: a
// child process of bin/portcullis.js with settings in the environment. The
// break-glass `user reset-mfa`, and the `keys` commands that generate and
// rotate the key TOTP secrets are sealed with. Authenticators are put in
// place through the store with a secret sealed under the embedded key file
// (<data folder>/secret.key), exactly as the server would have stored them;
// codes are computed by oathtool, never by our own TOTP code.

const PASSWORD = 'correct horse battery staple';
const SYSTEM = { userId: null, label: 'test', ip: null };
const KEY_ENTRY = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/]{43}=)$/;

function json(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`standard output is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** The code oathtool computes for a raw key (hex) at a time. */
function oathHex(key: Uint8Array, atMs: number): string {
  return execFileSync('oathtool', ['--totp', `--now=@${Math.floor(atMs / 1000)}`, Buffer.from(key).toString('hex')], { encoding: 'utf8' }).trim();
}

/** A data folder of its own: the database file and the embedded key file beside it. */
interface DataDir {
  dir: string;
  url: string;
  runtime: Runtime;
  close(): Promise<void>;
}

/**
 * Opens (and so creates and migrates) an embedded database in a fresh
 * folder, with the key file the server would create on first start.
 */
async function dataDir(): Promise<DataDir> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-mfa-cli-'));
  const url = `sqlite:${join(dir, 'p.db')}`;
  const runtime = await openRuntime(childEnv(url), { keys: true, logger: pino({ level: 'silent' }) });
  return {
    dir,
    url,
    runtime,
    close: async () => {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The secret box of the key file as it is now on disk. */
function boxOfKeyFile(dir: string, only?: string): { box: SecretBox; ids: string[] } {
  const file = join(dir, 'secret.key');
  const text = readFileSync(file, 'utf8');
  // only: a ring of that one key of the file.
  const ring = parseKeyRing(only === undefined ? text : (text.split(/[\s,]+/).find((line) => line.startsWith(`${only}:`)) ?? ''), file);
  return { box: createSecretBox(ring, { bytes: (n) => randomBytes(n) }), ids: [...ring.all.keys()] };
}

interface Enrolled {
  accountId: string;
  userId: string;
  secret: Uint8Array;
}

/**
 * An account whose agent "bob" has an authenticator (secret sealed under the
 * key file's active key), ten recovery codes and a live session.
 */
async function enrolledAgent(data: DataDir, name: string): Promise<Enrolled> {
  const { deps } = data.runtime;
  const account = await createAccount(deps, { name, adminUsername: 'root', adminPassword: PASSWORD }, SYSTEM);
  if (!account.ok) throw new Error(account.errors.join('; '));
  const user = await createUser(deps, account.accountId, { username: 'bob', role: 'agent', password: PASSWORD }, SYSTEM, 'user');
  if (!user.ok) throw new Error(user.errors.join('; '));
  const secret = new Uint8Array(randomBytes(20));
  const { box } = boxOfKeyFile(data.dir);
  const now = Date.now();
  await deps.store.factors.createTotp({
    id: randomId(deps.random),
    accountId: account.accountId,
    userId: user.userId,
    type: 'totp',
    name: 'Authenticator app',
    secret: box.seal(secret, totpContext(account.accountId, user.userId)),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    lastUsedStep: 0,
    driftSteps: 0,
    createdAt: now,
    createdIp: '198.51.100.7',
    lastUsedAt: null,
  });
  await deps.store.recoveryCodes.replace(
    account.accountId,
    user.userId,
    Array.from({ length: 10 }, (_, i) => ({ id: randomId(deps.random), hash: hashRecoveryCode(user.userId, `code${i}`) })),
  );
  await createSession(deps, { accountId: account.accountId, id: user.userId }, 'full', { ip: '192.0.2.9', agent: null }, [{ kind: 'password', at: now }, { kind: 'totp', at: now }]);
  return { accountId: account.accountId, userId: user.userId, secret };
}

describe('portcullis user reset-mfa and keys (sqlite)', { timeout: 60_000 }, () => {
  let data: DataDir;

  beforeAll(async () => {
    data = await dataDir();
  });
  afterAll(async () => {
    await data?.close();
  });

  describe.concurrent('break-glass reset', () => {
    it('removes the authenticator, recovery codes and sessions of an enrolled user, prints {reset:true,…} and audits mfa.reset', async ({ expect }) => {
      const bob = await enrolledAgent(data, 'Reset Co');
      const { store } = data.runtime.deps;
      expect(await store.factors.forUser(bob.accountId, bob.userId)).toHaveLength(1);

      // The username as typed by a stressed operator: another case.
      const run = await portcullis(['user', 'reset-mfa', '--account', bob.accountId, '--username', 'BOB'], { url: data.url });
      expect(run.code, run.stderr).toBe(0);
      expect(json(run)).toEqual({ reset: true, userId: bob.userId, authenticatorRevoked: true, factorsRevoked: 1, sessionsEnded: 1, applicationsNotified: 0 });

      expect(await store.factors.forUser(bob.accountId, bob.userId)).toEqual([]);
      expect(await store.recoveryCodes.countUnused(bob.accountId, bob.userId)).toBe(0);
      expect(await data.runtime.database.db.selectFrom('sessions').select('id').where('user_id', '=', bob.userId).execute()).toEqual([]);
      const events = await store.audit.list(bob.accountId, { action: 'mfa.reset', limit: 10, offset: 0 });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: 'mfa.reset',
        actorUserId: null,
        actor: expect.stringMatching(/^cli\b/),
        targetUserId: bob.userId,
        target: 'bob',
        result: 'success',
        detail: { authenticatorRevoked: true, factorsRevoked: 1, recoveryCodesRevoked: 10, sessionsEnded: 1 },
      });
    });

    it('says so and exits 1 for a user who does not exist, changing nothing', async ({ expect }) => {
      const bob = await enrolledAgent(data, 'Unknown Co');
      const run = await portcullis(['user', 'reset-mfa', '--account', bob.accountId, '--username', 'nobody'], { url: data.url });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/no user "nobody"/);
      expect(run.stdout).toBe('');
      expect(await data.runtime.deps.store.factors.forUser(bob.accountId, bob.userId)).toHaveLength(1);
      expect(await data.runtime.deps.store.audit.list(bob.accountId, { action: 'mfa.reset', limit: 10, offset: 0 })).toEqual([]);
    });

    it('exits 2 with its usage when a flag is missing', async ({ expect }) => {
      const runs = await Promise.all([
        portcullis(['user', 'reset-mfa', '--account', '12345678'], { url: data.url }),
        portcullis(['user', 'reset-mfa', '--username', 'bob'], { url: data.url }),
      ]);
      for (const run of runs) {
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/usage/i);
        expect(run.stderr).toContain('portcullis user reset-mfa --account ID --username NAME');
        expect(run.stdout).toBe('');
      }
    });
  });

  describe.concurrent('keys generate and rotate', () => {
    it('keys generate prints KEYID:BASE64 of 32 random bytes, a new one each time', async ({ expect }) => {
      const dir = mkdtempSync(join(tmpdir(), 'portcullis-keys-'));
      try {
        const url = `sqlite:${join(dir, 'p.db')}`;
        const [one, named] = await Promise.all([portcullis(['keys', 'generate'], { url }), portcullis(['keys', 'generate', '--id', 'k2026'], { url })]);
        for (const run of [one, named]) {
          expect(run.code, run.stderr).toBe(0);
          const match = KEY_ENTRY.exec(run.stdout.trim());
          expect(match, run.stdout).not.toBeNull();
          expect(Buffer.from(match?.[2] ?? '', 'base64')).toHaveLength(32);
          // What it prints is a valid PORTCULLIS_SECRET_KEY.
          expect(parseKeyRing(run.stdout.trim()).active.key).toHaveLength(32);
        }
        expect(named.stdout.startsWith('k2026:')).toBe(true);
        expect(one.stdout.split(':')[1]).not.toBe(named.stdout.split(':')[1]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keys rotate --new puts a new key first in the key file and re-encrypts every authenticator under it', async ({ expect }) => {
      const data = await dataDir();
      try {
        const [a, b] = [await enrolledAgent(data, 'Rotate One'), await enrolledAgent(data, 'Rotate Two')];
        const before = boxOfKeyFile(data.dir);
        expect(before.ids).toEqual(['k1']);
        const old = firstTotp(await data.runtime.deps.store.factors.forUser(a.accountId, a.userId));
        expect(old?.secret.keyId).toBe('k1');
        // The OpenID Connect signing keys (made at serve's first start) are sealed with the same ring.
        await ensureSigningKeys(data.runtime.deps);
        const signingBefore = await data.runtime.deps.store.signingKeys.all();
        expect(signingBefore.map((k) => k.privateJwk.keyId)).toEqual(['k1', 'k1']);

        const run = await portcullis(['keys', 'rotate', '--new'], { url: data.url });
        expect(run.code, run.stderr).toBe(0);
        const out = json(run);
        const after = boxOfKeyFile(data.dir);
        expect(after.ids).toHaveLength(2);
        expect(after.ids[1]).toBe('k1');
        expect(after.ids[0]).not.toBe('k1');
        expect(out).toEqual({ activeKeyId: after.ids[0], resealed: 2, unreadable: 0, signingKeys: { resealed: 2, unreadable: 0 } });
        // The file stays readable by its owner only.
        expect(execFileSync('stat', ['-c', '%a', join(data.dir, 'secret.key')], { encoding: 'utf8' }).trim()).toBe('600');

        const at = Date.UTC(2026, 10, 28, 9, 0, 0);
        for (const user of [a, b]) {
          const row = firstTotp(await data.runtime.deps.store.factors.forUser(user.accountId, user.userId));
          expect(row?.secret.keyId).toBe(after.ids[0]);
          expect(row?.secret.ciphertext).not.toBe(old?.secret.ciphertext);
          const opened = after.box.open(row?.secret ?? { keyId: '', ciphertext: '' }, totpContext(user.accountId, user.userId));
          expect(opened).toBeDefined();
          expect(oathHex(opened ?? new Uint8Array(), at)).toBe(oathHex(user.secret, at));
          expect(oathHex(opened ?? new Uint8Array(), at + 30_000)).toBe(oathHex(user.secret, at + 30_000));
        }

        // The signing keys open with the new key alone: the old one may leave the ring.
        const newOnly = boxOfKeyFile(data.dir, after.ids[0]);
        const signingAfter = await data.runtime.deps.store.signingKeys.all();
        expect(signingAfter.map((k) => k.privateJwk.keyId)).toEqual([after.ids[0], after.ids[0]]);
        const set = await keySetAt({ ...data.runtime.deps, secrets: newOnly.box }, Date.now());
        expect(set.keys.map((k) => k.kid).sort()).toEqual(signingBefore.map((k) => k.id).sort());

        // Nothing is left under the old key: a later plain rotate has nothing to do.
        expect(await data.runtime.deps.store.factors.sealedWithOtherKey(after.ids[0] ?? '', 10)).toEqual([]);
      } finally {
        await data.close();
      }
    });

    it('keys rotate with a PORTCULLIS_SECRET_KEY that lacks the key of existing rows reports them unreadable and exits 1', async ({ expect }) => {
      const data = await dataDir();
      try {
        const bob = await enrolledAgent(data, 'Lost Key Co');
        const before = firstTotp(await data.runtime.deps.store.factors.forUser(bob.accountId, bob.userId));
        const other = formatKey('other', randomBytes(32));
        const run = await portcullis(['keys', 'rotate'], { url: data.url, env: { PORTCULLIS_SECRET_KEY: other } });
        expect(run.code).toBe(1);
        expect(json(run)).toEqual({ activeKeyId: 'other', resealed: 0, unreadable: 1, signingKeys: { resealed: 0, unreadable: 0 } });
        // The row is left as it was: still readable with the key that sealed it.
        expect(firstTotp(await data.runtime.deps.store.factors.forUser(bob.accountId, bob.userId))).toEqual(before);
        expect(boxOfKeyFile(data.dir).box.open(before?.secret ?? { keyId: '', ciphertext: '' }, totpContext(bob.accountId, bob.userId))).toEqual(bob.secret);
      } finally {
        await data.close();
      }
    });
  });
});
