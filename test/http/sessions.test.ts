import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { HOUR, MINUTE, apiGet, apiPost, cookieNamed, sessionRows, sha256Hex } from './http-support.ts';

for (const kind of await storeKinds()) {
  describe(`sessions (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let ipCounter = 0;

    /** A fresh browser from its own address, so no test trips another's address throttle. */
    const newBrowser = () => new TestBrowser(t.app, undefined, `10.30.0.${++ipCounter}`);

    async function signedIn(username = 'alice') {
      const browser = newBrowser();
      const res = await browser.signIn(tenant.accountId, username, PASSWORD);
      expect(res.statusCode).toBe(303);
      const token = browser.cookies.get('portcullis');
      if (!token) throw new Error('no session cookie after sign-in');
      return { browser, token };
    }

    const sessionApi = (token: string) => apiGet(t.app, '/api/v1/session', { cookie: `portcullis=${token}` });

    async function expectSignedOut(browser: TestBrowser, token: string) {
      const home = await browser.get('/');
      expect(home.statusCode).toBe(303);
      expect(home.headers.location).toBe('/login');
      const api = await sessionApi(token);
      expect(api.statusCode).toBe(401);
      expect(api.json()).toMatchObject({ error: 'unauthenticated' });
    }

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('stores only the SHA-256 of the cookie token, never the token itself', async () => {
      const { token } = await signedIn();
      const rows = await sessionRows(t);
      expect(rows.some((r) => r.id === sha256Hex(token))).toBe(true);
      const everything = JSON.stringify(await t.db.database.db.selectFrom('sessions').selectAll().execute());
      expect(everything).not.toContain(token);
      // The hash alone opens nothing: presented as a cookie it is no session.
      const api = await sessionApi(sha256Hex(token));
      expect(api.statusCode).toBe(401);
    });

    it('reports the signed-in user on the API with the cookie a non-browser client got', async () => {
      const login = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: '10.30.1.1' });
      expect(login.statusCode).toBe(200);
      expect(login.json()).toEqual({ state: 'authenticated' });
      const token = cookieNamed(login, 'portcullis')?.value ?? '';
      const me = await sessionApi(token);
      expect(me.statusCode).toBe(200);
      expect(me.json()).toMatchObject({ state: 'authenticated', accountId: tenant.accountId, userId: tenant.agentId, username: 'bob', role: 'agent' });
    });

    it('ends the session server-side on sign-out: the old cookie replayed is refused', async () => {
      const { browser, token } = await signedIn();
      await browser.get('/'); // the Sign out form and its token
      const out = await browser.post('/logout', {});
      expect(out.statusCode).toBe(303);
      expect(out.headers.location).toBe('/login');
      // The browser is told to drop the cookie…
      const cleared = cookieNamed(out, 'portcullis');
      expect(cleared).toBeDefined();
      expect(cleared?.value).toBe('');
      // …and the server no longer knows it, so a copy kept by an attacker is worthless.
      expect((await sessionRows(t)).some((r) => r.id === sha256Hex(token))).toBe(false);
      const replay = new TestBrowser(t.app, undefined, browser.ip);
      replay.cookies.set('portcullis', token);
      await expectSignedOut(replay, token);
    });

    it('ends the session server-side on API sign-out', async () => {
      const login = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: '10.30.1.2' });
      const token = cookieNamed(login, 'portcullis')?.value ?? '';
      expect((await sessionApi(token)).statusCode).toBe(200);
      const out = await t.app.inject({ method: 'POST', url: '/api/v1/logout', remoteAddress: '10.30.1.2', headers: { host: '127.0.0.1:3000', cookie: `portcullis=${token}` } });
      expect(out.statusCode).toBe(200);
      expect(out.json()).toEqual({ state: 'signed_out' });
      expect(cookieNamed(out, 'portcullis')?.value).toBe('');
      const replay = new TestBrowser(t.app);
      replay.cookies.set('portcullis', token);
      await expectSignedOut(replay, token);
    });

    it('issues a new session id on every sign-in and ends the one the browser had (form)', async () => {
      const { browser, token: first } = await signedIn();
      await browser.get('/'); // a page of the signed-in session, with its CSRF token
      const again = await browser.post('/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD });
      expect(again.statusCode).toBe(303);
      const second = cookieNamed(again, 'portcullis')?.value;
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      expect((await sessionApi(second ?? '')).statusCode).toBe(200);
      expect((await sessionApi(first)).statusCode).toBe(401);
      expect((await sessionRows(t)).some((r) => r.id === sha256Hex(first))).toBe(false);
    });

    it('issues a new session id on every sign-in and ends the one the client had (API)', async () => {
      const { token: first } = await signedIn('bob');
      const again = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: '10.30.1.3', cookie: `portcullis=${first}` });
      expect(again.statusCode).toBe(200);
      const second = cookieNamed(again, 'portcullis')?.value ?? '';
      expect(second).not.toBe('');
      expect(second).not.toBe(first);
      expect((await sessionApi(first)).statusCode).toBe(401);
      expect((await sessionApi(second)).statusCode).toBe(200);
    });

    it('never adopts a session id chosen by the client (fixation)', async () => {
      const planted = 'attacker-chosen-session-value-0123456789abcdef';
      const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: '10.30.1.4', cookie: `portcullis=${planted}` });
      expect(res.statusCode).toBe(200);
      const issued = cookieNamed(res, 'portcullis')?.value;
      expect(issued).toBeDefined();
      expect(issued).not.toBe(planted);
      expect((await sessionApi(planted)).statusCode).toBe(401);
    });

    it('keeps one user signed in in two browsers independently; signing out one leaves the other', async () => {
      const a = await signedIn('mia');
      const b = await signedIn('mia');
      expect(a.token).not.toBe(b.token);
      await a.browser.get('/');
      await a.browser.post('/logout', {});
      expect((await b.browser.get('/')).statusCode).toBe(200);
      await expectSignedOut(a.browser, a.token);
    });

    it('ends a session after 30 minutes without activity', async () => {
      const { browser, token } = await signedIn();
      t.clock.advance(30 * MINUTE - 1000);
      expect((await browser.get('/')).statusCode).toBe(200);
      // 30 minutes after that last request, the session is gone.
      t.clock.advance(30 * MINUTE);
      await expectSignedOut(browser, token);
      // Going idle ended it for good: it is not merely hidden until the next request.
      expect((await sessionRows(t)).some((r) => r.id === sha256Hex(token))).toBe(false);
    });

    it('ends an idle API session the same way', async () => {
      const login = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: '10.30.1.5' });
      const token = cookieNamed(login, 'portcullis')?.value ?? '';
      t.clock.advance(31 * MINUTE);
      expect((await sessionApi(token)).statusCode).toBe(401);
    });

    it('keeps an active session working until the 12-hour absolute limit, then ends it', async () => {
      const { browser, token } = await signedIn();
      let elapsed = 0;
      const step = 25 * MINUTE;
      while (elapsed + step < 12 * HOUR) {
        t.clock.advance(step);
        elapsed += step;
        const home = await browser.get('/');
        expect(home.statusCode, `after ${elapsed / MINUTE} minutes`).toBe(200);
      }
      t.clock.advance(12 * HOUR - elapsed - 1000);
      expect((await browser.get('/')).statusCode).toBe(200);
      t.clock.advance(1000);
      await expectSignedOut(browser, token);
    });

    it("ends a user's sessions once the user is disabled", async () => {
      const { createUser } = await import('../../src/services/users.ts');
      const made = await createUser(t.deps, tenant.accountId, { username: 'dana', role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
      if (!made.ok) throw new Error(made.errors.join('; '));
      const { browser, token } = await signedIn('dana');
      await t.db.database.db.updateTable('users').set({ state: 'disabled' }).where('id', '=', made.userId).execute();
      await expectSignedOut(browser, token);
    });

    it('lets the user sign in again after a timeout, with a new session', async () => {
      const { browser, token } = await signedIn();
      t.clock.advance(HOUR);
      expect((await browser.get('/')).statusCode).toBe(303);
      const again = await browser.signIn(tenant.accountId, 'alice', PASSWORD);
      expect(again.statusCode).toBe(303);
      const fresh = browser.cookies.get('portcullis');
      expect(fresh).toBeDefined();
      expect(fresh).not.toBe(token);
      expect((await browser.get('/')).statusCode).toBe(200);
    });
  });
}
