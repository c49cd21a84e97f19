import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Submission } from '../../src/services/mfa-challenge.ts';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import { createUser } from '../../src/services/users.ts';
import { openDatabase } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import type { AuditEvent } from '../../src/storage/records.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';

// What the MFA security tests share: a tenant with MFA on, users made per
// test (so one test's counters never leak into another's), and the two ways
// in, the pages and the JSON API. Every code a test types comes from oathtool
// (helpers/phone.ts), never from our own TOTP module.

export const STEP = 30_000;
export const MINUTE = 60_000;

/** An account with alice (admin), mia and bob, and MFA switched on. */
export async function mfaTenant(t: TestApp, name = 'Acme Support'): Promise<Tenant> {
  const tenant = await seedTenant(t.deps, name);
  await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
  return tenant;
}

export async function addUser(t: TestApp, tenant: Tenant, username: string, opts: { role?: string; email?: string } = {}): Promise<string> {
  const made = await createUser(
    t.deps,
    tenant.accountId,
    { username, role: opts.role ?? 'agent', password: PASSWORD, ...(opts.email ? { email: opts.email } : {}) },
    { userId: null, label: 'test', ip: null },
    'user',
  );
  if (!made.ok) throw new Error(`could not create ${username}: ${made.errors.join('; ')}`);
  return made.userId;
}

/**
 * Another Portcullis instance on the same database, through a connection of
 * its own (as behind a load balancer), with the same TOTP key. Its CSRF key
 * differs, so use it for API calls.
 */
export async function secondInstance(t: TestApp): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const database = t.db.name === 'sqlite' ? openDatabase(t.db.url) : openDatabase(t.db.url, { ...(t.db.schema ? { schema: t.db.schema } : {}), poolSize: 5 });
  const keys = parseKeyRing(`other:${randomBytes(32).toString('base64')}`);
  const app = await buildApp({ deps: { ...t.deps, store: createStore(database.db, database.dialect) }, keys });
  await app.ready();
  return {
    app,
    close: async () => {
      await app.close();
      await database.close();
    },
  };
}

/** The code the phone shows now (or some steps away), by oathtool. */
export function codeNow(t: TestApp, secret: string, stepOffset = 0): string {
  return oathCode(secret, t.clock.now(), stepOffset);
}

/**
 * A six-digit code that is none of the codes accepted now (previous, current
 * and next step, from one oathtool call), so a "wrong code" is never right by
 * a one-in-a-million chance.
 */
export function wrongCode(t: TestApp, secret: string): string {
  const seconds = Math.floor(t.clock.now() / 1000) - 30;
  const near = new Set(
    execFileSync('oathtool', ['--totp', '--base32', `--now=@${seconds}`, '-w', '2', secret], { encoding: 'utf8' }).trim().split('\n'),
  );
  for (const candidate of ['000000', '111111', '222222', '333333']) if (!near.has(candidate)) return candidate;
  throw new Error('unreachable: four candidates cannot all be among three codes');
}

/** "123 456", as some apps show a code. */
export function spaced(code: string): string {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

/** The recovery codes a page shows, one per line of its text area. */
export function recoveryCodesOn(html: string): string[] {
  const text = /<textarea[^>]*>([^<]+)<\/textarea>/.exec(html)?.[1];
  return text ? text.split('\n').map((c) => c.trim()).filter((c) => c !== '') : [];
}

/** A browser that has entered the password and opened the code page (set-up or verify). */
export async function pendingBrowser(t: TestApp, tenant: Tenant, username: string, ip?: string): Promise<{ browser: TestBrowser; page: LightMyRequestResponse }> {
  const browser = new TestBrowser(t.app, undefined, ip);
  const res = await browser.signIn(tenant.accountId, username, PASSWORD);
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe('/login/mfa');
  const page = await browser.get('/login/mfa');
  expect(page.statusCode).toBe(200);
  return { browser, page };
}

export interface Enrolled {
  secret: string;
  recoveryCodes: string[];
  /** Signed in with a full session. */
  browser: TestBrowser;
  /** The answer that showed the recovery codes. */
  answer: LightMyRequestResponse;
}

/** First sign-in through the pages: scans the QR code, types the current code, keeps the recovery codes. */
export async function enrolByPage(t: TestApp, tenant: Tenant, username: string, ip?: string): Promise<Enrolled> {
  const { browser, page } = await pendingBrowser(t, tenant, username, ip);
  const secret = secretOf(scanQr(page.body));
  const answer = await browser.post('/login/mfa', { code: codeNow(t, secret) });
  expect(answer.statusCode).toBe(200);
  const recoveryCodes = recoveryCodesOn(answer.body);
  expect(recoveryCodes).toHaveLength(10);
  return { secret, recoveryCodes, browser, answer };
}

/** A full sign-in through the pages with the current code. The caller moves the clock to a fresh step first. */
export async function signInByPage(t: TestApp, tenant: Tenant, username: string, secret: string, ip?: string): Promise<TestBrowser> {
  const { browser } = await pendingBrowser(t, tenant, username, ip);
  const res = await browser.post('/login/mfa', { code: codeNow(t, secret) });
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe('/');
  expect((await browser.get('/')).statusCode).toBe(200);
  return browser;
}

/** An API client (no Origin, JSON) after POST /api/v1/login. */
export async function apiPending(t: TestApp, tenant: Tenant, username: string, ip?: string): Promise<{ client: TestBrowser; res: LightMyRequestResponse }> {
  const client = new TestBrowser(t.app, undefined, ip);
  const res = await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username, password: PASSWORD });
  expect(res.statusCode).toBe(200);
  return { client, res };
}

