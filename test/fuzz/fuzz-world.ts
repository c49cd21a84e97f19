import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { createUser } from '../../src/services/users.ts';
import { enrol } from '../admin/admin-support.ts';
import { cookieHeaderOf } from '../http/http-support.ts';

// The world every hostile-input test runs in: one app, two accounts and the
// callers the brief names, each with what a real one holds (cookies, a CSRF
// token bound to its session), so hostile input reaches the handlers.
//
//  - "Acme" has MFA off; alice (admin) is signed in there: `admin`.
//  - "Pending Co" has MFA on; its alice has an authenticator and a session
//    verified long enough ago that a reset asks for a step-up code:
//    `stepUpAdmin`. Its users p0…p9 never enrolled; `pending()` hands out
//    their pending sign-ins.

export const HOST = '127.0.0.1:3000';
export const ORIGIN = `http://${HOST}`;
const SEEDER = { userId: null, label: 'fuzz', ip: null };
const PENDING_USERS = 10;

export interface Caller {
  name: 'anonymous' | 'admin' | 'stepUpAdmin' | 'pending';
  cookie: string;
  csrf: string;
}

export interface World {
  t: TestApp;
  acme: Tenant;
  pendingCo: Tenant;
  anonymous: Caller;
  admin: Caller;
  stepUpAdmin: Caller;
  /** A pending sign-in (password done, code not yet), fresh or reused. */
  pending(): Promise<Caller>;
  /** Forget a pending sign-in the answer ended, and lift the code locks it ran into (they are by design). */
  settlePending(caller: Caller, res: LightMyRequestResponse): Promise<void>;
  /** After a code lock of the step-up admin, lift it, so later cases reach the code check again. */
  liftCodeLocks(): Promise<void>;
  /** Every row a refused request must leave alone, as one comparable string. */
  protectedState(): Promise<string>;
  /** The full sessions: a refused request ends none and makes none. */
  fullSessions(): Promise<string>;
  inject(opts: { method: string; url: string; ip: string; caller?: Caller; headers?: Record<string, string>; payload?: string | Buffer }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

function callerOf(name: Caller['name'], browser: TestBrowser): Caller {
  return { name, cookie: cookieHeaderOf(browser), csrf: browser.csrf };
}

export async function buildWorld(kind: 'sqlite' | 'postgres'): Promise<World> {
  const t = await buildTestApp(kind, { PORTCULLIS_STEP_UP_MINUTES: '1' });
  const acme = await seedTenant(t.deps, 'Acme Support');
  const pendingCo = await seedTenant(t.deps, 'Pending Co');
  await t.deps.store.accounts.setMfaEnabled(pendingCo.accountId, true);
  for (let i = 0; i < PENDING_USERS; i++) {
    const made = await createUser(t.deps, pendingCo.accountId, { username: `p${i}`, role: 'agent', password: PASSWORD }, SEEDER, 'user');
    if (!made.ok) throw new Error(made.errors.join('; '));
  }

  const anonymousBrowser = new TestBrowser(t.app, HOST, '10.255.0.1');
  await anonymousBrowser.get('/login');
  const anonymous = callerOf('anonymous', anonymousBrowser);

  const stepUpBrowser = (await enrol(t, pendingCo.accountId, 'alice', '10.255.0.2')).browser;
  // Past the one-minute step-up age: a reset now asks for a code.
  t.clock.advance(2 * 60_000);
  await stepUpBrowser.get(`/manage/users/${pendingCo.agentId}/reset-mfa`);
  const stepUpAdmin = callerOf('stepUpAdmin', stepUpBrowser);

  const adminBrowser = new TestBrowser(t.app, HOST, '10.255.0.3');
  expect((await adminBrowser.signIn(acme.accountId, 'alice', PASSWORD)).headers.location).toBe('/');
  await adminBrowser.get('/manage/users');
  const admin = callerOf('admin', adminBrowser);

  const db = t.db.database.db;
  const pool: Caller[] = [];
  let nextPending = 0;

  const world: World = {
    t,
    acme,
    pendingCo,
    anonymous,
    admin,
    stepUpAdmin,
    async pending() {
      if (pool.length >= 3) return pool[Math.floor(Math.random() * pool.length)] as Caller;
      const browser = new TestBrowser(t.app, HOST, `10.254.${Math.floor(nextPending / 250) % 250}.${(nextPending % 250) + 1}`);
      const username = `p${nextPending++ % PENDING_USERS}`;
      const res = await browser.signIn(pendingCo.accountId, username, PASSWORD);
      expect(res.headers.location, `pending sign-in of ${username}: ${res.statusCode}`).toBe('/login/mfa');
      await browser.get('/login/mfa');
      const caller = callerOf('pending', browser);
      pool.push(caller);
      return caller;
    },
    async settlePending(caller, res) {
      const ended = res.statusCode === 429 || res.statusCode === 303 || res.cookies.some((c) => c.name === 'portcullis');
      if (!ended) return;
      const i = pool.indexOf(caller);
      if (i >= 0) pool.splice(i, 1);
      if (res.statusCode === 429) {
        await db.deleteFrom('throttles').where('scope', '=', 'totp').where('account_id', '=', pendingCo.accountId).where('subject', '!=', pendingCo.adminId).execute();
      }
    },
    async liftCodeLocks() {
      await db.deleteFrom('throttles').where('scope', '=', 'totp').where('subject', '=', pendingCo.adminId).execute();
    },
    async protectedState() {
      const [accounts, activeUsers, skills, userSkills, authenticators, recoveryCodes, passwordResets, accessRules, applications, rememberedBrowsers] = await Promise.all([
        db.selectFrom('accounts').selectAll().orderBy('id').execute(),
        db.selectFrom('users').selectAll().orderBy('id').execute(),
        db.selectFrom('skills').selectAll().orderBy('id').execute(),
        db.selectFrom('user_skills').selectAll().orderBy('user_id').orderBy('skill_id').execute(),
        db.selectFrom('factors').selectAll().orderBy('id').execute(),
        db.selectFrom('recovery_codes').selectAll().orderBy('id').execute(),
        db.selectFrom('password_resets').selectAll().orderBy('user_id').execute(),
        db.selectFrom('account_access_rules').selectAll().orderBy('account_id').execute(),
        // Applications (issue 13): a refused registration or edit writes none.
        db.selectFrom('applications').selectAll().orderBy('id').execute(),
        // Remember this browser (issue 15): a refused code step remembers no browser.
        db.selectFrom('remembered_browsers').selectAll().orderBy('id').execute(),
      ]);
      // A sign-in's time (migration 010) is activity, not protected state: the worlds sign callers in between cases.
      const users = activeUsers.map(({ last_active_at: _lastActive, ...user }) => user);
      return JSON.stringify({ accounts, users, skills, userSkills, authenticators, recoveryCodes, passwordResets, accessRules, applications, rememberedBrowsers }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    },
    async fullSessions() {
      const rows = await db.selectFrom('sessions').select(['id', 'user_id']).where('state', '=', 'full').orderBy('id').execute();
      return JSON.stringify(rows);
    },
    inject({ method, url, ip, caller, headers = {}, payload }) {
      return t.app.inject({
        method: method as 'GET',
        url,
        remoteAddress: ip,
        headers: { host: HOST, ...(caller?.cookie ? { cookie: caller.cookie } : {}), ...headers },
        ...(payload === undefined ? {} : { payload }),
      });
    },
    close: () => t.close(),
  };
  return world;
}
