import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTime } from '../../src/http/views/format.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  STEP,
  addUser,
  apiPending,
  codeNow,
  enrolByPage,
  mfaTenant,
  pendingBrowser,
  recoveryCodesOn,
  signInByPage,
  wrongCode,
} from './support.ts';
import type { Enrolled } from './support.ts';

// Setting up the authenticator at the first sign-in: one secret per pending
// sign-in, stable on reload; nothing stored until a right code; never offered
// again once enrolled; the user is told, and admins see when and from where.

async function storedFor(t: TestApp, userId: string) {
  const db = t.db.database.db;
  const authenticators = await db.selectFrom('factors').selectAll().where('user_id', '=', userId).execute();
  const recoveryCodes = await db.selectFrom('recovery_codes').selectAll().where('user_id', '=', userId).execute();
  return { authenticators: authenticators.length, recoveryCodes: recoveryCodes.length };
}

for (const kind of await storeKinds()) {
  describe(`authenticator enrolment (${kind})`, () => {
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

    it('keeps one secret across reloads of a pending sign-in, and offers another pending sign-in a different one', async () => {
      const userId = await addUser(t, tenant, 'ella');
      const one = await pendingBrowser(t, tenant, 'ella');
      const first = secretOf(scanQr(one.page.body));
      const reload = secretOf(scanQr((await one.browser.get('/login/mfa')).body));
      expect(reload).toBe(first);

      const two = await pendingBrowser(t, tenant, 'ella');
      const other = secretOf(scanQr(two.page.body));
      expect(other).not.toBe(first);
      expect(secretOf(scanQr((await two.browser.get('/login/mfa')).body))).toBe(other);
      // The API's enrolment offer of a pending sign-in is stable too.
      const api = await apiPending(t, tenant, 'ella');
      const uri = (api.res.json<{ otpauthUri: string }>()).otpauthUri;
      expect((await api.client.json('GET', '/api/v1/login/mfa/enrollment')).json()).toMatchObject({ otpauthUri: uri });
      expect([first, other]).not.toContain(secretOf(uri));

      // Offered is not stored.
      expect(await storedFor(t, userId)).toEqual({ authenticators: 0, recoveryCodes: 0 });
    });

    it('stores nothing on a wrong code, nor on a code of the secret another pending sign-in was offered', async () => {
      const userId = await addUser(t, tenant, 'emil');
      const { browser, page } = await pendingBrowser(t, tenant, 'emil');
      const secret = secretOf(scanQr(page.body));
      const decoy = await pendingBrowser(t, tenant, 'emil');
      const decoySecret = secretOf(scanQr(decoy.page.body));

      const wrong = await browser.post('/login/mfa', { code: wrongCode(t, secret) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).toContain('That code didn’t work');
      expect(secretOf(scanQr(wrong.body))).toBe(secret);
      expect(await storedFor(t, userId)).toEqual({ authenticators: 0, recoveryCodes: 0 });

      const skewed = await browser.post('/login/mfa', { code: codeNow(t, secret, -6) });
      expect(skewed.statusCode).toBe(401);
      expect(skewed.body).toContain('clock seems to be off by about 3 minutes');
      expect(await storedFor(t, userId)).toEqual({ authenticators: 0, recoveryCodes: 0 });

      const crossed = await browser.post('/login/mfa', { code: codeNow(t, decoySecret) });
      expect(crossed.statusCode).toBe(401);
      expect(await storedFor(t, userId)).toEqual({ authenticators: 0, recoveryCodes: 0 });
      expect((await browser.get('/')).headers.location).toBe('/login/mfa');

      const right = await browser.post('/login/mfa', { code: codeNow(t, secret) });
      expect(right.statusCode).toBe(200);
      expect(recoveryCodesOn(right.body)).toHaveLength(10);
      expect(await storedFor(t, userId)).toEqual({ authenticators: 1, recoveryCodes: 10 });
    });

    it('enrols one authenticator only when two pending set-ups confirm at once', async () => {
      const userId = await addUser(t, tenant, 'eddy');
      const a = await pendingBrowser(t, tenant, 'eddy');
      const b = await pendingBrowser(t, tenant, 'eddy');
      const secrets = [secretOf(scanQr(a.page.body)), secretOf(scanQr(b.page.body))];
      const answers = await Promise.all([
        a.browser.post('/login/mfa', { code: codeNow(t, secrets[0]!) }),
        b.browser.post('/login/mfa', { code: codeNow(t, secrets[1]!) }),
      ]);
      const winners = answers.map((r, i) => (r.statusCode === 200 && recoveryCodesOn(r.body).length === 10 ? i : -1)).filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      expect(await storedFor(t, userId)).toEqual({ authenticators: 1, recoveryCodes: 10 });
      // The other is refused: sent back to sign in, or (if it came second) its code checked against the winner's secret.
      const loser = answers[1 - winners[0]!]!;
      if (loser.statusCode === 303) expect(loser.headers.location).toMatch(/^\/login\?/);
      else expect(loser.statusCode).toBe(401);
      expect((await [a, b][1 - winners[0]!]!.browser.get('/')).statusCode).toBe(303);

      // Only the winner's secret signs in.
      t.clock.advance(STEP);
      const next = await pendingBrowser(t, tenant, 'eddy');
      expect((await next.browser.post('/login/mfa', { code: codeNow(t, secrets[1 - winners[0]!]!) })).statusCode).toBe(401);
      expect((await next.browser.post('/login/mfa', { code: codeNow(t, secrets[winners[0]!]!) })).headers.location).toBe('/');
    });

    it('never shows set-up again once enrolled, on the pages or the API', async () => {
      await addUser(t, tenant, 'emma');
      const { secret } = await enrolByPage(t, tenant, 'emma');
      for (let i = 0; i < 2; i++) {
        t.clock.advance(STEP);
        const { browser, page } = await pendingBrowser(t, tenant, 'emma');
        expect(page.body).toContain('Verify your identity');
        expect(page.body).not.toContain('class="qr"');
        expect(page.body).not.toContain('Setup key');
        expect(page.body).not.toContain(secret);
        await browser.post('/login/mfa', { code: codeNow(t, secret) });
        expect((await browser.get('/login/mfa')).headers.location).toBe('/');
      }
      const api = await apiPending(t, tenant, 'emma');
      expect(api.res.json()).toEqual({ state: 'mfa_required' });
      const offer = await api.client.json('GET', '/api/v1/login/mfa/enrollment');
      expect(offer.statusCode).toBe(409);
      expect(offer.body).not.toContain('otpauth');
    });

    it('tells the user an authenticator was set up, from which address, and shows the admin "Enrolled at" and "Enrolled from"', async () => {
      const userId = await addUser(t, tenant, 'erin', { email: 'erin@example.com' });
      const noticesBefore = t.notices.length;
      const enrolledAt = t.clock.now();
      await enrolByPage(t, tenant, 'erin', '198.51.100.23');

      const notices = t.notices.slice(noticesBefore).filter((n) => n.to.username === 'erin');
      expect(notices).toHaveLength(1);
      expect(notices[0]!.to.email).toBe('erin@example.com');
      expect(notices[0]!.subject).toMatch(/authenticator app was set up/);
      expect(notices[0]!.text).toContain('198.51.100.23');

      t.clock.advance(STEP);
      const admin = await signInByPage(t, tenant, 'alice', alice.secret);
      const edit = await admin.get(`/manage/users/${userId}`);
      expect(edit.statusCode).toBe(200);
      expect(edit.body).toMatch(new RegExp(`<dt>Enrolled at</dt>\\s*<dd>${formatTime(enrolledAt)}</dd>`));
      expect(edit.body).toMatch(/<dt>Enrolled from<\/dt>\s*<dd>198\.51\.100\.23<\/dd>/);
    });

  });
}
