import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addressSource, apiGet, apiPost, cookieNamed, sessionCount } from './http-support.ts';

/** A 4xx JSON error in the catalogue's shape: {error, message} and nothing that smells of a stack. */
function expectJsonError(res: LightMyRequestResponse, status: number | 'any4xx', code?: string) {
  if (status === 'any4xx') {
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
  } else {
    expect(res.statusCode).toBe(status);
  }
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json<Record<string, unknown>>();
  expect(typeof body.error).toBe('string');
  expect(typeof body.message).toBe('string');
  if (code) expect(body.error).toBe(code);
  expect(Object.keys(body).sort()).toEqual(['error', 'message']);
  expect(res.body).not.toMatch(/\bat .+\(|node_modules|\.ts:\d+|\.js:\d+|stack|FST_/);
  expect(cookieNamed(res, 'portcullis')).toBeUndefined();
}

describe('API login input handling (sqlite)', () => {
  let t: TestApp;
  let tenant: Tenant;
  const nextIp = addressSource('10.60');

  beforeAll(async () => {
    t = await buildTestApp('sqlite');
    tenant = await seedTenant(t.deps);
  });
  afterAll(async () => {
    await t?.close();
  });

  const raw = (payload: string | Buffer, contentType = 'application/json') =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/login',
      remoteAddress: nextIp(),
      headers: { host: '127.0.0.1:3000', 'content-type': contentType },
      payload,
    });

  it('signs in with the three fields and sets the session cookie', async () => {
    const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD }, { ip: nextIp() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ state: 'authenticated' });
    expect(cookieNamed(res, 'portcullis')).toBeDefined();
  });

  it('refuses missing fields with 400 and a JSON error', async () => {
    const before = await sessionCount(t);
    for (const body of [{}, { accountId: tenant.accountId, username: 'alice' }, { username: 'alice', password: PASSWORD }, { accountId: tenant.accountId, password: PASSWORD }]) {
      expectJsonError(await apiPost(t.app, '/api/v1/login', body, { ip: nextIp() }), 400, 'invalid_request');
    }
    expect(await sessionCount(t)).toBe(before);
  });

  it('refuses wrong types with 400 (no coercion of numbers, arrays or objects into credentials)', async () => {
    const bodies: unknown[] = [
      { accountId: Number(tenant.accountId), username: 'alice', password: PASSWORD },
      { accountId: tenant.accountId, username: ['alice'], password: PASSWORD },
      { accountId: tenant.accountId, username: 'alice', password: { $ne: '' } },
      { accountId: tenant.accountId, username: 'alice', password: true },
      { accountId: tenant.accountId, username: 'alice', password: null },
      null,
      [],
      'alice',
      42,
    ];
    for (const body of bodies) {
      const res = await apiPost(t.app, '/api/v1/login', body, { ip: nextIp() });
      expectJsonError(res, 400, 'invalid_request');
    }
  });

  it('refuses empty strings and over-long fields with 400', async () => {
    expectJsonError(await apiPost(t.app, '/api/v1/login', { accountId: '', username: 'alice', password: PASSWORD }, { ip: nextIp() }), 400);
    expectJsonError(await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: 'x'.repeat(5000) }, { ip: nextIp() }), 400);
  });

  it('refuses extra fields with 400', async () => {
    const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD, role: 'admin' }, { ip: nextIp() });
    expectJsonError(res, 400, 'invalid_request');
  });

  it('refuses a prototype-poisoning body', async () => {
    const res = await raw(`{"accountId":"${tenant.accountId}","username":"alice","password":"${PASSWORD}","__proto__":{"admin":true}}`);
    expectJsonError(res, 'any4xx');
  });

  it('refuses a 2 MB body with 413 without reading it into a session', async () => {
    const huge = JSON.stringify({ accountId: tenant.accountId, username: 'alice', password: 'p'.repeat(2 * 1024 * 1024) });
    const res = await raw(huge);
    expectJsonError(res, 413, 'payload_too_large');
  });

  it('refuses a 2 MB sign-in form with 413 and a page, not a crash', async () => {
    const browser = new TestBrowser(t.app, undefined, nextIp());
    await browser.get('/login');
    const res = await browser.post('/login', { accountId: tenant.accountId, username: 'alice', password: 'p'.repeat(2 * 1024 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).not.toMatch(/node_modules|\.ts:\d+|FST_/);
    expect(cookieNamed(res, 'portcullis')).toBeUndefined();
  });

  it('refuses invalid JSON with 400', async () => {
    for (const payload of ['{', '{"accountId": "1", }', 'not json', '{"accountId":"1","username":"a","password":"p"']) {
      expectJsonError(await raw(payload), 400, 'invalid_request');
    }
  });

  it('refuses an empty body with 400', async () => {
    expectJsonError(await raw(''), 400, 'invalid_request');
  });

  it('refuses a body with no content type, or a non-JSON one, with 415', async () => {
    const body = JSON.stringify({ accountId: tenant.accountId, username: 'alice', password: PASSWORD });
    expectJsonError(await raw(body, 'text/plain'), 415, 'unsupported_media_type');
    expectJsonError(await raw(body, 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
    expectJsonError(await raw(body, 'application/xml'), 415, 'unsupported_media_type');
  });

  it('answers a wrong password with 401 invalid_credentials', async () => {
    const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: 'wrong wrong wrong' }, { ip: nextIp() });
    expectJsonError(res, 401, 'invalid_credentials');
    expect(res.json()).toMatchObject({ message: 'Incorrect account number, username or password' });
  });

  it('answers the form login with missing fields with 401 and the generic message', async () => {
    const cases: Array<Record<string, string>> = [{}, { accountId: tenant.accountId }, { accountId: tenant.accountId, username: 'alice' }, { username: 'alice', password: PASSWORD }];
    for (const fields of cases) {
      const browser = new TestBrowser(t.app, undefined, nextIp());
      await browser.get('/login');
      const res = await browser.post('/login', fields);
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('Incorrect account number, username or password');
      expect(cookieNamed(res, 'portcullis')).toBeUndefined();
    }
  });

  it('treats repeated form fields as missing rather than crashing', async () => {
    const browser = new TestBrowser(t.app, undefined, nextIp());
    await browser.get('/login');
    const res = await t.app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: browser.ip,
      headers: {
        host: browser.host,
        origin: `http://${browser.host}`,
        cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: `_csrf=${encodeURIComponent(browser.csrf)}&accountId=${tenant.accountId}&username=alice&username=bob&password=x`,
    });
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('Incorrect account number, username or password');
  });

  it('answers unknown API routes with a JSON 404', async () => {
    for (const res of [await apiGet(t.app, '/api/v1/nope'), await apiPost(t.app, '/api/v2/login', {}), await apiGet(t.app, '/api/')]) {
      expectJsonError(res, 404, 'not_found');
    }
  });

  it('answers unknown pages with an HTML 404 page', async () => {
    const res = await new TestBrowser(t.app).get('/no/such/page');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<!doctype html>');
    expect(res.body).toContain('Page not found');
    expect(res.body).not.toMatch(/node_modules|\.ts:\d+|FST_/);
  });

  it('answers a wrong method on the login endpoint without a stack trace', async () => {
    const res = await apiGet(t.app, '/api/v1/login');
    expectJsonError(res, 'any4xx');
  });

  it('answers GET /healthz with {"status":"ok"}', async () => {
    const res = await apiGet(t.app, '/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('serves an OpenAPI 3 document that lists the sign-in calls', async () => {
    const res = await apiGet(t.app, '/api/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = res.json<{ openapi: string; info: { title: string }; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.paths['/api/v1/login']?.post).toBeDefined();
    expect(doc.paths['/api/v1/logout']?.post).toBeDefined();
    const login = doc.paths['/api/v1/login']?.post as { requestBody?: { content?: Record<string, unknown> }; responses?: Record<string, unknown> };
    expect(Object.keys(login.requestBody?.content ?? {})).toContain('application/json');
    expect(Object.keys(login.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '429']));
  });
});

