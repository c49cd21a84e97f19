import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { auditEvents, enrolByPage, sessionsOf } from '../mfa/support.ts';
import { addUser, api, decode, expectJsonError, postForm, signedIn } from './admin-support.ts';

// Issue 15, passwords an admin sets: an initial password is changed at the
// first sign-in before anything else; Reset password sends a one-time link,
// valid 24 hours, that a newer link, a use or the clock makes useless.

const GIVEN = 'the admin chose this one 1';
const OWN = 'my very own passphrase 2026';
const HOUR = 3_600_000;

for (const kind of await storeKinds()) {
  describe(`passwords an admin sets (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Reset Co');
      admin = await signedIn(t, tenant.accountId, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    async function addByPage(username: string, email = ''): Promise<string> {
      await admin.get('/manage/users');
      const res = await postForm(t, admin, '/manage/users', [
        ['username', username],
        ['role', 'agent'],
        ['password', GIVEN],
        ['email', email],
      ]);
      expect(res.statusCode, res.body).toBe(303);
      const user = await t.deps.store.users.findByUsername(tenant.accountId, username);
      return user?.id ?? '';
    }
    /** A browser that holds the link, with a form's CSRF token (as from any page of the site). */
    const holderOf = async () => {
      const b = new TestBrowser(t.app);
      await b.get('/login');
      return b;
    };
    const canSignIn = async (username: string, password: string) =>
      (await new TestBrowser(t.app).signIn(tenant.accountId, username, password)).statusCode === 303;

    it('sends a user whose password an admin set to the change page first: no page or API call answers before it', async () => {
      const id = await addByPage('newbie');
      const browser = new TestBrowser(t.app);
      const signIn = await browser.signIn(tenant.accountId, 'newbie', GIVEN);
      expect(signIn.headers.location).toBe('/account/password');
      for (const url of ['/', '/account/sessions', '/manage/users', `/manage/users/${id}`]) {
        const res = await browser.get(url);
        expect(res.statusCode, url).toBe(303);
        expect(res.headers.location, url).toBe('/account/password');
      }
      // A form post elsewhere changes nothing and goes the same way.
      const ended = await browser.post('/account/sessions/end-others', {});
      expect(ended.headers.location).toBe('/account/password');
      expectJsonError(await api(t, browser, 'GET', '/api/v1/sessions'), 403, 'password_change_required');
      expect((await api(t, browser, 'GET', '/api/v1/session')).json()).toMatchObject({ state: 'password_change_required' });
      const apiLogin = await api(t, null, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'newbie', password: GIVEN });
      expect(apiLogin.json()).toEqual({ state: 'password_change_required' });

      const page = await browser.get('/account/password');
      expect(page.statusCode).toBe(200);
      expect(decode(page.body)).toContain('Your password was set by an administrator. Choose your own password to continue');
      const changed = await browser.post('/account/password', { currentPassword: GIVEN, newPassword: OWN, confirmation: OWN });
      expect(changed.statusCode, changed.body).toBe(303);
      expect(changed.headers.location).toBe('/');
      expect((await browser.get('/')).statusCode).toBe(200);
      expect((await t.deps.store.users.get(tenant.accountId, id))?.passwordChangeRequired).toBe(false);
      // The API session signed in before the change ended with it; the next sign-in goes home.
      expect((await new TestBrowser(t.app).signIn(tenant.accountId, 'newbie', OWN)).headers.location).toBe('/');
    });

    it('forces the change for users added through the API too, and not for the admin who created the account', async () => {
      const made = await api(t, admin, 'POST', '/api/v1/users', { username: 'apiuser', role: 'agent', password: GIVEN });
      expect(made.statusCode, made.body).toBe(201);
      const client = await api(t, null, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'apiuser', password: GIVEN });
      expect(client.json()).toEqual({ state: 'password_change_required' });
      // alice typed her own password at `account create`.
      expect((await new TestBrowser(t.app).signIn(tenant.accountId, 'alice', PASSWORD)).headers.location).toBe('/');
    });

    it('sends a Reset password link shown once to the admin; it sets a new password once, ends the user’s sessions, is audited and notified', async () => {
      const id = await addByPage('rita');
      const ritaSession = await signedIn(t, tenant.accountId, 'bob');
      const bob = tenant.agentId;
      expect(await sessionsOf(t, bob)).not.toHaveLength(0);

      await admin.get(`/manage/users/${bob}`);
      const issued = await admin.post(`/manage/users/${bob}/reset-password`, {});
      expect(issued.statusCode, issued.body).toBe(200);
      expect(issued.headers['cache-control']).toBe('no-store');
      const link = /value="(http:\/\/127\.0\.0\.1:3000\/password\/reset\/[A-Za-z0-9_-]{43})"/.exec(issued.body)?.[1];
      expect(link, issued.body).toBeDefined();
      const path = new URL(link as string).pathname;
      // Stored hashed: no row holds the token.
      const token = path.split('/').pop() as string;
      const rows = await t.db.database.db.selectFrom('password_resets').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(token);

      const holder = new TestBrowser(t.app);
      const form = await holder.get(path);
      expect(form.statusCode).toBe(200);
      expect(form.body).toContain('Set a new password');
      const weak = await holder.post(path, { newPassword: 'short', confirmation: 'short' });
      expect(weak.statusCode).toBe(400);
      expect(weak.body).toContain('Password must be at least 12 characters.');
      const noticesBefore = t.notices.length;
      const set = await holder.post(path, { newPassword: OWN, confirmation: OWN });
      expect(set.statusCode, set.body).toBe(200);
      expect(set.body).toContain('Password set');
      expect(await canSignIn('bob', PASSWORD)).toBe(false);
      expect(await canSignIn('bob', OWN)).toBe(true);
      expect((await ritaSession.get('/')).statusCode, 'the session open before the reset ended').toBe(303);
      expect(t.notices.slice(noticesBefore).map((n) => n.subject)).toEqual(['Your password for Reset Co was reset']);
      expect(await auditEvents(t, tenant.accountId, 'user.password_reset_issued')).toContainEqual(expect.objectContaining({ actor: 'alice', targetUserId: bob }));
      expect(await auditEvents(t, tenant.accountId, 'user.password_reset')).toContainEqual(expect.objectContaining({ actor: 'bob', targetUserId: bob, result: 'success' }));
      expect(t.logs.text).not.toContain(token);

      // Used once: the same link again does nothing, with a clear page.
      const again = await (await holderOf()).post(path, { newPassword: 'a second new passphrase', confirmation: 'a second new passphrase' });
      expect(again.statusCode).toBe(404);
      expect(again.body).toContain('This link no longer works');
      expect((await new TestBrowser(t.app).get(path)).statusCode).toBe(404);
      expect(await canSignIn('bob', OWN)).toBe(true);
      expect(id).not.toBe('');
    });

    it('e-mails the link to a user with an address and never shows it to the admin', async () => {
      const id = await addByPage('erin', 'erin@example.com');
      const res = await api(t, admin, 'POST', `/api/v1/users/${id}/reset-password`, {});
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ emailed: true, expiresAt: expect.any(String) });
      const mail = t.notices.at(-1);
      expect(mail?.to.email).toBe('erin@example.com');
      const path = /\/password\/reset\/[A-Za-z0-9_-]{43}/.exec(mail?.text ?? '')?.[0] as string;
      // A link used for an admin-set password's user: the password is now their own.
      const set = await (await holderOf()).post(path, { newPassword: OWN, confirmation: OWN });
      expect(set.statusCode).toBe(200);
      expect((await t.deps.store.users.get(tenant.accountId, id))?.passwordChangeRequired).toBe(false);
      expect((await new TestBrowser(t.app).signIn(tenant.accountId, 'erin', OWN)).headers.location).toBe('/');
    });

    it('a link issued before a newer one, or older than 24 hours, does nothing', async () => {
      const id = await addByPage('sam');
      const first = (await api(t, admin, 'POST', `/api/v1/users/${id}/reset-password`, {})).json<{ link: string }>().link;
      const second = (await api(t, admin, 'POST', `/api/v1/users/${id}/reset-password`, {})).json<{ link: string }>().link;
      const superseded = await (await holderOf()).post(new URL(first).pathname, { newPassword: OWN, confirmation: OWN });
      expect(superseded.statusCode).toBe(404);
      expect(await canSignIn('sam', GIVEN)).toBe(true);

      t.clock.advance(24 * HOUR);
      const expired = await (await holderOf()).post(new URL(second).pathname, { newPassword: OWN, confirmation: OWN });
      expect(expired.statusCode).toBe(404);
      expect(expired.body).toContain('This link no longer works');
      expect(await canSignIn('sam', GIVEN)).toBe(true);
      expect(await canSignIn('sam', OWN)).toBe(false);
      admin = await signedIn(t, tenant.accountId, 'alice');
    });

    it('an unknown or malformed link answers the same clear page', async () => {
      for (const path of ['/password/reset/x', `/password/reset/${'A'.repeat(43)}`, `/password/reset/${'%27'.repeat(20)}`]) {
        const res = await new TestBrowser(t.app).get(path);
        expect(res.statusCode, path).toBe(404);
        expect(res.body, path).toContain('This link no longer works');
      }
    });
  });

  describe(`no account without an admin (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Two Admins');
    });
    afterAll(async () => {
      await t?.close();
    });
    const activeAdmins = () => t.deps.store.users.activeAdmins(tenant.accountId);

    it('two admins demoting each other at once leave one admin: the other is told it is the last one', async () => {
      for (let round = 0; round < 3; round++) {
        const carl = await addUser(t, tenant.accountId, `carl${round}`, 'admin');
        const alice = await signedIn(t, tenant.accountId, 'alice');
        const other = await signedIn(t, tenant.accountId, `carl${round}`);
        const [a, b] = await Promise.all([
          api(t, alice, 'PATCH', `/api/v1/users/${carl}`, { role: 'agent' }),
          api(t, other, 'PATCH', `/api/v1/users/${tenant.adminId}`, { state: 'disabled' }),
        ]);
        const statuses = [a.statusCode, b.statusCode].sort();
        expect(statuses, `${a.body} ${b.body}`).toEqual([200, 409]);
        expectJsonError(a.statusCode === 409 ? a : b, 409, 'last_admin');
        expect(await activeAdmins()).toHaveLength(1);
        // Back to alice alone for the next round (by the store: the CLI's way).
        await t.deps.store.users.update(tenant.accountId, tenant.adminId, { role: 'admin', state: 'active', email: null }, t.clock.now());
        await t.deps.store.users.update(tenant.accountId, carl, { role: 'agent', state: 'active', email: null }, t.clock.now());
      }
    });

    it('the page says so too, and changes nothing', async () => {
      const dora = await addUser(t, tenant.accountId, 'dora', 'admin');
      const fresh = await signedIn(t, tenant.accountId, 'alice');
      const doraBrowser = await signedIn(t, tenant.accountId, 'dora');
      await fresh.get(`/manage/users/${dora}`);
      await doraBrowser.get(`/manage/users/${tenant.adminId}`);
      const [x, y] = await Promise.all([
        postForm(t, fresh, `/manage/users/${dora}`, [['role', 'agent'], ['state', 'active'], ['email', '']]),
        postForm(t, doraBrowser, `/manage/users/${tenant.adminId}`, [['role', 'agent'], ['state', 'active'], ['email', '']]),
      ]);
      const refused = x.statusCode === 409 ? x : y;
      expect([x.statusCode, y.statusCode].sort()).toEqual([303, 409]);
      expect(decode(refused.body)).toContain('is the account’s last active admin: make another user an admin first.');
      expect(await activeAdmins()).toHaveLength(1);
    });
  });

  describe(`an admin resetting their own MFA (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Solo Admin');
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('is refused while no other active admin exists, and allowed once one does', async () => {
      const { browser } = await enrolByPage(t, tenant, 'alice');
      await browser.get(`/manage/users/${tenant.adminId}`);
      const page = await browser.post(`/manage/users/${tenant.adminId}/reset-mfa`, {});
      expect(page.statusCode).toBe(409);
      expect(decode(page.body)).toContain('You are the account’s only active admin: you cannot reset your own MFA here.');
      expectJsonError(await api(t, browser, 'POST', `/api/v1/users/${tenant.adminId}/reset-mfa`, {}), 409, 'only_admin_own_mfa');
      expect(await t.deps.store.factors.forUser(tenant.accountId, tenant.adminId)).toHaveLength(1);

      await addUser(t, tenant.accountId, 'backup', 'admin');
      await browser.get(`/manage/users/${tenant.adminId}`);
      const done = await browser.post(`/manage/users/${tenant.adminId}/reset-mfa`, {});
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe('/login');
      expect(await t.deps.store.factors.forUser(tenant.accountId, tenant.adminId)).toHaveLength(0);
    });
  });
}
