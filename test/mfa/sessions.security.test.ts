import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { STEP, addUser, apiCode, apiPending, apiPut, auditEvents, codeNow, enrolByPage, mfaTenant, pendingBrowser, sessionsOf } from './support.ts';

// Sessions around the second factor: a new id once it is verified (no
// fixation), and no session without a second factor survives MFA being
// switched on, on the pages or the API.

const COOKIE = 'portcullis';

for (const kind of await storeKinds()) {
  describe(`sessions and the second factor (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('replaces the session id after the second factor; the pending token is worth nothing after (page)', async () => {
      await addUser(t, tenant, 'sid');
      const { secret } = await enrolByPage(t, tenant, 'sid');
      t.clock.advance(STEP);
      const { browser } = await pendingBrowser(t, tenant, 'sid');
      const pendingToken = browser.cookies.get(COOKIE);
      expect(pendingToken).toBeTruthy();

      const done = await browser.post('/login/mfa', { code: codeNow(t, secret) });
      expect(done.headers.location).toBe('/');
      const fullToken = done.cookies.find((c) => c.name === COOKIE)?.value;
      expect(fullToken).toBeTruthy();
      expect(fullToken).not.toBe(pendingToken);
      expect((await browser.get('/')).statusCode).toBe(200);

      const old = new TestBrowser(t.app);
      old.cookies.set(COOKIE, pendingToken!);
      expect((await old.get('/login/mfa')).headers.location).toBe('/login');
      expect((await old.get('/')).headers.location).toBe('/login');
      expect((await old.json('GET', '/api/v1/session')).statusCode).toBe(401);
      const api = await old.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret, 1) });
      expect(api.statusCode).toBe(401);
      expect(api.json()).toMatchObject({ error: 'session_expired' });
    });

    it('replaces the session id after the second factor on the API too', async () => {
      await addUser(t, tenant, 'sol');
      const { secret } = await enrolByPage(t, tenant, 'sol');
      t.clock.advance(STEP);
      const { client } = await apiPending(t, tenant, 'sol');
      const pendingToken = client.cookies.get(COOKIE);
      const done = await apiCode(client, codeNow(t, secret));
      expect(done.statusCode).toBe(200);
      const fullToken = client.cookies.get(COOKIE);
      expect(fullToken).toBeTruthy();
      expect(fullToken).not.toBe(pendingToken);

      const old = new TestBrowser(t.app);
      old.cookies.set(COOKIE, pendingToken!);
      expect((await old.json('GET', '/api/v1/session')).statusCode).toBe(401);
      expect((await client.json('GET', '/api/v1/session')).json()).toMatchObject({ state: 'authenticated', username: 'sol' });
    });

    it('gives a pending session nothing but the code page, on the pages and the API', async () => {
      await addUser(t, tenant, 'sam');
      await enrolByPage(t, tenant, 'sam');
      t.clock.advance(STEP);
      const { browser } = await pendingBrowser(t, tenant, 'sam');
      expect((await browser.get('/')).headers.location).toBe('/login/mfa');
      expect((await browser.get('/manage/users')).headers.location).toBe('/login/mfa');
      expect((await browser.json('GET', '/api/v1/users')).statusCode).toBe(401);
    });

    describe('switching MFA on and off', () => {
      let off: Tenant;

      beforeAll(async () => {
        off = await seedTenant(t.deps, 'Globex Helpdesk');
      });

      it('ends every session signed in without a second factor once an admin switches MFA on, and sends the admin to /login/mfa', async () => {
        const bobPage = new TestBrowser(t.app);
        expect((await bobPage.signIn(off.accountId, 'bob', PASSWORD)).headers.location).toBe('/');
        const bobApi = new TestBrowser(t.app);
        expect((await bobApi.json('POST', '/api/v1/login', { accountId: off.accountId, username: 'bob', password: PASSWORD })).json()).toEqual({
          state: 'authenticated',
        });
        const mia = new TestBrowser(t.app);
        await mia.signIn(off.accountId, 'mia', PASSWORD);
        const aliceApi = new TestBrowser(t.app);
        await aliceApi.json('POST', '/api/v1/login', { accountId: off.accountId, username: 'alice', password: PASSWORD });
        for (const b of [bobPage, mia]) expect((await b.get('/')).statusCode).toBe(200);
        for (const c of [bobApi, aliceApi]) expect((await c.json('GET', '/api/v1/session')).statusCode).toBe(200);

        const admin = new TestBrowser(t.app);
        await admin.signIn(off.accountId, 'alice', PASSWORD);
        const adminOldToken = admin.cookies.get(COOKIE)!;
        await admin.get('/manage/console/account-access-control');
        const saved = await admin.post('/manage/console/account-access-control', { mfaEnabled: 'on' });
        expect(saved.statusCode).toBe(303);
        expect(saved.headers.location).toBe('/login/mfa');

        // Ended, not merely refused: the rows are gone before anyone comes back.
        expect(await sessionsOf(t, off.agentId)).toEqual([]);
        expect(await sessionsOf(t, off.managerId)).toEqual([]);
        expect((await sessionsOf(t, off.adminId)).map((s) => s.state)).toEqual(['pending']);

        // Everyone else's sessions are over, on the pages and the API.
        for (const b of [bobPage, mia]) {
          expect((await b.get('/')).headers.location).toBe('/login');
          expect((await b.json('GET', '/api/v1/session')).statusCode).toBe(401);
        }
        for (const c of [bobApi, aliceApi]) {
          expect((await c.json('GET', '/api/v1/session')).statusCode).toBe(401);
          expect((await c.json('GET', '/api/v1/users')).statusCode).toBe(401);
        }
        // The admin's own session without a second factor too: only the new pending one remains.
        const stale = new TestBrowser(t.app);
        stale.cookies.set(COOKIE, adminOldToken);
        expect((await stale.get('/manage/users')).headers.location).toBe('/login');
        expect(admin.cookies.get(COOKIE)).not.toBe(adminOldToken);
        expect((await admin.get('/')).headers.location).toBe('/login/mfa');
        const setup = await admin.get('/login/mfa');
        expect(setup.statusCode).toBe(200);
        const secret = secretOf(scanQr(setup.body));
        expect((await admin.post('/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(200);
        expect((await admin.get('/manage/console/account-access-control')).body).toMatch(/id="mfaEnabled"[^>]*checked/);

        const enabled = await auditEvents(t, off.accountId, 'account.mfa_enabled');
        expect(enabled).toHaveLength(1);
        expect(enabled[0]!.actor).toBe('alice');

        // bob now needs the second factor.
        t.clock.advance(STEP);
        expect((await bobPage.signIn(off.accountId, 'bob', PASSWORD)).headers.location).toBe('/login/mfa');

        // Switching it off is audited, and then the password alone signs in again.
        await admin.get('/manage/console/account-access-control');
        const offAgain = await admin.post('/manage/console/account-access-control', {});
        expect(offAgain.statusCode).toBe(303);
        expect(offAgain.headers.location).toBe('/manage/console/account-access-control?saved=1');
        const disabled = await auditEvents(t, off.accountId, 'account.mfa_disabled');
        expect(disabled).toHaveLength(1);
        expect(disabled[0]!).toMatchObject({ actor: 'alice', result: 'success' });
        expect((await admin.get('/manage/console/account-access-control')).body).not.toMatch(/id="mfaEnabled"[^>]*checked/);
        const later = new TestBrowser(t.app);
        expect((await later.signIn(off.accountId, 'mia', PASSWORD)).headers.location).toBe('/');

        // On again: the admin, verified with a code, stays; mia's password-only session ends.
        await admin.get('/manage/console/account-access-control');
        const onAgain = await admin.post('/manage/console/account-access-control', { mfaEnabled: 'on' });
        expect(onAgain.headers.location).toBe('/manage/console/account-access-control?saved=1');
        expect((await admin.get('/manage/users')).statusCode).toBe(200);
        expect((await later.get('/')).headers.location).toBe('/login');
      });

      it('refuses a session without a second factor even if it escaped the purge (MFA switched on elsewhere)', async () => {
        await t.deps.store.accounts.setMfaEnabled(off.accountId, false);
        const page = new TestBrowser(t.app);
        expect((await page.signIn(off.accountId, 'mia', PASSWORD)).headers.location).toBe('/');
        const api = new TestBrowser(t.app);
        await api.json('POST', '/api/v1/login', { accountId: off.accountId, username: 'mia', password: PASSWORD });
        // Another instance flips the setting straight in the shared database.
        await t.deps.store.accounts.setMfaEnabled(off.accountId, true);
        expect((await page.get('/')).headers.location).toBe('/login');
        expect((await api.json('GET', '/api/v1/session')).statusCode).toBe(401);
      });

      it('switches MFA on through the API the same way: other sessions end, the admin is told to enrol', async () => {
        const other = await seedTenant(t.deps, 'Initech Service');
        const bob = new TestBrowser(t.app);
        await bob.json('POST', '/api/v1/login', { accountId: other.accountId, username: 'bob', password: PASSWORD });
        const admin = new TestBrowser(t.app);
        await admin.json('POST', '/api/v1/login', { accountId: other.accountId, username: 'alice', password: PASSWORD });
        const res = await apiPut(t, admin, '/api/v1/account/settings', { mfaEnabled: true });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ mfaEnabled: true, state: 'mfa_enrollment_required' });
        expect((await bob.json('GET', '/api/v1/session')).statusCode).toBe(401);
        expect((await admin.json('GET', '/api/v1/session')).json()).toMatchObject({ state: 'pending' });
        expect((await admin.json('GET', '/api/v1/users')).statusCode).toBe(401);
      });
    });
  });
}