for (const kind of await storeKinds()) {
  describe(`wrong password and unknown user look the same (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    const nextIp = addressSource('10.61');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(async () => {
      await t?.close();
    });

    const login = (accountId: string, username: string, password: string) =>
      apiPost(t.app, '/api/v1/login', { accountId, username, password }, { ip: nextIp() });

    function comparable(res: LightMyRequestResponse) {
      const headers = { ...res.headers };
      delete headers.date;
      delete headers['content-length'];
      delete headers['x-request-id'];
      return { status: res.statusCode, body: res.body, headers, cookies: res.cookies.map((c) => c.name) };
    }

    it('answers the API identically for a wrong password, an unknown user and an unknown account', async () => {
      const wrong = await login(tenant.accountId, 'alice', 'wrong password here');
      const unknown = await login(tenant.accountId, 'nobody', 'wrong password here');
      const noAccount = await login('99999999', 'alice', 'wrong password here');
      const badAccount = await login('not-a-number', 'alice', 'wrong password here');
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toEqual({ error: 'invalid_credentials', message: 'Incorrect account number, username or password' });
      for (const other of [unknown, noAccount, badAccount]) expect(comparable(other)).toEqual(comparable(wrong));
    });

    it('answers the page identically for a wrong password and an unknown user', async () => {
      const signIn = async (username: string) => new TestBrowser(t.app, undefined, nextIp()).signIn(tenant.accountId, username, 'wrong password here');
      const wrong = await signIn('alice');
      const unknown = await signIn('nobody');
      expect(wrong.statusCode).toBe(401);
      expect(unknown.statusCode).toBe(wrong.statusCode);
      const normalise = (res: LightMyRequestResponse, echoed: string) =>
        res.body.replace(/name="_csrf" value="[^"]*"/g, '').replace(`value="${echoed}"`, 'value="X"');
      expect(normalise(unknown, 'nobody')).toBe(normalise(wrong, 'alice'));
      expect(unknown.headers['set-cookie'] === undefined).toBe(wrong.headers['set-cookie'] === undefined);
    });

    it('answers a disabled user like a wrong password', async () => {
      await t.db.database.db.updateTable('users').set({ state: 'disabled' }).where('id', '=', tenant.managerId).execute();
      const disabled = await login(tenant.accountId, 'mia', PASSWORD);
      const wrong = await login(tenant.accountId, 'alice', 'wrong password here');
      expect(comparable(disabled)).toEqual(comparable(wrong));
    });
  });
}
