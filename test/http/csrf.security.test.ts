import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { apiGet, apiPost, cookieNamed, rawFormPost, sessionRows, throttleRows } from './http-support.ts';

for (const kind of await storeKinds()) {
  describe(`forgery defences (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let ipCounter = 0;
    const newBrowser = () => new TestBrowser(t.app, undefined, `10.40.0.${++ipCounter}`);

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(async () => {
      await t?.close();
    });

    const credentials = () => ({ accountId: tenant.accountId, username: 'alice', password: PASSWORD });

    /** Everything a refused request must leave untouched. */
    async function snapshot() {
      return {
        sessions: (await sessionRows(t)).map((r) => r.id).sort(),
        throttles: await throttleRows(t),
        audit: (await t.deps.store.audit.list(tenant.accountId, { limit: 1000, offset: 0 })).length,
      };
    }

    function expectRefusedPage(res: LightMyRequestResponse) {
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(cookieNamed(res, 'portcullis')).toBeUndefined();
      expect(res.headers.location).toBeUndefined();
    }

    async function signedInBrowser() {
      const browser = newBrowser();
      expect((await browser.signIn(tenant.accountId, 'alice', PASSWORD)).statusCode).toBe(303);
      const home = await browser.get('/');
      expect(home.statusCode).toBe(200);
      return browser;
    }

    describe('POST /login', () => {
      it('signs in with the form token (control)', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        expect(browser.csrf).not.toBe('');
        const res = await browser.post('/login', credentials());
        expect(res.statusCode).toBe(303);
      });

      it('refuses a form without the _csrf field and changes nothing', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const before = await snapshot();
        expectRefusedPage(await browser.post('/login', credentials(), { csrf: null }));
        expect(await snapshot()).toEqual(before);
      });

      it('refuses a wrong token and changes nothing', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const before = await snapshot();
        const forged = `${browser.csrf.slice(0, -4)}AAAA`;
        expectRefusedPage(await browser.post('/login', credentials(), { csrf: forged }));
        expectRefusedPage(await browser.post('/login', credentials(), { csrf: '' }));
        expect(await snapshot()).toEqual(before);
      });

      it("refuses a token taken from another browser's page", async () => {
        const attacker = newBrowser();
        await attacker.get('/login');
        const victim = newBrowser();
        await victim.get('/login');
        const before = await snapshot();
        expectRefusedPage(await victim.post('/login', credentials(), { csrf: attacker.csrf }));
        expect(await snapshot()).toEqual(before);
      });

      it('refuses a form with no CSRF cookie at all', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        browser.cookies.clear();
        const before = await snapshot();
        expectRefusedPage(await browser.post('/login', credentials()));
        expect(await snapshot()).toEqual(before);
      });

      it('refuses a token issued for a session that has since ended', async () => {
        const browser = await signedInBrowser();
        const sessionToken = browser.csrf; // bound to the signed-in session
        await browser.post('/logout', {});
        expect(browser.cookies.has('portcullis')).toBe(false);
        const before = await snapshot();
        expectRefusedPage(await browser.post('/login', credentials(), { csrf: sessionToken }));
        expect(await snapshot()).toEqual(before);
      });

      it('refuses a valid token from another origin (Origin: http://evil.example)', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const before = await snapshot();
        expectRefusedPage(await browser.post('/login', credentials(), { origin: 'http://evil.example' }));
        expect(await snapshot()).toEqual(before);
      });

      it('refuses a valid token from another port of the same site', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const before = await snapshot();
        expectRefusedPage(await browser.post('/login', credentials(), { origin: 'http://127.0.0.1:4000' }));
        expectRefusedPage(await browser.post('/login', credentials(), { origin: 'https://127.0.0.1:3000' }));
        expect(await snapshot()).toEqual(before);
      });

      it('refuses Origin: null (sandboxed frames, data: pages)', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        expectRefusedPage(await browser.post('/login', credentials(), { origin: 'null' }));
      });

      it('refuses Sec-Fetch-Site: cross-site or same-site when no Origin is sent', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const before = await snapshot();
        const fields = { ...credentials(), _csrf: browser.csrf };
        expectRefusedPage(await rawFormPost(t.app, browser, '/login', fields, { 'sec-fetch-site': 'cross-site' }));
        expectRefusedPage(await rawFormPost(t.app, browser, '/login', fields, { 'sec-fetch-site': 'same-site' }));
        expect(await snapshot()).toEqual(before);
        // The same request marked same-origin goes through.
        const ok = await rawFormPost(t.app, browser, '/login', fields, { 'sec-fetch-site': 'same-origin' });
        expect(ok.statusCode).toBe(303);
      });

      it('lets a request with neither Origin nor Fetch Metadata through on its token alone', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const res = await rawFormPost(t.app, browser, '/login', { ...credentials(), _csrf: browser.csrf });
        expect(res.statusCode).toBe(303);
      });
    });

    describe('POST /logout', () => {
      async function expectStillSignedIn(browser: TestBrowser) {
        const home = await browser.get('/');
        expect(home.statusCode).toBe(200);
        expect(home.body).toContain('Sign out');
      }

      it('signs out with the token of the signed-in page (control)', async () => {
        const browser = await signedInBrowser();
        const res = await browser.post('/logout', {});
        expect(res.statusCode).toBe(303);
        expect((await browser.get('/')).statusCode).toBe(303);
      });

      it('refuses a sign-out without the _csrf field and keeps the session', async () => {
        const browser = await signedInBrowser();
        const before = await snapshot();
        expectRefusedPage(await browser.post('/logout', {}, { csrf: null }));
        expect(await snapshot()).toEqual(before);
        await expectStillSignedIn(browser);
      });

      it('refuses a wrong token and keeps the session', async () => {
        const browser = await signedInBrowser();
        expectRefusedPage(await browser.post('/logout', {}, { csrf: 'not-a-token' }));
        expectRefusedPage(await browser.post('/logout', {}, { csrf: `${browser.csrf}x` }));
        await expectStillSignedIn(browser);
      });

      it('refuses the token of the sign-in page (issued before this session existed)', async () => {
        const browser = newBrowser();
        await browser.get('/login');
        const anonymousToken = browser.csrf;
        await browser.post('/login', credentials());
        expectRefusedPage(await browser.post('/logout', {}, { csrf: anonymousToken }));
        await expectStillSignedIn(browser);
      });

      it('refuses a token issued for an earlier session of the same browser', async () => {
        const browser = await signedInBrowser();
        const oldToken = browser.csrf;
        // The browser's session is replaced (same CSRF cookie, new session id).
        const relogin = await browser.json('POST', '/api/v1/login', credentials());
        expect(relogin.statusCode).toBe(200);
        const before = await snapshot();
        expectRefusedPage(await browser.post('/logout', {}, { csrf: oldToken }));
        expect(await snapshot()).toEqual(before);
        await expectStillSignedIn(browser);
      });

      it("refuses a token taken from another user's signed-in page", async () => {
        const attacker = await signedInBrowser();
        const victim = await signedInBrowser();
        expectRefusedPage(await victim.post('/logout', {}, { csrf: attacker.csrf }));
        await expectStillSignedIn(victim);
        await expectStillSignedIn(attacker);
      });

      it('refuses a cross-origin sign-out even with a valid token', async () => {
        const browser = await signedInBrowser();
        expectRefusedPage(await browser.post('/logout', {}, { origin: 'http://evil.example' }));
        expectRefusedPage(await browser.post('/logout', {}, { origin: 'http://127.0.0.1:4000' }));
        expectRefusedPage(await rawFormPost(t.app, browser, '/logout', { _csrf: browser.csrf }, { 'sec-fetch-site': 'cross-site' }));
        await expectStillSignedIn(browser);
      });
    });

    describe('JSON API', () => {
      it('signs in a non-browser client that sends JSON and no Origin', async () => {
        const res = await apiPost(t.app, '/api/v1/login', credentials(), { ip: '10.40.1.1' });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ state: 'authenticated' });
        expect(cookieNamed(res, 'portcullis')?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      });

      it('accepts JSON from its own origin, as its own pages would send it', async () => {
        const res = await apiPost(t.app, '/api/v1/login', credentials(), { ip: '10.40.1.2', headers: { origin: 'http://127.0.0.1:3000' } });
        expect(res.statusCode).toBe(200);
      });

      it('answers 415 to a form-encoded or text/plain login, which a foreign page could send without preflight', async () => {
        const before = await snapshot();
        const form = await t.app.inject({
          method: 'POST',
          url: '/api/v1/login',
          remoteAddress: '10.40.1.3',
          headers: { host: '127.0.0.1:3000', 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams(credentials()).toString(),
        });
        const text = await t.app.inject({
          method: 'POST',
          url: '/api/v1/login',
          remoteAddress: '10.40.1.3',
          headers: { host: '127.0.0.1:3000', 'content-type': 'text/plain' },
          payload: JSON.stringify(credentials()),
        });
        const multipart = await t.app.inject({
          method: 'POST',
          url: '/api/v1/login',
          remoteAddress: '10.40.1.3',
          headers: { host: '127.0.0.1:3000', 'content-type': 'multipart/form-data; boundary=x' },
          payload: '--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--x--\r\n',
        });
        for (const res of [form, text, multipart]) {
          expect(res.statusCode).toBe(415);
          expect(res.json()).toMatchObject({ error: 'unsupported_media_type' });
          expect(cookieNamed(res, 'portcullis')).toBeUndefined();
        }
        expect(await snapshot()).toEqual(before);
      });

      it('answers 403 to a login from a foreign Origin, JSON or not', async () => {
        const before = await snapshot();
        for (const origin of ['http://evil.example', 'http://127.0.0.1:4000', 'null']) {
          const res = await apiPost(t.app, '/api/v1/login', credentials(), { ip: '10.40.1.4', headers: { origin } });
          expect(res.statusCode, origin).toBe(403);
          expect(res.json()).toMatchObject({ error: 'cross_origin' });
          expect(cookieNamed(res, 'portcullis')).toBeUndefined();
        }
        expect(await snapshot()).toEqual(before);
      });

      it('refuses an API sign-out from a foreign Origin and keeps the session', async () => {
        const login = await apiPost(t.app, '/api/v1/login', credentials(), { ip: '10.40.1.5' });
        const token = cookieNamed(login, 'portcullis')?.value ?? '';
        const cookie = `portcullis=${token}`;
        const out = await t.app.inject({
          method: 'POST',
          url: '/api/v1/logout',
          remoteAddress: '10.40.1.5',
          headers: { host: '127.0.0.1:3000', cookie, origin: 'http://evil.example' },
        });
        expect(out.statusCode).toBe(403);
        const textOut = await t.app.inject({
          method: 'POST',
          url: '/api/v1/logout',
          remoteAddress: '10.40.1.5',
          headers: { host: '127.0.0.1:3000', cookie, 'content-type': 'text/plain' },
          payload: 'x',
        });
        expect(textOut.statusCode).toBe(415);
        expect((await apiGet(t.app, '/api/v1/session', { cookie })).statusCode).toBe(200);
      });
    });
  });
}
