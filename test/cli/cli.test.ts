import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, portcullis } from '../helpers/cli.ts';
import type { Run } from '../helpers/cli.ts';
import { openRuntime } from '../../src/runtime.ts';
import type { Runtime } from '../../src/runtime.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { createPasswordHasher } from '../../src/services/passwords.ts';
import { openDatabase } from '../../src/storage/database.ts';
import type { OpenDatabase } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import type { Store } from '../../src/storage/store.ts';
import { hasPostgres, onPostgres, POSTGRES_URL } from '../helpers/stores.ts';

// The `portcullis` command as an operator runs it: a child process of
// bin/portcullis.js, the password on standard input, settings in the
// environment. What it wrote is checked by opening the database afterwards.

const PASSWORD = 'correct horse battery staple';

/** Standard output as the one JSON document a script would parse. */
function json(run: Run): unknown {
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`standard output is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** Whether stderr points at line n of a CSV file ("file.csv:3:" or "line 3"). */
function namesLine(stderr: string, n: number): boolean {
  return new RegExp(`(\\.csv:${n}\\b|\\bline ${n}\\b)`).test(stderr);
}

const verifier = createPasswordHasher({ argon2MemoryKiB: 1024, argon2Iterations: 1, argon2Parallelism: 1 });

/** Rows anywhere in the database that carry this account name or this username: what a failed command must not leave. */
async function traces(database: OpenDatabase, accountName: string, usernameKey: string): Promise<number> {
  const accounts = await database.db.selectFrom('accounts').select('id').where('name', '=', accountName).execute();
  const users = await database.db.selectFrom('users').select('id').where('username_key', '=', usernameKey).execute();
  return accounts.length + users.length;
}

describe('portcullis CLI (sqlite)', { timeout: 60_000 }, () => {
  let dir: string;
  let url: string;
  /** The test's own connection to the shared database, to seed accounts and check what the CLI wrote. */
  let runtime: Runtime;
  let store: Store;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
    url = `sqlite:${join(dir, 'p.db')}`;
    runtime = await openRuntime(childEnv(url), { logger: pino({ level: 'silent' }) });
    store = runtime.deps.store;
  });
  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An account of its own for one test, with the admin "root". */
  async function seedAccount(name = 'Seeded Support'): Promise<string> {
    const result = await createAccount(runtime.deps, { name, adminUsername: 'root', adminPassword: PASSWORD }, { userId: null, label: 'test', ip: null });
    if (!result.ok) throw new Error(result.errors.join('; '));
    return result.accountId;
  }

  function csv(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  // Each test below works on its own account (or its own database file), so they run side by side.
  describe.concurrent('account create', () => {
    it('creates an account with its admin on a new database and prints only {accountId, adminUserId}', async ({ expect }) => {
      const fresh = mkdtempSync(join(dir, 'fresh-'));
      const freshUrl = `sqlite:${join(fresh, 'p.db')}`;
      const run = await portcullis(['account', 'create', '--name', 'Globex Care', '--admin', 'Alice'], { url: freshUrl, stdin: `${PASSWORD}\n` });
      expect(run.code, run.stderr).toBe(0);
      const out = json(run) as Record<string, unknown>;
      expect(Object.keys(out).sort()).toEqual(['accountId', 'adminUserId']);
      expect(out.accountId).toMatch(/^\d+$/);
      expect(out.adminUserId).toEqual(expect.any(String));

      const database = openDatabase(freshUrl);
      try {
        const written = createStore(database.db, database.dialect);
        const accountId = out.accountId as string;
        expect(await written.accounts.get(accountId)).toMatchObject({ name: 'Globex Care', mfaEnabled: false });
        const admin = await written.users.findByUsername(accountId, 'alice');
        expect(admin).toMatchObject({ id: out.adminUserId, username: 'Alice', role: 'admin', state: 'active' });
        // The password is what was typed, without the newline that ended it.
        expect(await verifier.verify(admin?.passwordHash ?? '', PASSWORD)).toBe(true);
      } finally {
        await database.close();
      }
    });

    it('refuses a short admin password, says why, and writes nothing', async ({ expect }) => {
      const run = await portcullis(['account', 'create', '--name', 'Weak Co', '--admin', 'weakling'], { url, stdin: 'short1\n' });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/password/i);
      expect(run.stderr).toMatch(/12 characters/);
      expect(run.stdout).toBe('');
      expect(await traces(runtime.database, 'Weak Co', 'weakling')).toBe(0);
    });

    it('refuses a bad account name, says why, and writes nothing', async ({ expect }) => {
      const run = await portcullis(['account', 'create', '--name', 'Bad: Name', '--admin', 'badname'], { url, stdin: `${PASSWORD}\n` });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/account name/i);
      expect(run.stdout).toBe('');
      expect(await traces(runtime.database, 'Bad: Name', 'badname')).toBe(0);
    });
  });

  describe.concurrent('user create', () => {
    it('creates a user with role and skills and prints {userId}', async ({ expect }) => {
      const accountId = await seedAccount();
      const run = await portcullis(
        ['user', 'create', '--account', accountId, '--username', 'Mia', '--role', 'agent-manager', '--skills', 'Billing;Returns'],
        { url, stdin: `${PASSWORD}\n` },
      );
      expect(run.code, run.stderr).toBe(0);
      const out = json(run) as Record<string, unknown>;
      expect(Object.keys(out)).toEqual(['userId']);
      const user = await store.users.get(accountId, out.userId as string);
      expect(user).toMatchObject({ username: 'Mia', role: 'agent-manager', state: 'active' });
      expect(await verifier.verify(user?.passwordHash ?? '', PASSWORD)).toBe(true);
      expect((await store.skills.forUsers(accountId, [out.userId as string])).get(out.userId as string)).toEqual(['Billing', 'Returns']);
    });

    it('gives the user an initial password to change at the first sign-in; account create’s admin chose their own', async ({ expect }) => {
      const accountId = await seedAccount();
      const run = await portcullis(['user', 'create', '--account', accountId, '--username', 'newcomer', '--role', 'agent'], { url, stdin: `${PASSWORD}\n` });
      expect(run.code, run.stderr).toBe(0);
      expect((await store.users.findByUsername(accountId, 'newcomer'))?.passwordChangeRequired).toBe(true);
      expect((await store.users.findByUsername(accountId, 'root'))?.passwordChangeRequired).toBe(false);
    });

    it('user reset-password prints a one-time link for the user, stored hashed, and audits it', async ({ expect }) => {
      const accountId = await seedAccount();
      const run = await portcullis(['user', 'reset-password', '--account', accountId, '--username', 'root'], { url, stdin: '' });
      expect(run.code, run.stderr).toBe(0);
      const out = json(run) as { userId: string; link: string; emailed: boolean; expiresAt: string };
      expect(out).toMatchObject({ emailed: false, userId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(out.link).toMatch(/^http:\/\/localhost:3000\/password\/reset\/[A-Za-z0-9_-]{43}$/);
      const token = out.link.split('/').pop() as string;
      const { createHash } = await import('node:crypto');
      expect(await store.passwordResets.find(createHash('sha256').update(token).digest('hex'), Date.now())).toEqual({ accountId, userId: out.userId });
      const [event] = await store.audit.list(accountId, { action: 'user.password_reset_issued', limit: 1, offset: 0 });
      expect(event).toMatchObject({ actor: expect.stringMatching(/^cli/), targetUserId: out.userId });
      const missing = await portcullis(['user', 'reset-password', '--account', accountId, '--username', 'nobody'], { url, stdin: '' });
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('there is no user "nobody"');
    });

    it('refuses an unknown role', async ({ expect }) => {
      const accountId = await seedAccount();
      const run = await portcullis(['user', 'create', '--account', accountId, '--username', 'sam', '--role', 'supervisor'], { url, stdin: `${PASSWORD}\n` });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/Role must be one of admin, agent-manager, agent/);
      expect(run.stderr).not.toContain('supervisor');
      expect(run.stdout).toBe('');
      expect(await store.users.findByUsername(accountId, 'sam')).toBeUndefined();
    });

    it('refuses a username already taken in the account, whatever its case', async ({ expect }) => {
      const accountId = await seedAccount();
      const run = await portcullis(['user', 'create', '--account', accountId, '--username', 'ROOT', '--role', 'agent'], { url, stdin: `${PASSWORD}\n` });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/already taken/i);
      expect(run.stdout).toBe('');
      expect(await store.users.count(accountId)).toBe(1);
      expect((await store.users.findByUsername(accountId, 'root'))?.role).toBe('admin');
    });

    it('refuses an account that does not exist', async ({ expect }) => {
      const run = await portcullis(['user', 'create', '--account', '1', '--username', 'ghost', '--role', 'agent'], { url, stdin: `${PASSWORD}\n` });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/no account 1\b/i);
      expect(run.stdout).toBe('');
      expect(await traces(runtime.database, '', 'ghost')).toBe(0);
    });
  });

  describe.concurrent('user import', () => {
    it('imports every row of a file with a header and ";"-separated skills, and prints a summary', async ({ expect }) => {
      const accountId = await seedAccount();
      const file = csv(
        'good.csv',
        [
          'username,role,password,skills',
          'anna,agent,first long passphrase,Billing;Returns',
          'Ben,agent-manager,second long passphrase,Billing',
          'cleo,admin,third long passphrase',
          '',
        ].join('\n'),
      );
      const run = await portcullis(['user', 'import', '--account', accountId, file], { url });
      expect(run.code, run.stderr).toBe(0);
      expect(json(run)).toMatchObject({ imported: 3, skillsAssigned: 3 });

      expect(await store.users.count(accountId)).toBe(4);
      const anna = await store.users.findByUsername(accountId, 'anna');
      const ben = await store.users.findByUsername(accountId, 'ben');
      const cleo = await store.users.findByUsername(accountId, 'cleo');
      expect(anna?.role).toBe('agent');
      expect(ben).toMatchObject({ username: 'Ben', role: 'agent-manager' });
      expect(cleo?.role).toBe('admin');
      expect(await verifier.verify(anna?.passwordHash ?? '', 'first long passphrase')).toBe(true);
      const skills = await store.skills.forUsers(accountId, [anna?.id ?? '', ben?.id ?? '', cleo?.id ?? '']);
      expect([...skills.values()]).toEqual([['Billing', 'Returns'], ['Billing'], []]);
      expect((await store.skills.list(accountId)).map((s) => s.name)).toEqual(['Billing', 'Returns']);
    });

    it('reports every bad row by its line number and imports nothing of the file', async ({ expect }) => {
      const accountId = await seedAccount();
      const file = csv(
        'bad.csv',
        [
          'username,role,password,skills', // line 1
          'dora,agent,a fine long passphrase,Billing', // line 2
          'eli,supervisor,another long passphrase', // line 3: no such role
          'fay,agent,short', // line 4: password too short
          'DORA,agent,yet another passphrase', // line 5: same username as line 2
          'gus,agent,a fourth long passphrase', // line 6
        ].join('\n'),
      );
      const run = await portcullis(['user', 'import', '--account', accountId, file], { url });
      expect(run.code).not.toBe(0);
      for (const line of [3, 4, 5]) expect(namesLine(run.stderr, line), `line ${line} in:\n${run.stderr}`).toBe(true);
      expect(run.stderr).toMatch(/Role must be one of admin, agent-manager, agent/);
      expect(run.stderr).toMatch(/12 characters/);
      expect(run.stderr).toMatch(/nothing was imported/i);
      for (const line of [1, 2, 6]) expect(run.stderr).not.toContain(`bad.csv:${line}:`);
      expect(run.stdout).toBe('');

      expect(await store.users.count(accountId)).toBe(1);
      expect(await store.users.findByUsername(accountId, 'dora')).toBeUndefined();
      expect(await store.users.findByUsername(accountId, 'gus')).toBeUndefined();
      expect(await store.skills.list(accountId)).toEqual([]);
    });

    it('never prints a field of a file whose columns are swapped (the passwords would be shown)', async ({ expect }) => {
      const accountId = await seedAccount();
      // Role and password swapped, the same initial password for two users, the skills column holding a password.
      const file = csv(
        'swapped.csv',
        ['username,password,role', 'kim,Kim-Secret-Passw0rd-1,agent', 'Welcome-2026-Pass,agent,x', 'Welcome-2026-Pass,agent,x', 'lee,agent,a fine long passphrase,Lee!Secret pass 9'].join('\n'),
      );
      const run = await portcullis(['user', 'import', '--account', accountId, file], { url });
      expect(run.code).not.toBe(0);
      expect(namesLine(run.stderr, 2), run.stderr).toBe(true);
      for (const secret of ['Kim-Secret-Passw0rd-1', 'Welcome-2026-Pass', 'Lee!Secret pass 9']) {
        expect(run.stderr.toLowerCase()).not.toContain(secret.toLowerCase());
        expect(run.stdout.toLowerCase()).not.toContain(secret.toLowerCase());
      }
      expect(await store.users.count(accountId)).toBe(1);
    });

    it('refuses a file naming a user who already exists, and imports none of its rows', async ({ expect }) => {
      const accountId = await seedAccount();
      const file = csv('clash.csv', 'username,role,password\nhana,agent,a fine long passphrase\nRoot,agent,another long passphrase\n');
      const run = await portcullis(['user', 'import', '--account', accountId, file], { url });
      expect(run.code).not.toBe(0);
      expect(namesLine(run.stderr, 3), run.stderr).toBe(true);
      expect(run.stderr).toMatch(/already exists/i);
      expect(await store.users.count(accountId)).toBe(1);
      expect(await store.users.findByUsername(accountId, 'hana')).toBeUndefined();
    });

    it('reads a CRLF file with quoted fields holding commas and quotes', async ({ expect }) => {
      const accountId = await seedAccount();
      const file = csv(
        'crlf.csv',
        [
          'username,role,password,skills',
          'carol,agent,"comma, inside a passphrase"',
          '"dave",agent-manager,"another ""quoted"" passphrase","Billing;Tier 2"',
          '',
        ].join('\r\n'),
      );
      const run = await portcullis(['user', 'import', '--account', accountId, file], { url });
      expect(run.code, run.stderr).toBe(0);
      expect(json(run)).toMatchObject({ imported: 2 });

      const carol = await store.users.findByUsername(accountId, 'carol');
      const dave = await store.users.findByUsername(accountId, 'dave');
      expect(carol).toMatchObject({ username: 'carol', role: 'agent' });
      expect(dave).toMatchObject({ username: 'dave', role: 'agent-manager' });
      // The password is the whole quoted field: comma kept, no carriage return added.
      expect(await verifier.verify(carol?.passwordHash ?? '', 'comma, inside a passphrase')).toBe(true);
      expect(await verifier.verify(dave?.passwordHash ?? '', 'another "quoted" passphrase')).toBe(true);
      expect((await store.skills.forUsers(accountId, [dave?.id ?? ''])).get(dave?.id ?? '')).toEqual(['Billing', 'Tier 2']);
    });
  });

  describe.concurrent('migrate, usage and configuration', () => {
    it('creates the schema of a new database, and a second run changes nothing', async ({ expect }) => {
      const fresh = mkdtempSync(join(dir, 'migrate-'));
      const freshUrl = `sqlite:${join(fresh, 'p.db')}`;
      const first = await portcullis(['migrate'], { url: freshUrl });
      expect(first.code, first.stderr).toBe(0);

      const database = openDatabase(freshUrl);
      try {
        const written = createStore(database.db, database.dialect);
        await written.accounts.create({ id: '12345678', name: 'Kept', mfaEnabled: false, createdAt: Date.now() });
        const second = await portcullis(['migrate'], { url: freshUrl });
        expect(second.code, second.stderr).toBe(0);
        expect(await written.accounts.get('12345678')).toMatchObject({ name: 'Kept' });
        expect(await written.users.count('12345678')).toBe(0);
        const { rows } = await sql<{ name: string }>`select name from portcullis_migrations order by name`.execute(database.db);
        expect(rows.map((r) => r.name)).toEqual(['001-foundation', '002-mfa', '003-user-search', '004-name-suffixes', '005-session-client', '006-factors', '007-oidc', '008-webauthn', '009-password-resets', '010-access-rules', '011-factor-policy', '012-remembered-browsers', '013-passkey-challenges']);
      } finally {
        await database.close();
      }
    });

    it('answers an unknown command with exit code 2 and the usage', async ({ expect }) => {
      const run = await portcullis(['frobnicate', '--now'], { url });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/unknown command/i);
      expect(run.stderr).toContain('portcullis user import --account ID FILE.csv');
      expect(run.stdout).toBe('');
    });

    it('answers missing flags with exit code 2 and the usage of that command', async ({ expect }) => {
      const [account, userImport] = await Promise.all([
        portcullis(['account', 'create', '--name', 'No Admin'], { url, stdin: `${PASSWORD}\n` }),
        portcullis(['user', 'import', '--account', '12345678'], { url }),
      ]);
      expect(account.code).toBe(2);
      expect(account.stderr).toMatch(/usage/i);
      expect(account.stderr).toContain('portcullis account create --name NAME --admin USERNAME');
      expect(userImport.code).toBe(2);
      expect(userImport.stderr).toMatch(/usage/i);
      expect(userImport.stderr).toContain('portcullis user import --account ID FILE.csv');
    });

    it('explains a bad database URL as a configuration error, with exit code 1', async ({ expect }) => {
      const run = await portcullis(['migrate'], { url: 'mysql://x' });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/configuration/i);
      expect(run.stderr).toContain('PORTCULLIS_DATABASE_URL');
      // A message for a person, not a stack trace.
      expect(run.stderr).not.toMatch(/^\s+at /m);
    });
  });
});

const postgres = await hasPostgres();

describe.runIf(postgres)('portcullis CLI (postgres)', { timeout: 60_000 }, () => {
  const schema = `cli_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-pg-'));
    await onPostgres(`create schema ${schema}`);
    // node-postgres passes `options` from the URL to the server: the CLI works in this schema only.
    url = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  });
  afterAll(async () => {
    await onPostgres(`drop schema if exists ${schema} cascade`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates an account and imports users into PostgreSQL', async () => {
    const created = await portcullis(['account', 'create', '--name', 'Initech Help', '--admin', 'peter'], { url, stdin: `${PASSWORD}\n` });
    expect(created.code, created.stderr).toBe(0);
    const { accountId } = json(created) as { accountId: string };
    expect(accountId).toMatch(/^\d+$/);

    const file = join(dir, 'users.csv');
    writeFileSync(file, 'username,role,password,skills\nmilton,agent,a stapler passphrase,Billing;Returns\nsamir,agent-manager,another long passphrase,Billing\n');
    const imported = await portcullis(['user', 'import', '--account', accountId, file], { url });
    expect(imported.code, imported.stderr).toBe(0);
    expect(json(imported)).toMatchObject({ imported: 2 });

    const database = openDatabase(POSTGRES_URL, { schema, poolSize: 1 });
    try {
      const written = createStore(database.db, 'postgres');
      expect(await written.accounts.get(accountId)).toMatchObject({ name: 'Initech Help' });
      expect(await written.users.count(accountId)).toBe(3);
      const milton = await written.users.findByUsername(accountId, 'milton');
      expect(milton?.role).toBe('agent');
      expect((await written.skills.forUsers(accountId, [milton?.id ?? ''])).get(milton?.id ?? '')).toEqual(['Billing', 'Returns']);
    } finally {
      await database.close();
    }
  });
});
