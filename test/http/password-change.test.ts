import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../src/domain/errors.ts';
import { buildTestApp, withHasher } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { auditEvents } from '../mfa/support.ts';
import { addressSource } from './http-support.ts';

// Change password (OWASP ASVS 4.0.3 2.1.5, 2.1.6, 3.3.3, 2.2.3): the current
// password and a new one; the current one is checked and throttled like a
// sign-in; other sessions end; the user is told.

const NEW_PASSWORD = 'a brand new passphrase 2026';

for (const kind of await storeKinds()) {
  describe(`change password (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    const nextIp = addressSource('10.81');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Password Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    async function signedIn(username: string, password = PASSWORD): Promise<TestBrowser> {
      const browser = new TestBrowser(t.app, '127.0.0.1:3000', nextIp());
      const res = await browser.signIn(tenant.accountId, username, password);
      expect(res.statusCode, res.body).toBe(303);
      await browser.get('/account/password');
      return browser;
    }
    const canSignIn = async (username: string, password: string) =>
      (await new TestBrowser(t.app, '127.0.0.1:3000', nextIp()).signIn(tenant.accountId, username, password)).statusCode === 303;
    const isSignedIn = async (browser: TestBrowser) => (await browser.get('/')).statusCode === 200;
    const change = (browser: TestBrowser, currentPassword: string, newPassword = NEW_PASSWORD, confirmation = newPassword) =>
      browser.post('/account/password', { currentPassword, newPassword, confirmation });
    const failures = async (username: string) =>
      (await t.db.database.db.selectFrom('throttles').select('failures').where('scope', '=', 'password').where('subject', '=', username).executeTakeFirst())?.failures ?? 0;

    it('changes the password: the old one no longer signs in, the new one does; other sessions end, this one stays; audited and told', async () => {
      const here = await signedIn('bob');
      const elsewhere = await signedIn('bob');
      const page = await here.get('/account/password');
      expect(page.body).toContain('<h1 id="password-title">Change password</h1>');
      for (const label of ['Current password', 'New password', 'Confirm new password']) expect(page.body).toContain(`>${label}</label>`);
      const noticesBefore = t.notices.length;

      const oldCookie = new Map(here.cookies);
      const res = await change(here, PASSWORD);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/account/password?changed=1');
      // This session goes on under a new token; the old cookie is dead (a thief holding it is out).
      const stale = new TestBrowser(t.app, '127.0.0.1:3000', here.ip);
      stale.cookies = oldCookie;
      expect(await isSignedIn(stale)).toBe(false);
      expect((await here.get('/account/password?changed=1')).body).toContain('Your password is changed.');
      expect(await isSignedIn(here)).toBe(true);
      expect(await isSignedIn(elsewhere)).toBe(false);
      expect(await canSignIn('bob', PASSWORD)).toBe(false);
      expect(await canSignIn('bob', NEW_PASSWORD)).toBe(true);
      const events = await auditEvents(t, tenant.accountId, 'user.password_change');
      expect(events.filter((e) => e.actor === 'bob').map((e) => [e.result, e.detail])).toEqual([['success', { sessionsEnded: 1 }]]);
      const told = t.notices.slice(noticesBefore).filter((n) => n.to.username === 'bob');
      expect(told).toHaveLength(1);
      expect(told[0]!.subject).toMatch(/password .* was changed/);
      expect(told[0]!.text).not.toContain(NEW_PASSWORD);
    });

    it('refuses a wrong current password, changes nothing, and counts it against the sign-in lock', async () => {
      const here = await signedIn('mia');
      const before = await failures('mia');
      const res = await change(here, 'not my password at all');
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('The current password is not correct.');
      expect(await failures('mia')).toBe(before + 1);
      expect(await canSignIn('mia', PASSWORD)).toBe(true);
      expect(await canSignIn('mia', NEW_PASSWORD)).toBe(false);
      const events = await auditEvents(t, tenant.accountId, 'user.password_change');
      expect(events.filter((e) => e.actor === 'mia').map((e) => [e.result, e.detail])).toEqual([['failure', { cause: 'wrong password' }]]);
    });

    it('refuses a new password the policy refuses, or a confirmation that differs, before checking anything', async () => {
      const here = await signedIn('alice');
      const before = await failures('alice');
      for (const [newPassword, confirmation, message] of [
        ['short', 'short', 'at least 12 characters'],
        ['password1234', 'password1234', 'too common'],
        [NEW_PASSWORD, `${NEW_PASSWORD}!`, 'confirmation differ'],
      ] as const) {
        const res = await change(here, PASSWORD, newPassword, confirmation);
        expect(res.statusCode).toBe(400);
        expect(res.body).toContain(message);
      }
      expect(await failures('alice')).toBe(before);
      expect(await canSignIn('alice', PASSWORD)).toBe(true);
    });

    it('locks after ten wrong current passwords, like sign-in: then even the right one is refused, here and at /login', async () => {
      const here = await signedIn('bob', NEW_PASSWORD);
      let last = await change(here, 'wrong 0');
      for (let i = 1; i < 10; i++) last = await change(here, `wrong ${i}`);
      expect(last.statusCode).toBe(429);
      expect(last.body).toContain('Try again in 15 minutes.');
      expect((await change(here, NEW_PASSWORD, 'yet another new passphrase')).statusCode).toBe(429);
      expect(await canSignIn('bob', NEW_PASSWORD)).toBe(false);
      t.clock.advance(15 * 60_000);
      expect(await canSignIn('bob', NEW_PASSWORD)).toBe(true);
    });

    it('needs its CSRF token', async () => {
      const here = await signedIn('mia');
      const res = await here.post('/account/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, confirmation: NEW_PASSWORD }, { csrf: null });
      expect(res.statusCode).toBe(403);
      expect(await canSignIn('mia', PASSWORD)).toBe(true);
    });

    it('answers 503 and counts nothing when no hashing thread answers', async () => {
      const here = await signedIn('mia');
      const before = await failures('mia');
      await withHasher(t, async () => expect((await change(here, PASSWORD)).statusCode).toBe(503));
      expect(await failures('mia')).toBe(before);
      expect(await canSignIn('mia', PASSWORD)).toBe(true);
    });

    it('answers 503 and writes nothing when the new hash cannot be made after the current password checked out', async () => {
      const here = await signedIn('alice');
      const before = await failures('alice');
      await withHasher(
        t,
        async () => expect((await change(here, PASSWORD)).statusCode).toBe(503),
        (working) => ({ ...working, hash: async () => Promise.reject(new TemporarilyUnavailable('hashing thread exited')) }),
      );
      expect(await failures('alice')).toBe(before);
      expect(await canSignIn('alice', PASSWORD)).toBe(true);
      expect(await isSignedIn(here)).toBe(true);
    });

    it('takes the new password as NFKC, like sign-in: composed and decomposed forms are one password', async () => {
      const here = await signedIn('alice');
      const decomposed = 'cafe\u0301 au lait, s\u0327il vous plai\u0302t';
      const res = await change(here, PASSWORD, decomposed, decomposed.normalize('NFC'));
      expect(res.statusCode).toBe(303);
      expect(await canSignIn('alice', decomposed.normalize('NFC'))).toBe(true);
      expect(await canSignIn('alice', decomposed)).toBe(true);
    });

    it('lets one of two changes sent at once through; the other changes nothing', async () => {
      const here = await signedIn('bob', NEW_PASSWORD);
      const results = await Promise.all([change(here, NEW_PASSWORD, 'first racing passphrase'), change(here, NEW_PASSWORD, 'second racing passphrase')]);
      expect(results.map((r) => r.statusCode).filter((s) => s === 303)).toHaveLength(1);
      // The other: 409 (it lost the write), 400 (it checked against the new hash), or
      // 401/403 (it arrived after this session's token was replaced).
      expect(results.map((r) => r.statusCode).filter((s) => s !== 303).every((s) => [400, 401, 403, 409].includes(s))).toBe(true);
      const signsIn = [await canSignIn('bob', 'first racing passphrase'), await canSignIn('bob', 'second racing passphrase')];
      expect(signsIn.filter(Boolean)).toHaveLength(1);
    });

    it('works through the API: 200 with the sessions ended (a pending sign-in too), 400 for a wrong password, nothing for the unauthenticated', async () => {
      const client = new TestBrowser(t.app, '127.0.0.1:3000', nextIp());
      expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'mia', password: PASSWORD })).statusCode).toBe(200);
      const other = await signedIn('mia');
      const wrong = await client.json('POST', '/api/v1/password', { currentPassword: 'nope nope nope', newPassword: NEW_PASSWORD });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json()).toEqual({ error: 'wrong_password', message: 'The current password is not correct.' });
      const tooShort = await client.json('POST', '/api/v1/password', { currentPassword: PASSWORD, newPassword: 'short' });
      expect(tooShort.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('at least 12') });
      const sessionsBefore = (await t.db.database.db.selectFrom('sessions').select('id').where('user_id', '=', tenant.managerId).execute()).length;
      const done = await client.json('POST', '/api/v1/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(done.statusCode).toBe(200);
      expect(done.json()).toEqual({ sessionsEnded: sessionsBefore - 1 });
      expect(await isSignedIn(other)).toBe(false);
      expect((await client.json('GET', '/api/v1/session')).statusCode).toBe(200);
      const after = await t.db.database.db.selectFrom('sessions').select('id').where('user_id', '=', tenant.managerId).execute();
      expect(after).toHaveLength(1);
      expect(await canSignIn('mia', NEW_PASSWORD)).toBe(true);
      const stranger = new TestBrowser(t.app, '127.0.0.1:3000', nextIp());
      expect((await stranger.json('POST', '/api/v1/password', { currentPassword: 'x', newPassword: 'y' })).statusCode).toBe(401);
    });
  });
}