export function apiCode(client: TestBrowser, code: string): Promise<LightMyRequestResponse> {
  return client.json('POST', '/api/v1/login/mfa', { code });
}

/** A full API session with the current code. The caller moves the clock to a fresh step first. */
export async function signInByApi(t: TestApp, tenant: Tenant, username: string, secret: string): Promise<TestBrowser> {
  const { client, res } = await apiPending(t, tenant, username);
  expect(res.json()).toEqual({ state: 'mfa_required' });
  const done = await apiCode(client, codeNow(t, secret));
  expect(done.statusCode).toBe(200);
  expect(done.json()).toMatchObject({ state: 'authenticated' });
  return client;
}

/** First sign-in through the API: the key URI from the login answer, then the code. */
export async function enrolByApi(t: TestApp, tenant: Tenant, username: string): Promise<{ secret: string; recoveryCodes: string[]; client: TestBrowser }> {
  const { client, res } = await apiPending(t, tenant, username);
  const body = res.json<{ state: string; otpauthUri: string }>();
  expect(body.state).toBe('mfa_enrollment_required');
  const secret = secretOf(body.otpauthUri);
  const done = await apiCode(client, codeNow(t, secret));
  expect(done.statusCode).toBe(200);
  const recoveryCodes = (done.json<{ recoveryCodes: string[] }>()).recoveryCodes;
  expect(recoveryCodes).toHaveLength(10);
  return { secret, recoveryCodes, client };
}

/** A PUT with a JSON body from a client's cookie jar (TestBrowser speaks GET and POST only); keeps the cookies it sets. */
export async function apiPut(t: TestApp, client: TestBrowser, url: string, body: unknown): Promise<LightMyRequestResponse> {
  const res = await t.app.inject({
    method: 'PUT',
    url,
    remoteAddress: client.ip,
    headers: {
      host: client.host,
      cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      'content-type': 'application/json',
    },
    payload: JSON.stringify(body),
  });
  for (const c of res.cookies) {
    if (c.value === '') client.cookies.delete(c.name);
    else client.cookies.set(c.name, c.value);
  }
  return res;
}

export function auditEvents(t: TestApp, accountId: string, action: string): Promise<AuditEvent[]> {
  return t.deps.store.audit.list(accountId, { action, limit: 500, offset: 0 });
}

/** The session rows of one user, straight from the table. */
export function sessionsOf(t: TestApp, userId: string): Promise<Array<{ id: string; state: string }>> {
  return t.db.database.db.selectFrom('sessions').select(['id', 'state']).where('user_id', '=', userId).execute();
}

/** Whether a six-digit code stands alone in a text (not inside a longer number such as a timestamp). */
export function containsCode(text: string, code: string): boolean {
  return new RegExp(`(?<![\\d.])${code}(?![\\d.])`).test(text);
}

/** What a client submits at the code step for an authenticator app's code (service-level tests). */
export function totp(code: string): Submission {
  return { method: 'totp', code };
}

/** A recovery code at the code step through the API: the client says so (`method`). */
export function apiRecoveryCode(client: TestBrowser, code: string): Promise<LightMyRequestResponse> {
  return client.json('POST', '/api/v1/login/mfa', { code, method: 'recovery_code' });
}
