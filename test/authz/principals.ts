import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { createUser } from '../../src/services/users.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';
import type { Principal } from './rules.ts';

// The people of the matrix, each made afresh for every request it sends, so
// that no request (a sign-out, a completed code, an idle hour) changes what
// the next one sees. Codes come from oathtool, QR codes are read by zbarimg.

const STEP = 30_000;
const MINUTE = 60_000;
const SESSION_COOKIE = 'portcullis';
const SEEDER = { userId: null, label: 'test', ip: null };

export interface World {
  t: TestApp;
  /** Account A: MFA on; admin alice, agent-manager mia, agent bob (all enrolled); pat and tess, throwaway agents. */
  a: Tenant;
  /** Account B: MFA on; its admin alice is enrolled. */
  b: Tenant;
  /** The user of A named by ":id" URLs: tess, a throwaway agent (her MFA may be reset at will). */
  targetId: string;
  secrets: Map<string, string>;
}

export interface Actor {
  principal: Principal;
  browser: TestBrowser;
  /** A page this principal may open to get a CSRF token for its form posts. */
  tokenPage: string;
  /** A current code of the principal's own authenticator (pending sign-ins only; others get a dummy). */
  code(): string;
}

const key = (accountId: string, username: string) => `${accountId}/${username}`;

async function addUser(t: TestApp, accountId: string, username: string): Promise<string> {
  const made = await createUser(t.deps, accountId, { username, role: 'agent', password: PASSWORD }, SEEDER, 'user');
  if (!made.ok) throw new Error(`could not create ${username}: ${made.errors.join(' ')}`);
  return made.userId;
}

/** Enrols a user as a person would: password, scan the QR code, type the code. Answers the secret. */
async function enrol(t: TestApp, accountId: string, username: string): Promise<string> {
  const browser = new TestBrowser(t.app);
  const res = await browser.signIn(accountId, username, PASSWORD);
  expect(res.headers.location, `sign-in of ${username} before enrolment`).toBe('/login/mfa');
  const secret = secretOf(scanQr((await browser.get('/login/mfa')).body));
  const done = await browser.post('/login/mfa', { code: oathCode(secret, t.clock.now()) });
  expect(done.body, `enrolment of ${username}`).toContain('Save your recovery codes');
  return secret;
}

export async function buildWorld(t: TestApp): Promise<World> {
  const a = await seedTenant(t.deps, 'Acme Support');
  const b = await seedTenant(t.deps, 'Beta Support');
  await addUser(t, a.accountId, 'pat');
  const targetId = await addUser(t, a.accountId, 'tess');
  await t.deps.store.accounts.setMfaEnabled(a.accountId, true);
  await t.deps.store.accounts.setMfaEnabled(b.accountId, true);
  const secrets = new Map<string, string>();
  for (const [accountId, username] of [
    [a.accountId, 'alice'],
    [a.accountId, 'mia'],
    [a.accountId, 'bob'],
    [b.accountId, 'alice'],
  ] as const) {
    secrets.set(key(accountId, username), await enrol(t, accountId, username));
  }
  return { t, a, b, targetId, secrets };
}

function secretFor(w: World, accountId: string, username: string): string {
  const secret = w.secrets.get(key(accountId, username));
  if (!secret) throw new Error(`no authenticator known for ${username}`);
  return secret;
}

/** A pending sign-in: the password is done, the code is outstanding. */
async function passwordOnly(w: World, accountId: string, username: string): Promise<TestBrowser> {
  const browser = new TestBrowser(w.t.app);
  const res = await browser.signIn(accountId, username, PASSWORD);
  expect(res.headers.location, `password sign-in of ${username}`).toBe('/login/mfa');
  return browser;
}

/** A full session: password, then a code of a step no earlier sign-in of this user used. */
async function withCode(w: World, accountId: string, username: string): Promise<TestBrowser> {
  const browser = await passwordOnly(w, accountId, username);
  w.t.clock.advance(STEP);
  await browser.get('/login/mfa');
  const done = await browser.post('/login/mfa', { code: oathCode(secretFor(w, accountId, username), w.t.clock.now()) });
  expect(done.headers.location, `code sign-in of ${username}`).toBe('/');
  return browser;
}

/** Makes the principal afresh. */
export async function become(w: World, principal: Principal): Promise<Actor> {
  const { a, b, t } = w;
  const dummy = () => '000000';
  const full = (browser: TestBrowser): Actor => ({ principal, browser, tokenPage: '/', code: dummy });
  switch (principal) {
    case 'anonymous':
      return { principal, browser: new TestBrowser(t.app), tokenPage: '/login', code: dummy };
    case 'pending': {
      const browser = await passwordOnly(w, a.accountId, 'alice');
      const code = () => {
        t.clock.advance(STEP);
        return oathCode(secretFor(w, a.accountId, 'alice'), t.clock.now());
      };
      return { principal, browser, tokenPage: '/login/mfa', code };
    }
    case 'agent':
      return full(await withCode(w, a.accountId, 'bob'));
    case 'agent-manager':
      return full(await withCode(w, a.accountId, 'mia'));
    case 'admin':
      return full(await withCode(w, a.accountId, 'alice'));
    case 'other-admin':
      return full(await withCode(w, b.accountId, 'alice'));
    case 'signed-out': {
      const browser = await withCode(w, a.accountId, 'alice');
      const cookie = browser.cookies.get(SESSION_COOKIE);
      if (!cookie) throw new Error('no session cookie after sign-in');
      await browser.get('/');
      expect((await browser.post('/logout', {})).headers.location).toBe('/login');
      // The browser dropped it; someone who kept a copy sends it again.
      browser.cookies.set(SESSION_COOKIE, cookie);
      return { principal, browser, tokenPage: '/login', code: dummy };
    }
    case 'expired': {
      const browser = await withCode(w, a.accountId, 'alice');
      t.clock.advance(31 * MINUTE);
      return { principal, browser, tokenPage: '/login', code: dummy };
    }
  }
}

function cookieHeader(browser: TestBrowser): Record<string, string> {
  return browser.cookies.size === 0 ? {} : { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
}

/** A request without a body (GET, HEAD) with the actor's cookies; optionally from another address. */
export function fetchAs(w: World, actor: Actor, method: 'GET' | 'HEAD', url: string, remoteAddress = actor.browser.ip): Promise<LightMyRequestResponse> {
  const { browser } = actor;
  return w.t.app.inject({ method, url, remoteAddress, headers: { host: browser.host, ...cookieHeader(browser) } });
}

/** A same-origin JSON call, as a script of the service's own pages (or a client holding the cookie) sends it. */
export function jsonAs(w: World, actor: Actor, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body: unknown): Promise<LightMyRequestResponse> {
  const { browser } = actor;
  return w.t.app.inject({
    method,
    url,
    remoteAddress: browser.ip,
    headers: {
      host: browser.host,
      origin: `http://${browser.host}`,
      ...cookieHeader(browser),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

/** A form post with a CSRF token from a page this principal may open (so what is tested is authorization, not CSRF). */
export async function postFormAs(actor: Actor, url: string, fields: () => Record<string, string | string[]>): Promise<LightMyRequestResponse> {
  const page = await actor.browser.get(actor.tokenPage);
  expect(page.statusCode, `${actor.principal} opens ${actor.tokenPage} for a CSRF token`).toBe(200);
  return actor.browser.post(url, fields());
}
