import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { decode, linkTo, signedIn } from './admin-support.ts';

// The seed's "Enable MFA" path as an admin sees it: Home → Manage →
// Management Console (with its Search settings box) → Admin & Secure →
// Account Access Control, with the Multi-factor authentication checkbox.

const ACCESS_CONTROL = '/manage/console/account-access-control';

/** The search results section of the console page, or '' when there is none. */
function results(html: string): string {
  return /<section aria-labelledby="results-title">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
}

for (const kind of await storeKinds()) {
  describe(`Management Console (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      admin = await signedIn(t, tenant.accountId, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    it('shows admins a Manage menu with Management Console and Users & Skills on the home page, and nobody else', async () => {
      const home = await admin.get('/');
      expect(home.statusCode).toBe(200);
      expect(home.body).toContain('<summary>Manage</summary>');
      expect(linkTo(home.body, 'Management Console')).toBe('/manage/console');
      expect(linkTo(home.body, 'Users &amp; Skills')).toBe('/manage/users');

      for (const username of ['bob', 'mia']) {
        const other = await signedIn(t, tenant.accountId, username);
        const page = await other.get('/');
        expect(page.statusCode).toBe(200);
        expect(page.body, username).not.toContain('>Manage<');
        expect(page.body, username).not.toContain('/manage/console');
        expect(page.body, username).not.toContain('/manage/users');
      }
    });

    it('has a labelled "Search settings" box', async () => {
      const page = await admin.get('/manage/console');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1>Management Console</h1>');
      expect(page.body).toContain('<label for="settings-search">Search settings</label>');
      expect(page.body).toMatch(/<input id="settings-search" name="q" type="search"/);
      expect(page.body).toMatch(/<form method="get" action="\/manage\/console" role="search"/);
      // No query, no results section.
      expect(results(page.body)).toBe('');
    });

    const queries = [
      'MFA',
      'mfa',
      'Mfa',
      'multi-factor',
      'Multi-Factor',
      'MULTI-FACTOR',
      'Multi-factor authentication',
      'two-factor',
      'Two-Factor',
      'two factor',
      '2FA',
      '2fa',
      'access control',
      'Access Control',
      'ACCESS CONTROL',
      '  access   control  ',
    ];
    for (const query of queries) {
      it(`offers Account Access Control for the search "${query}"`, async () => {
        const page = await admin.get(`/manage/console?${new URLSearchParams({ q: query }).toString()}`);
        expect(page.statusCode).toBe(200);
        const found = results(page.body);
        expect(linkTo(found, 'Account Access Control')).toBe(ACCESS_CONTROL);
        expect(found).not.toContain('No settings match');
        // The box keeps what was typed.
        expect(decode(page.body)).toContain(`value="${query}"`);
      });
    }

    it('lists nothing for a nonsense search, and says so', async () => {
      for (const query of ['qwzxv', 'banana smoothie', 'zzzzzzzz']) {
        const page = await admin.get(`/manage/console?${new URLSearchParams({ q: query }).toString()}`);
        expect(page.statusCode).toBe(200);
        const found = results(page.body);
        expect(decode(found)).toContain(`No settings match “${query}”.`);
        expect(found).not.toContain('<a ');
      }
    });

    it('leads from Management Console to Admin & Secure to Account Access Control, with breadcrumbs back', async () => {
      const consolePage = await admin.get('/manage/console');
      const adminSecure = linkTo(consolePage.body, 'Admin &amp; Secure');
      expect(adminSecure).toBe('/manage/console/admin-secure');

      const secure = await admin.get(adminSecure ?? '');
      expect(secure.statusCode).toBe(200);
      expect(secure.body).toContain('<h1>Admin &amp; Secure</h1>');
      expect(linkTo(secure.body, 'Management Console')).toBe('/manage/console');
      const accessControl = linkTo(secure.body, 'Account Access Control');
      expect(accessControl).toBe(ACCESS_CONTROL);

      const page = await admin.get(accessControl ?? '');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1>Account Access Control</h1>');
      expect(linkTo(page.body, 'Management Console')).toBe('/manage/console');
      expect(linkTo(page.body, 'Admin &amp; Secure')).toBe('/manage/console/admin-secure');
    });

    it('has the "Multi-factor authentication" checkbox, unticked while MFA is off, and a Save button', async () => {
      const page = await admin.get(ACCESS_CONTROL);
      expect(page.body).toMatch(/<form method="post" action="\/manage\/console\/account-access-control"/);
      expect(page.body).toMatch(/<input type="checkbox" id="mfaEnabled" name="mfaEnabled" value="on"/);
      expect(page.body).toContain('<label for="mfaEnabled">Multi-factor authentication</label>');
      expect(page.body).not.toMatch(/id="mfaEnabled"[^>]*checked/);
      expect(page.body).toContain('<button type="submit">Save</button>');
    });

    it('changes nothing and audits nothing when saved as it is', async () => {
      const events = (await t.deps.store.audit.list(tenant.accountId, { limit: 1000, offset: 0 })).length;
      const saved = await admin.post(ACCESS_CONTROL, {});
      expect(saved.statusCode).toBe(303);
      expect(saved.headers.location).toBe(`${ACCESS_CONTROL}?saved=1`);
      expect((await t.deps.store.accounts.get(tenant.accountId))?.mfaEnabled).toBe(false);
      expect((await t.deps.store.audit.list(tenant.accountId, { limit: 1000, offset: 0 })).length).toBe(events);
    });

    it('switches MFA off when saved with the box unticked, and audits account.mfa_disabled', async () => {
      // On first, through the page: the admin is taken to set up their own app.
      const on = await admin.post(ACCESS_CONTROL, { mfaEnabled: 'on' });
      expect(on.headers.location).toBe('/login/mfa');
      const setup = await admin.get('/login/mfa');
      const secret = secretOf(scanQr(setup.body));
      expect((await admin.post('/login/mfa', { code: oathCode(secret, t.clock.now()) })).body).toContain('Save your recovery codes');
      expect((await admin.get(ACCESS_CONTROL)).body).toMatch(/id="mfaEnabled"[^>]*checked/);
      // An agent now needs a second factor.
      const agent = new TestBrowser(t.app);
      expect((await agent.signIn(tenant.accountId, 'bob', PASSWORD)).headers.location).toBe('/login/mfa');

      t.clock.advance(60_000);
      const off = await admin.post(ACCESS_CONTROL, {});
      expect(off.statusCode).toBe(303);
      expect(off.headers.location).toBe(`${ACCESS_CONTROL}?saved=1`);
      expect((await t.deps.store.accounts.get(tenant.accountId))?.mfaEnabled).toBe(false);

      const page = await admin.get(off.headers.location as string);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('Saved.');
      expect(page.body).not.toMatch(/id="mfaEnabled"[^>]*checked/);

      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'account.mfa_disabled', limit: 10, offset: 0 });
      expect(event).toMatchObject({ action: 'account.mfa_disabled', actor: 'alice', actorUserId: tenant.adminId, ip: '127.0.0.1', result: 'success', at: t.clock.now() });

      // Password alone signs in again.
      expect((await new TestBrowser(t.app).signIn(tenant.accountId, 'bob', PASSWORD)).headers.location).toBe('/');
    });
  });
}
