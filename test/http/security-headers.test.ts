import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { apiGet, apiPost, cookieNamed, setCookieLines } from './http-support.ts';

// Header and cookie-format checks: they do not depend on the store, so they run on SQLite only.

function directives(res: LightMyRequestResponse): Map<string, string> {
  const csp = String(res.headers['content-security-policy'] ?? '');
  const map = new Map<string, string>();
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values.join(' '));
  }
  return map;
}

function expectPageHeaders(res: LightMyRequestResponse) {
  const csp = directives(res);
  expect(csp.get('frame-ancestors')).toBe("'none'");
  expect(csp.get('default-src')).toBe("'none'");
  // Scripts and fetches from our own origin only (the security-key pages load
  // @simplewebauthn/browser from /assets and fetch their options from the API).
  expect(csp.get('script-src')).toBe("'self'");
  expect(csp.get('connect-src')).toBe("'self'");
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['referrer-policy']).toBe('same-origin');
}

describe('security headers (sqlite)', () => {
  let t: TestApp;
  let tenant: Tenant;

  beforeAll(async () => {
    t = await buildTestApp('sqlite');
    tenant = await seedTenant(t.deps);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('sends an anti-framing CSP, X-Frame-Options, nosniff and a referrer policy on /login', async () => {
    const res = await new TestBrowser(t.app).get('/login');
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
  });

  it('sends the same headers on the signed-in home page, which must not be cached either', async () => {
    const browser = new TestBrowser(t.app);
    await browser.signIn(tenant.accountId, 'alice', PASSWORD);
    const home = await browser.get('/');
    expect(home.statusCode).toBe(200);
    expectPageHeaders(home);
    expect(home.headers['cache-control']).toBe('no-store');
  });

  it('sends them on error pages too (404, refused form)', async () => {
    const browser = new TestBrowser(t.app);
    const missing = await browser.get('/no/such/page');
    expect(missing.statusCode).toBe(404);
    expectPageHeaders(missing);
    await browser.get('/login');
    const refused = await browser.post('/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD }, { csrf: 'nope' });
    expect(refused.statusCode).toBe(403);
    expectPageHeaders(refused);
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('answers the API with no-store and nosniff, on success and on refusal', async () => {
    const ok = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD }, { ip: '10.9.0.1' });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['content-type']).toMatch(/^application\/json/);

    const refused = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: 'not the password' }, { ip: '10.9.0.2' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['cache-control']).toBe('no-store');

    const session = await apiGet(t.app, '/api/v1/session');
    expect(session.statusCode).toBe(401);
    expect(session.headers['cache-control']).toBe('no-store');
  });

  it('sends no HSTS over plain http', async () => {
    const res = await new TestBrowser(t.app).get('/login');
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, Path=/, without Secure and named portcullis on http', async () => {
    const res = await new TestBrowser(t.app).signIn(tenant.accountId, 'alice', PASSWORD);
    expect(res.statusCode).toBe(303);
    const cookie = cookieNamed(res, 'portcullis');
    expect(cookie).toBeDefined();
    expect(cookie?.httpOnly).toBe(true);
    expect(String(cookie?.sameSite).toLowerCase()).toBe('lax');
    expect(cookie?.secure).toBeFalsy();
    expect(cookie?.path).toBe('/');
    expect(cookie?.domain).toBeUndefined();
    // A browser session cookie: the server, not the browser, decides when it dies.
    expect(cookie?.maxAge).toBeUndefined();
    expect(cookie?.expires).toBeUndefined();
    expect(cookieNamed(res, '__Host-portcullis')).toBeUndefined();
  });

  it('sets the same session cookie from the API sign-in', async () => {
    const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: '10.9.0.3' });
    expect(res.statusCode).toBe(200);
    const line = setCookieLines(res).find((l) => l.startsWith('portcullis='));
    expect(line).toBeDefined();
    expect(line).toMatch(/;\s*HttpOnly/i);
    expect(line).toMatch(/;\s*SameSite=Lax/i);
    expect(line).not.toMatch(/;\s*Secure/i);
  });

  it('gives the session cookie 256 bits of url-safe randomness, different each time', async () => {
    const values = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await new TestBrowser(t.app, undefined, `10.9.1.${i + 1}`).signIn(tenant.accountId, 'bob', PASSWORD);
      const value = cookieNamed(res, 'portcullis')?.value ?? '';
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      values.add(value);
    }
    expect(values.size).toBe(3);
  });
});

describe('security headers behind https (sqlite)', () => {
  let t: TestApp;
  let tenant: Tenant;
  const origin = 'https://portcullis.example';

  function browser() {
    const b = new TestBrowser(t.app, 'portcullis.example');
    b.origin = origin;
    return b;
  }

  beforeAll(async () => {
    t = await buildTestApp('sqlite', { PORTCULLIS_PUBLIC_URL: origin });
    tenant = await seedTenant(t.deps);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('names the session cookie __Host-portcullis, Secure, Path=/ and without Domain', async () => {
    const res = await browser().signIn(tenant.accountId, 'alice', PASSWORD);
    expect(res.statusCode).toBe(303);
    expect(cookieNamed(res, 'portcullis')).toBeUndefined();
    const line = setCookieLines(res).find((l) => l.startsWith('__Host-portcullis='));
    expect(line).toBeDefined();
    expect(line).toMatch(/;\s*Secure(;|$)/i);
    expect(line).toMatch(/;\s*Path=\/(;|$)/i);
    expect(line).toMatch(/;\s*HttpOnly/i);
    expect(line).toMatch(/;\s*SameSite=Lax/i);
    expect(line).not.toMatch(/;\s*Domain=/i);
  });

  it('gives the CSRF secret cookie the __Host- prefix and Secure as well', async () => {
    const res = await browser().get('/login');
    const lines = setCookieLines(res);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatch(/^__Host-/);
      expect(line).toMatch(/;\s*Secure(;|$)/i);
      expect(line).toMatch(/;\s*Path=\/(;|$)/i);
      expect(line).not.toMatch(/;\s*Domain=/i);
    }
  });

  it('sends HSTS and keeps the anti-framing headers', async () => {
    const res = await browser().get('/login');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d{7,}/);
    expectPageHeaders(res);
  });

  it('recognises the session only under its __Host- name', async () => {
    const b = browser();
    await b.signIn(tenant.accountId, 'alice', PASSWORD);
    const token = b.cookies.get('__Host-portcullis');
    expect(token).toBeDefined();
    const home = await b.get('/');
    expect(home.statusCode).toBe(200);
    // The same token under the plain name (as a sibling http site could set it) is not a session.
    const plain = await apiGet(t.app, '/api/v1/session', { host: 'portcullis.example', cookie: `portcullis=${token}` });
    expect(plain.statusCode).toBe(401);
  });

  it('refuses a form posted from the http:// origin of the same host', async () => {
    const b = browser();
    await b.get('/login');
    const res = await b.post('/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD }, { origin: 'http://portcullis.example' });
    expect(res.statusCode).toBe(403);
    expect(cookieNamed(res, '__Host-portcullis')).toBeUndefined();
  });
});
