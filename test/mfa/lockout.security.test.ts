import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  MINUTE,
  STEP,
  addUser,
  apiCode,
  apiPending,
  auditEvents,
  codeNow,
  enrolByApi,
  enrolByPage,
  mfaTenant,
  pendingBrowser,
  recoveryCodesOn,
  signInByPage,
  wrongCode,
} from './support.ts';
import type { Enrolled } from './support.ts';

// The spec's abuse limits for the second factor: a pending sign-in takes at
// most 5 wrong codes and lives 5 minutes; 10 consecutive wrong codes for a
// user lock codes for 15 minutes, doubling; success resets; the lock is
// audited and Reset MFA lifts it.

const LOCKED_PAGE = /Too many wrong codes\. For your security, sign-in with a code is locked\. Try again in (\d+) minutes?\./;

for (const kind of await storeKinds()) {
  describe(`second-factor abuse limits (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let alice: Enrolled;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
      alice = await enrolByPage(t, tenant, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** n wrong codes on the API for one user, four per pending sign-in (never the fifth); answers the last answer. */
    async function failCodes(username: string, secret: string, n: number): Promise<LightMyRequestResponse> {
      let last: LightMyRequestResponse | undefined;
      const wrong = wrongCode(t, secret);
      for (let first = 0; first < n; first += 4) {
        const { client } = await apiPending(t, tenant, username);
        for (let i = first; i < Math.min(n, first + 4); i++) {
          last = await apiCode(client, wrong);
          if (i < n - 1) expect(last.statusCode, `wrong code ${i + 1}`).toBe(401);
        }
      }
      if (!last) throw new Error('failCodes needs n >= 1');
      return last;
    }

    /** The right code, now, from a new pending sign-in on the API. */
    async function rightCode(username: string, secret: string): Promise<LightMyRequestResponse> {
      const { client } = await apiPending(t, tenant, username);
      return apiCode(client, codeNow(t, secret));
    }

    function expectLockedApi(res: LightMyRequestResponse, retryAfter: number) {
      expect(res.statusCode).toBe(429);
      expect(res.json()).toMatchObject({ error: 'too_many_attempts', retryAfter });
      expect(res.headers['retry-after']).toBe(String(retryAfter));
    }

    it('takes at most 5 wrong codes on one pending sign-in; then the password is needed again (page)', async () => {
      await addUser(t, tenant, 'pia');
      const { secret } = await enrolByPage(t, tenant, 'pia');
      t.clock.advance(STEP);
      const { browser } = await pendingBrowser(t, tenant, 'pia');
      const wrong = wrongCode(t, secret);
      for (let i = 0; i < 4; i++) {
        const res = await browser.post('/login/mfa', { code: wrong });
        expect(res.statusCode).toBe(401);
        expect(res.body).toContain('That code didn’t work');
      }
      // An attacker keeps the pending cookie whatever the answers say.
      const kept = new Map(browser.cookies);
      const fifth = await browser.post('/login/mfa', { code: wrong });
      // The fifth wrong code either ends the pending sign-in at once, or the sixth attempt does.
      if (fifth.statusCode === 303) {
        expect(fifth.headers.location).toBe('/login?notice=restart');
      } else {
        expect(fifth.statusCode).toBe(401);
        const sixth = await browser.post('/login/mfa', { code: codeNow(t, secret) });
        expect(sixth.statusCode).toBe(303);
        expect(sixth.headers.location).toBe('/login?notice=restart');
      }
      expect((await browser.get('/')).headers.location).toBe('/login');
      expect((await browser.get('/login?notice=restart')).body).toContain('Too many wrong codes. Sign in again to get new attempts.');

      // The kept cookie is worth nothing now, even with the right code.
      const attacker = new TestBrowser(t.app);
      attacker.cookies = kept;
      expect((await attacker.get('/login/mfa')).headers.location).toBe('/login');
      const late = await attacker.post('/login/mfa', { code: codeNow(t, secret) });
      expect(late.headers.location ?? '').not.toBe('/');
      expect((await attacker.get('/')).headers.location).toBe('/login');

      // With the password again, the same (unspent) code works: 5 wrong codes do not lock the user.
      const again = await pendingBrowser(t, tenant, 'pia');
      expect((await again.browser.post('/login/mfa', { code: codeNow(t, secret) })).headers.location).toBe('/');
    });

    it('takes at most 5 wrong codes on one pending sign-in on the API; the 6th answers 401 session_expired', async () => {
      await addUser(t, tenant, 'paco');
      const { secret } = await enrolByApi(t, tenant, 'paco');
      t.clock.advance(STEP);
      const { client } = await apiPending(t, tenant, 'paco');
      const wrong = wrongCode(t, secret);
      for (let i = 0; i < 4; i++) expect((await apiCode(client, wrong)).json()).toMatchObject({ error: 'invalid_code' });
      const kept = new Map(client.cookies);
      const fifth = await apiCode(client, wrong);
      expect(fifth.statusCode).toBe(401);
      client.cookies = new Map(kept);
      const sixth = await apiCode(client, codeNow(t, secret));
      expect(sixth.statusCode).toBe(401);
      expect(sixth.json()).toMatchObject({ error: 'session_expired' });
      expect((await client.json('GET', '/api/v1/session')).statusCode).toBe(401);
    });

    it('locks the second factor after 10 wrong codes across pending sign-ins; the right code then gets 429 with the minutes left; audited', async () => {
      const userId = await addUser(t, tenant, 'lucy');
      const { secret, recoveryCodes } = await enrolByPage(t, tenant, 'lucy');
      t.clock.advance(STEP);
      const wrong = wrongCode(t, secret);

      const first = await pendingBrowser(t, tenant, 'lucy');
      for (let i = 0; i < 5; i++) await first.browser.post('/login/mfa', { code: wrong });
      const second = await pendingBrowser(t, tenant, 'lucy');
      for (let i = 0; i < 4; i++) expect((await second.browser.post('/login/mfa', { code: wrong })).statusCode).toBe(401);
      const tenth = await second.browser.post('/login/mfa', { code: wrong });
      expect(tenth.statusCode).toBe(429);
      expect(tenth.body).toMatch(LOCKED_PAGE);
      expect(LOCKED_PAGE.exec(tenth.body)?.[1]).toBe('15');

      const locked = await auditEvents(t, tenant.accountId, 'mfa.locked');
      expect(locked.filter((e) => e.targetUserId === userId)).toHaveLength(1);

      // The right code, from a new pending sign-in: refused, with the time left.
      const third = await pendingBrowser(t, tenant, 'lucy');
      const refused = await third.browser.post('/login/mfa', { code: codeNow(t, secret) });
      expect(refused.statusCode).toBe(429);
      expect(refused.body).toContain('Sign-in locked');
      expect(LOCKED_PAGE.exec(refused.body)?.[1]).toBe('15');
      expect((await third.browser.get('/')).statusCode).toBe(303);
      // A recovery code is no way around the lock.
      const fourth = await pendingBrowser(t, tenant, 'lucy');
      expect((await fourth.browser.post('/login/mfa', { code: recoveryCodes[0]!, method: 'recovery_code' })).statusCode).toBe(429);

      t.clock.advance(6 * MINUTE);
      const fifth = await pendingBrowser(t, tenant, 'lucy');
      expect(LOCKED_PAGE.exec((await fifth.browser.post('/login/mfa', { code: codeNow(t, secret) })).body)?.[1]).toBe('9');
      expectLockedApi(await rightCode('lucy', secret), 9 * 60);

      // 15 minutes after the lock, it lifts: a new sign-in with the code of that time works.
      t.clock.advance(9 * MINUTE - 1000);
      expectLockedApi(await rightCode('lucy', secret), 1);
      t.clock.advance(1000);
      await signInByPage(t, tenant, 'lucy', secret);
      // The recovery code tried during the lock was never checked, so it still works.
      t.clock.advance(STEP);
      const last = await pendingBrowser(t, tenant, 'lucy');
      expect((await last.browser.post('/login/mfa', { code: recoveryCodes[0]!, method: 'recovery_code' })).headers.location).toBe('/');
    });

    it('answers a locked user on the API with 429 too_many_attempts and retryAfter', async () => {
      await addUser(t, tenant, 'lino');
      const { secret } = await enrolByApi(t, tenant, 'lino');
      t.clock.advance(STEP);
      expectLockedApi(await failCodes('lino', secret, 10), 15 * 60);
      expectLockedApi(await rightCode('lino', secret), 15 * 60);
    });

    it('doubles the next lock to 30 minutes; success resets the count and the doubling', async () => {
      await addUser(t, tenant, 'lars');
      const { secret } = await enrolByApi(t, tenant, 'lars');
      t.clock.advance(STEP);
      await failCodes('lars', secret, 10);
      t.clock.advance(15 * MINUTE);
      expectLockedApi(await failCodes('lars', secret, 10), 30 * 60);
      expectLockedApi(await rightCode('lars', secret), 30 * 60);
      t.clock.advance(15 * MINUTE);
      expectLockedApi(await rightCode('lars', secret), 15 * 60);
      t.clock.advance(15 * MINUTE);
      expect((await rightCode('lars', secret)).statusCode).toBe(200);

      // Success reset the count: 9 wrong codes, a right one, 9 wrong codes, and still no lock.
      t.clock.advance(STEP);
      await failCodes('lars', secret, 9);
      expect((await rightCode('lars', secret)).statusCode).toBe(200);
      t.clock.advance(STEP);
      await failCodes('lars', secret, 9);
      t.clock.advance(STEP);
      expect((await rightCode('lars', secret)).statusCode).toBe(200);

      // …and the doubling: the next lock is 15 minutes again.
      t.clock.advance(STEP);
      expectLockedApi(await failCodes('lars', secret, 10), 15 * 60);
    });

    it('counts 10 wrong codes fired in parallel from 10 pending sign-ins as 10, and audits one lock', async () => {
      const userId = await addUser(t, tenant, 'pete');
      const { secret } = await enrolByApi(t, tenant, 'pete');
      t.clock.advance(STEP);
      const clients = [];
      for (let i = 0; i < 10; i++) clients.push((await apiPending(t, tenant, 'pete')).client);
      const wrong = wrongCode(t, secret);
      const answers = await Promise.all(clients.map((c) => apiCode(c, wrong)));
      expect(answers.every((r) => r.statusCode === 401 || r.statusCode === 429)).toBe(true);
      expect(answers.some((r) => r.statusCode === 429)).toBe(true);

      expectLockedApi(await rightCode('pete', secret), 15 * 60);
      const locked = await auditEvents(t, tenant.accountId, 'mfa.locked');
      expect(locked.filter((e) => e.targetUserId === userId)).toHaveLength(1);
    });

    it('checks at most 10 codes however many arrive at once', async () => {
      const userId = await addUser(t, tenant, 'petra');
      const { secret } = await enrolByApi(t, tenant, 'petra');
      t.clock.advance(STEP);
      const clients = [];
      for (let i = 0; i < 15; i++) clients.push((await apiPending(t, tenant, 'petra')).client);
      const wrong = wrongCode(t, secret);
      const answers = await Promise.all(clients.map((c) => apiCode(c, wrong)));
      expect(answers.filter((r) => r.statusCode === 401).length).toBeLessThanOrEqual(9);
      expect(answers.filter((r) => r.statusCode === 429).length).toBeGreaterThanOrEqual(6);
      // Each checked code leaves one audit event; the refused-unchecked ones none.
      const checked = (await auditEvents(t, tenant.accountId, 'mfa.verify')).filter((e) => e.targetUserId === userId && e.result === 'failure');
      expect(checked.length).toBeLessThanOrEqual(10);
      expectLockedApi(await rightCode('petra', secret), 15 * 60);
    });

    it('lifts the lock when an admin resets MFA: the user sets up again at once', async () => {
      const userId = await addUser(t, tenant, 'rudi');
      const { secret } = await enrolByApi(t, tenant, 'rudi');
      t.clock.advance(STEP);
      await failCodes('rudi', secret, 10);
      expectLockedApi(await rightCode('rudi', secret), 15 * 60);

      t.clock.advance(STEP);
      const admin = await signInByPage(t, tenant, 'alice', alice.secret);
      const edit = await admin.get(`/manage/users/${userId}`);
      expect(edit.body).toContain('Locked until');
      await admin.get(`/manage/users/${userId}/reset-mfa`);
      const reset = await admin.post(`/manage/users/${userId}/reset-mfa`, {});
      expect(reset.statusCode).toBe(303);
      expect(reset.headers.location).toBe(`/manage/users/${userId}?notice=reset`);

      const { browser, page } = await pendingBrowser(t, tenant, 'rudi');
      const fresh = secretOf(scanQr(page.body));
      const done = await browser.post('/login/mfa', { code: codeNow(t, fresh) });
      expect(done.statusCode).toBe(200);
      expect(recoveryCodesOn(done.body)).toHaveLength(10);
    });

    it('sends an expired pending sign-in (5 minutes) back to /login, page and API', async () => {
      await addUser(t, tenant, 'tina');
      const { secret } = await enrolByPage(t, tenant, 'tina');
      t.clock.advance(STEP);
      const { browser } = await pendingBrowser(t, tenant, 'tina');
      const api = await apiPending(t, tenant, 'tina');
      t.clock.advance(5 * MINUTE - 1000);
      expect((await browser.get('/login/mfa')).statusCode).toBe(200);
      t.clock.advance(1000);

      const page = await browser.get('/login/mfa');
      expect(page.statusCode).toBe(303);
      expect(page.headers.location).toBe('/login');
      const late = await apiCode(api.client, codeNow(t, secret));
      expect(late.statusCode).toBe(401);
      expect(late.json()).toMatchObject({ error: 'session_expired' });
      expect((await browser.get('/')).headers.location).toBe('/login');
    });

    it('answers a code posted after the pending sign-in expired with a way back to /login, not a sign-in', async () => {
      await addUser(t, tenant, 'toni');
      const { secret } = await enrolByPage(t, tenant, 'toni');
      t.clock.advance(STEP);
      const { browser } = await pendingBrowser(t, tenant, 'toni');
      t.clock.advance(5 * MINUTE);
      // The user submits the form that was open on the screen all along.
      const post = await browser.post('/login/mfa', { code: codeNow(t, secret) });
      expect((await browser.get('/')).headers.location).toBe('/login');
      // What the route means to answer ("Your sign-in took too long"), rather than the CSRF check's
      // "This form has expired or did not come from this site": see the report.
      expect(post.statusCode).toBe(303);
      expect(post.headers.location).toBe('/login?notice=expired');
    });
  });
}
