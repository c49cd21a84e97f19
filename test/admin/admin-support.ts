import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { createUser } from '../../src/services/users.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, TestBrowser } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';

// Helpers shared by the admin tests: sign-ins that may need a code, enrolment
// and lockout played with the phone helpers (zbarimg, oathtool), JSON calls
// with any method, form posts with repeated fields, and snapshots of the
// tables an admin action would change.

export const STEP = 30_000;
export const MINUTE = 60_000;

/** Who a seeding call acts as. */
export const SEEDER = { userId: null, label: 'test', ip: null };

/** Creates a user through the service (cheap argon2 in tests); answers the id. */
export async function addUser(t: TestApp, accountId: string, username: string, role = 'agent', skills: string[] = []): Promise<string> {
  const made = await createUser(t.deps, accountId, { username, role, password: PASSWORD, skills }, SEEDER, 'user');
  if (!made.ok) throw new Error(`could not create ${username}: ${made.errors.join(' ')}`);
  return made.userId;
}

/**
 * Signs in through the pages and answers the browser with a full session.
 * When a code is asked for, types the current one for the known secret, a
 * step later than any code typed before (a code is accepted only once).
 */
export async function signedIn(t: TestApp, accountId: string, username: string, secret?: string, ip?: string): Promise<TestBrowser> {
  const browser = new TestBrowser(t.app, undefined, ip);
  const res = await browser.signIn(accountId, username, PASSWORD);
  if (res.headers.location === '/login/mfa') {
    if (!secret) throw new Error(`${username} is asked for a code and the test knows no secret`);
    t.clock.advance(STEP);
    await browser.get('/login/mfa');
    const done = await browser.post('/login/mfa', { code: oathCode(secret, t.clock.now()) });
    expect(done.headers.location, `code sign-in of ${username}`).toBe('/');
  } else {
    expect(res.headers.location, `password sign-in of ${username}: ${res.statusCode}`).toBe('/');
  }
  return browser;
}

/**
 * Enrols a user of an account with MFA on, as a person would: sign in, scan
 * the QR code (zbarimg), type the code (oathtool). Answers the base32 secret
 * and the browser, now signed in.
 */
export async function enrol(t: TestApp, accountId: string, username: string, ip?: string): Promise<{ secret: string; browser: TestBrowser }> {
  const browser = new TestBrowser(t.app, undefined, ip);
  const res = await browser.signIn(accountId, username, PASSWORD);
  expect(res.headers.location, `sign-in of ${username} before enrolment`).toBe('/login/mfa');
  const setup = await browser.get('/login/mfa');
  const secret = secretOf(scanQr(setup.body));
  const done = await browser.post('/login/mfa', { code: oathCode(secret, t.clock.now()) });
  expect(done.body).toContain('Save your recovery codes');
  return { secret, browser };
}

/** A six-digit code that none of the accepted steps (now, one either side) would give. */
export function wrongCode(secret: string, now: number): string {
  const accepted = new Set([-1, 0, 1].map((offset) => oathCode(secret, now, offset)));
  for (let i = 0; ; i++) {
    const candidate = String((123_456 + i * 7_919) % 1_000_000).padStart(6, '0');
    if (!accepted.has(candidate)) return candidate;
  }
}

/**
 * Locks an enrolled user's second factor with 10 consecutive wrong codes: a
 * pending sign-in takes 5, so two sign-ins. Answers the last response (429).
 */
export async function lockByWrongCodes(t: TestApp, accountId: string, username: string, secret: string): Promise<LightMyRequestResponse> {
  let last: LightMyRequestResponse | undefined;
  for (let round = 0; round < 2; round++) {
    const browser = new TestBrowser(t.app);
    expect((await browser.signIn(accountId, username, PASSWORD)).headers.location).toBe('/login/mfa');
    await browser.get('/login/mfa');
    for (let i = 0; i < 5; i++) last = await browser.post('/login/mfa', { code: wrongCode(secret, t.clock.now()) });
  }
  if (!last) throw new Error('unreachable');
  expect(last.statusCode, 'the tenth wrong code locks').toBe(429);
  return last;
}

