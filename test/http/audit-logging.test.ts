import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { createUser } from '../../src/services/users.ts';
import { storeKinds } from '../helpers/stores.ts';
import type { AuditEvent } from '../../src/storage/records.ts';
import { addressSource, apiPost, cookieNamed, rawFormPost } from './http-support.ts';

// Distinctive strings, so a search of the logs cannot miss them or hit them by chance.
const SECRET_PASSWORD = 'Zebra-Quartz-Lantern-4471';
const WRONG_PASSWORD = 'Velvet-Anchor-Guess-9182';

for (const kind of await storeKinds()) {
  describe(`audit events for sign-in (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let userId: string;
    const nextIp = addressSource('10.70');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      const made = await createUser(t.deps, tenant.accountId, { username: 'olga', role: 'agent', password: SECRET_PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
      if (!made.ok) throw new Error(made.errors.join('; '));
      userId = made.userId;
    });
    afterAll(async () => {
      await t?.close();
    });

    const events = async (action?: string): Promise<AuditEvent[]> =>
      t.deps.store.audit.list(tenant.accountId, { ...(action ? { action } : {}), limit: 1000, offset: 0 });

    it('records a successful sign-in: who, when, from where, success', async () => {
      const ip = nextIp();
      const res = await new TestBrowser(t.app, undefined, ip).signIn(tenant.accountId, 'olga', SECRET_PASSWORD);
      expect(res.statusCode).toBe(303);
      const [event] = (await events('sign_in.password')).filter((e) => e.ip === ip);
      expect(event).toMatchObject({
        accountId: tenant.accountId,
        actorUserId: userId,
        targetUserId: userId,
        action: 'sign_in.password',
        result: 'success',
        ip,
        at: t.clock.now(),
      });
    });

    it('records a failed sign-in against the account, with the user it targeted', async () => {
      const ip = nextIp();
      const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'olga', password: WRONG_PASSWORD }, { ip });
      expect(res.statusCode).toBe(401);
      const [event] = (await events('sign_in.password')).filter((e) => e.ip === ip);
      expect(event).toMatchObject({ accountId: tenant.accountId, targetUserId: userId, result: 'failure', ip });
    });

    it('records a failed sign-in for an unknown username of the account', async () => {
      const ip = nextIp();
      await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'nobody-here', password: WRONG_PASSWORD }, { ip });
      const [event] = (await events('sign_in.password')).filter((e) => e.ip === ip);
      expect(event).toMatchObject({ accountId: tenant.accountId, targetUserId: null, target: 'nobody-here', result: 'failure' });
    });

    it('records the lock once, for the locked user, when the tenth failure locks it', async () => {
      const before = (await events('sign_in.locked')).filter((e) => e.targetUserId === userId).length;
      for (let i = 0; i < 10; i++) {
        await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'olga', password: WRONG_PASSWORD }, { ip: nextIp() });
      }
      // Attempts while locked do not add lock events.
      const locked = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'olga', password: SECRET_PASSWORD }, { ip: nextIp() });
      expect(locked.statusCode).toBe(429);
      const locks = (await events('sign_in.locked')).filter((e) => e.targetUserId === userId);
      expect(locks).toHaveLength(before + 1);
      expect(locks[0]).toMatchObject({ accountId: tenant.accountId, result: 'failure', targetUserId: userId });
      expect(JSON.stringify(locks[0]?.detail ?? {})).toContain(String(t.clock.now() + 15 * 60_000));
    });

    it('puts no password in any audit event', async () => {
      const everything = JSON.stringify(await events());
      expect(everything).not.toContain(SECRET_PASSWORD);
      expect(everything).not.toContain(WRONG_PASSWORD);
    });

    it("keeps one account's sign-in events out of another's trail", async () => {
      const other = await seedTenant(t.deps, 'Globex Care');
      await apiPost(t.app, '/api/v1/login', { accountId: other.accountId, username: 'alice', password: WRONG_PASSWORD }, { ip: nextIp() });
      const mine = await events();
      expect(mine.every((e) => e.accountId === tenant.accountId)).toBe(true);
      const theirs = await t.deps.store.audit.list(other.accountId, { action: 'sign_in.password', limit: 100, offset: 0 });
      expect(theirs).toHaveLength(1);
    });
  });

  describe(`logs keep secrets out (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    const nextIp = addressSource('10.71');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      const made = await createUser(t.deps, tenant.accountId, { username: 'olga', role: 'agent', password: SECRET_PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
      if (!made.ok) throw new Error(made.errors.join('; '));
    });
    afterAll(async () => {
      await t?.close();
    });

    it('never logs a password, a session token or a CSRF token, whatever the request', async () => {
      const secrets = new Set<string>([SECRET_PASSWORD, WRONG_PASSWORD]);
      const remember = (value: string | undefined) => {
        if (value) secrets.add(value);
      };

      // Form sign-in, a page, a refused form, sign-out.
      const browser = new TestBrowser(t.app, undefined, nextIp());
      await browser.get('/login');
      remember(browser.csrf);
      const signedIn = await browser.post('/login', { accountId: tenant.accountId, username: 'olga', password: SECRET_PASSWORD });
      expect(signedIn.statusCode).toBe(303);
      const formToken = cookieNamed(signedIn, 'portcullis')?.value;
      remember(formToken);
      await browser.get('/');
      remember(browser.csrf);
      for (const value of browser.cookies.values()) remember(value);
      expect((await browser.post('/logout', {}, { csrf: `${browser.csrf}tampered` })).statusCode).toBe(403);
      expect((await browser.post('/logout', {}, { origin: 'http://evil.example' })).statusCode).toBe(403);
      expect((await rawFormPost(t.app, browser, '/logout', { _csrf: browser.csrf }, { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
      expect((await browser.post('/logout', {})).statusCode).toBe(303);
      // A replayed, ended session.
      await t.app.inject({ method: 'GET', url: '/', headers: { host: '127.0.0.1:3000', cookie: `portcullis=${formToken ?? ''}` } });

      // Wrong passwords on the form and the API.
      const failing = new TestBrowser(t.app, undefined, nextIp());
      await failing.get('/login');
      remember(failing.csrf);
      expect((await failing.post('/login', { accountId: tenant.accountId, username: 'olga', password: WRONG_PASSWORD })).statusCode).toBe(401);
      expect((await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'olga', password: WRONG_PASSWORD }, { ip: nextIp() })).statusCode).toBe(401);

      // API sign-in, a session look-up and API sign-out with the token as cookie.
      const api = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'olga', password: SECRET_PASSWORD }, { ip: nextIp() });
      expect(api.statusCode).toBe(200);
      const apiToken = cookieNamed(api, 'portcullis')?.value ?? '';
      remember(apiToken);
      await t.app.inject({ method: 'GET', url: '/api/v1/session', headers: { host: '127.0.0.1:3000', cookie: `portcullis=${apiToken}` } });
      await t.app.inject({ method: 'POST', url: '/api/v1/logout', headers: { host: '127.0.0.1:3000', cookie: `portcullis=${apiToken}` } });

      // Malformed requests that carry the password: bad JSON, extra fields, wrong content type, too long.
      const post = (payload: string, contentType: string) =>
        t.app.inject({ method: 'POST', url: '/api/v1/login', remoteAddress: nextIp(), headers: { host: '127.0.0.1:3000', 'content-type': contentType }, payload });
      await post(`{"accountId":"${tenant.accountId}","username":"olga","password":"${SECRET_PASSWORD}" oops}`, 'application/json');
      await post(`{"accountId":"${tenant.accountId}","username":"olga","password":"Zebra"Quartz-Lantern-4471"}`, 'application/json');
      await post(JSON.stringify({ accountId: tenant.accountId, username: 'olga', password: SECRET_PASSWORD, extra: SECRET_PASSWORD }), 'application/json');
      await post(JSON.stringify({ accountId: tenant.accountId, username: 'olga', password: 123, note: SECRET_PASSWORD }), 'application/json');
      await post(`accountId=${tenant.accountId}&username=olga&password=${SECRET_PASSWORD}`, 'application/x-www-form-urlencoded');
      await post(JSON.stringify({ accountId: tenant.accountId, username: 'olga', password: SECRET_PASSWORD.repeat(60) }), 'application/json');
      // The password in the username field, a common slip.
      await post(JSON.stringify({ accountId: tenant.accountId, username: SECRET_PASSWORD, password: SECRET_PASSWORD }), 'application/json');
      // A CSRF token sent in a header, as a script would.
      await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: { host: '127.0.0.1:3000', 'x-csrf-token': browser.csrf, cookie: `portcullis-csrf=${browser.cookies.get('portcullis-csrf') ?? ''}` },
      });

      const logs = t.logs.text;
      // The sink really holds this file's requests (a silent logger would pass trivially).
      expect(logs).toContain('sign-in failed');
      expect(logs).toContain('request refused');
      expect(logs).toContain('/api/v1/login');
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(8);
        expect(logs, `a secret (${secret.slice(0, 4)}…) appears in the logs`).not.toContain(secret);
      }
      // Nor the Zebra fragment of the broken-JSON password.
      expect(logs).not.toContain('Quartz-Lantern');
    });
  });
}
