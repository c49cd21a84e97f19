import { randomBytes } from 'node:crypto';
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Encode } from '../../src/domain/base32.ts';
import { generateRecoveryCodes, hashRecoveryCode } from '../../src/domain/recovery-codes.ts';
import { timeStep } from '../../src/domain/totp.ts';
import { totpContext } from '../../src/services/secret-box.ts';
import { hashToken } from '../../src/services/sessions.ts';
import * as foundation from '../../src/storage/migrations/001-foundation.ts';
import * as mfa from '../../src/storage/migrations/002-mfa.ts';
import * as userSearch from '../../src/storage/migrations/003-user-search.ts';
import * as nameSuffixes from '../../src/storage/migrations/004-name-suffixes.ts';
import * as sessionClient from '../../src/storage/migrations/005-session-client.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { BeforeMigrate, TestApp } from '../helpers/app.ts';
import { PASSWORD, TestBrowser } from '../helpers/client.ts';
import { secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { codeNow, STEP } from '../mfa/support.ts';

// Migration 006 (factors) on a database the previous schema made, with
// enrolled users, recovery codes, a live session and a sign-in half-way
// through set-up: after it, every user signs in as before.

const before: Record<string, Migration> = {
  '001-foundation': foundation,
  '002-mfa': mfa,
  '003-user-search': userSearch,
  '004-name-suffixes': nameSuffixes,
  '005-session-client': sessionClient,
};

const START = Date.UTC(2026, 10, 28, 9, 0, 0); // the test clock's start
const ACCOUNT = '61234567';

interface Seeded {
  secrets: Map<string, string>;
  userIds: Map<string, string>;
  recovery: string[];
  liveToken: string;
  pendingToken: string;
  setupSecret: string;
}

function seedPreviousSchema(into: Seeded): BeforeMigrate {
  return async (database, { secrets, hasher }) => {
    // The previous schema exactly: migrations 001–005 and nothing after, in
    // the table (and on PostgreSQL the schema) the service's migrator uses.
    const schema = database.dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db)).rows[0]?.schema : undefined;
    const migrator = new Migrator({
      db: database.db,
      provider: { getMigrations: async () => before },
      migrationTableName: 'portcullis_migrations',
      migrationLockTableName: 'portcullis_migrations_lock',
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const passwordHash = await hasher.hash(PASSWORD);
    await db.insertInto('accounts').values({ id: ACCOUNT, name: 'Legacy Support', mfa_enabled: 1, created_at: START - 86_400_000 }).execute();
    for (const [username, role] of [['alice', 'admin'], ['bob', 'agent'], ['carol', 'agent']] as const) {
      const id = randomBytes(16).toString('hex');
      into.userIds.set(username, id);
      await db
        .insertInto('users')
        .values({ id, account_id: ACCOUNT, username, username_key: username, role, password_hash: passwordHash, state: 'active', email: null, created_at: START - 86_400_000, updated_at: START - 86_400_000 })
        .execute();
    }
    const userId = (name: string) => into.userIds.get(name) ?? '';
    // alice and bob had set up an authenticator app; its last used step is an hour ago.
    for (const username of ['alice', 'bob']) {
      const secret = new Uint8Array(randomBytes(20));
      into.secrets.set(username, base32Encode(secret));
      const sealed = secrets.seal(secret, totpContext(ACCOUNT, userId(username)));
      await db
        .insertInto('authenticators')
        .values({
          id: randomBytes(16).toString('hex'),
          account_id: ACCOUNT,
          user_id: userId(username),
          secret_key_id: sealed.keyId,
          secret_ciphertext: sealed.ciphertext,
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
          last_used_step: timeStep(START, 30) - 120,
          drift_steps: 1,
          enrolled_at: START - 3_600_000,
          enrolled_ip: '198.51.100.4',
          last_used_at: START - 3_600_000,
        })
        .execute();
    }
    into.recovery = generateRecoveryCodes({ bytes: (n) => new Uint8Array(randomBytes(n)) });
    await db
      .insertInto('recovery_codes')
      .values(into.recovery.map((code) => ({ id: randomBytes(16).toString('hex'), account_id: ACCOUNT, user_id: userId('bob'), code_hash: hashRecoveryCode(userId('bob'), code.replaceAll('-', '')), used_at: null })))
      .execute();
    // bob is signed in (password and code ten minutes ago); carol is half-way through set-up.
    into.liveToken = randomBytes(32).toString('base64url');
    into.pendingToken = randomBytes(32).toString('base64url');
    const setup = new Uint8Array(randomBytes(20));
    into.setupSecret = base32Encode(setup);
    const sealedSetup = secrets.seal(setup, totpContext(ACCOUNT, userId('carol')));
    const session = { created_at: START - 600_000, last_seen_at: START - 60_000, code_failures: 0, client_ip: '198.51.100.4', client_agent: 'Firefox on Linux' };
    await db
      .insertInto('sessions')
      .values({ ...session, id: hashToken(into.liveToken), account_id: ACCOUNT, user_id: userId('bob'), state: 'full', expires_at: START + 3_600_000, mfa_verified_at: START - 600_000 })
      .execute();
    await db
      .insertInto('sessions')
      .values({
        ...session,
        id: hashToken(into.pendingToken),
        account_id: ACCOUNT,
        user_id: userId('carol'),
        state: 'pending',
        expires_at: START + 240_000,
        mfa_verified_at: null,
        enrollment_key_id: sealedSetup.keyId,
        enrollment_secret: sealedSetup.ciphertext,
      })
      .execute();
  };
}

async function signIn(t: TestApp, username: string): Promise<TestBrowser> {
  const client = new TestBrowser(t.app);
  const res = await client.json('POST', '/api/v1/login', { accountId: ACCOUNT, username, password: PASSWORD });
  expect(res.json()).toEqual({ state: 'mfa_required' });
  return client;
}

for (const kind of await storeKinds()) {
  describe(`migration 006: authenticators become factors (${kind})`, () => {
    let t: TestApp;
    const seeded: Seeded = { secrets: new Map(), userIds: new Map(), recovery: [], liveToken: '', pendingToken: '', setupSecret: '' };

    beforeAll(async () => {
      t = await buildTestApp(kind, {}, seedPreviousSchema(seeded));
    });
    afterAll(async () => {
      await t?.close();
    });

    it('moves every authenticator with its secret, last used step, drift and times, as an app named "Authenticator app"', async () => {
      const rows = await t.db.database.db.selectFrom('factors').selectAll().where('account_id', '=', ACCOUNT).orderBy('user_id').execute();
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row).toMatchObject({ type: 'totp', name: 'Authenticator app', algorithm: 'SHA1', digits: 6, period: 30, drift_steps: 1, created_ip: '198.51.100.4' });
        expect(Number(row.last_used_step)).toBe(timeStep(START, 30) - 120);
        expect(Number(row.created_at)).toBe(START - 3_600_000);
      }
      const tables = kind === 'sqlite'
        ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'authenticators'`.execute(t.db.database.db)
        : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_name = 'authenticators'`.execute(t.db.database.db);
      expect(tables.rows).toEqual([]);
    });

    it('signs every enrolled user in with the same authenticator app, and the replay defence came along', async () => {
      t.clock.set(START + 5 * STEP);
      for (const username of ['alice', 'bob']) {
        const secret = seeded.secrets.get(username) ?? '';
        const client = await signIn(t, username);
        const res = await client.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret) });
        expect(res.statusCode, username).toBe(200);
        expect((await client.json('GET', '/api/v1/session')).json()).toMatchObject({ state: 'authenticated' });
        // The code just used is refused on a new sign-in: the step was recorded on the moved row.
        const again = await signIn(t, username);
        expect((await again.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(401);
      }
    });

    it('keeps the recovery codes: one signs in once', async () => {
      const client = await signIn(t, 'bob');
      const res = await client.json('POST', '/api/v1/login/mfa', { code: seeded.recovery[3], method: 'recovery_code' });
      expect(res.json()).toEqual({ state: 'authenticated', recoveryCodesLeft: 9 });
      const replay = await signIn(t, 'bob');
      expect((await replay.json('POST', '/api/v1/login/mfa', { code: seeded.recovery[3], method: 'recovery_code' })).statusCode).toBe(401);
    });

    it('keeps a live session signed in, recorded as password and authenticator app', async () => {
      t.clock.set(START);
      const browser = new TestBrowser(t.app);
      browser.cookies.set('portcullis', seeded.liveToken);
      const res = await browser.json('GET', '/api/v1/sessions');
      expect(res.statusCode).toBe(200);
      const sessions = res.json<{ sessions: Array<{ current: boolean; signedInWith: string; amr: string[] }> }>().sessions;
      expect(sessions.find((s) => s.current)).toMatchObject({ signedInWith: 'password and authenticator app', amr: ['pwd', 'otp', 'mfa'] });
    });

    it('keeps a sign-in half-way through set-up on the secret it was shown, and finishes it', async () => {
      t.clock.set(START);
      const browser = new TestBrowser(t.app);
      browser.cookies.set('portcullis', seeded.pendingToken);
      const offer = await browser.json('GET', '/api/v1/login/mfa/enrollment');
      expect(offer.statusCode).toBe(200);
      expect(secretOf(offer.json<{ otpauthUri: string }>().otpauthUri)).toBe(seeded.setupSecret);
      const done = await browser.json('POST', '/api/v1/login/mfa', { code: codeNow(t, seeded.setupSecret) });
      expect(done.statusCode).toBe(200);
      expect(done.json<{ recoveryCodes: string[] }>().recoveryCodes).toHaveLength(10);
      expect(await t.deps.store.factors.forUser(ACCOUNT, seeded.userIds.get('carol') ?? '')).toHaveLength(1);
    });
  });
}