function cookieHeader(browser: TestBrowser | null): Record<string, string> {
  if (!browser || browser.cookies.size === 0) return {};
  return { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
}

/**
 * A JSON API call with the browser's cookies (or none), like a non-browser
 * client: no Origin. A body is sent as application/json unless a
 * content-type is given; `raw` sends the payload as it is.
 */
export async function api(
  t: TestApp,
  browser: TestBrowser | null,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
  opts: { headers?: Record<string, string>; raw?: boolean } = {},
): Promise<LightMyRequestResponse> {
  const hasBody = payload !== undefined;
  return t.app.inject({
    method,
    url,
    remoteAddress: browser?.ip ?? '127.0.0.1',
    headers: {
      host: browser?.host ?? '127.0.0.1:3000',
      ...cookieHeader(browser),
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(hasBody ? { payload: opts.raw ? String(payload) : JSON.stringify(payload) } : {}),
  });
}

/**
 * A same-origin form post with repeated fields (checkbox groups), which
 * TestBrowser.post cannot send; carries the browser's cookies and CSRF token.
 */
export async function postForm(t: TestApp, browser: TestBrowser, url: string, entries: Array<[string, string]>): Promise<LightMyRequestResponse> {
  const body = new URLSearchParams(entries);
  body.set('_csrf', browser.csrf);
  return t.app.inject({
    method: 'POST',
    url,
    remoteAddress: browser.ip,
    headers: {
      host: browser.host,
      origin: `http://${browser.host}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...cookieHeader(browser),
    },
    payload: body.toString(),
  });
}

/** Expects a catalogued JSON error: the status, a stable code, a message. */
export function expectJsonError(res: LightMyRequestResponse, status: number, code?: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json<Record<string, unknown>>();
  expect(body.error).toEqual(code ?? expect.any(String));
  expect(body.message).toEqual(expect.any(String));
}

/**
 * Everything an admin action could change, account-wide: the account, its
 * users, skills, skill assignments, authenticators and recovery codes.
 * Sessions, throttles and audit events are left out (sign-ins write them).
 */
export async function snapshot(t: TestApp, accountId: string): Promise<unknown> {
  const db = t.db.database.db;
  const [accounts, activeUsers, skills, userSkills, authenticators, recoveryCodes, applications, accessRules] = await Promise.all([
    db.selectFrom('accounts').selectAll().where('id', '=', accountId).execute(),
    db.selectFrom('users').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
    db.selectFrom('skills').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
    db.selectFrom('user_skills').selectAll().where('account_id', '=', accountId).orderBy('user_id').orderBy('skill_id').execute(),
    db.selectFrom('factors').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
    db.selectFrom('recovery_codes').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
    db.selectFrom('applications').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
    db.selectFrom('account_access_rules').selectAll().where('account_id', '=', accountId).execute(),
  ]);
  // A sign-in's time (migration 010) is activity, not state an admin changes: callers sign in between snapshots.
  const users = activeUsers.map(({ last_active_at: _lastActive, ...user }) => user);
  return { accounts, users, skills, userSkills, authenticators, recoveryCodes, applications, accessRules };
}

/** The rows of the first table's body, each as the text of its cells (tags stripped, entities of & < > " decoded). */
export function tableRows(html: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] ?? '').matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => decode((cell[1] ?? '').replace(/<[^>]+>/g, '').trim())),
  );
}

export function decode(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
}

/** The usernames a Users & Skills page lists, in order. */
export function listedUsernames(html: string): string[] {
  return tableRows(html)
    .filter((cells) => cells.length === 5)
    .map((cells) => cells[0] ?? '');
}

/** The href of the link with exactly this text (as rendered, entities included). */
export function linkTo(html: string, text: string): string | undefined {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`<a[^>]*href="([^"]+)"[^>]*>${escaped}</a>`).exec(html)?.[1];
}
