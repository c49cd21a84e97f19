import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';

for (const kind of await storeKinds()) {
  describe(`password sign-in (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let other: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Acme Support');
      other = await seedTenant(t.deps, 'Globex Care');
    });
    afterAll(() => t.close());

    it('shows the sign-in form with the three labelled fields', async () => {
      const res = await new TestBrowser(t.app).get('/login');
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      for (const label of ['Account number', 'Username', 'Password']) expect(res.body).toContain(`>${label}</label>`);
      expect(res.body).toContain('>Sign in</button>');
    });

    it('signs a user in and lands on the home page with the Manage menu for admins', async () => {
      const browser = new TestBrowser(t.app);
      const res = await browser.signIn(tenant.accountId, 'alice', PASSWORD);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/');
      const home = await browser.get('/');
      expect(home.statusCode).toBe(200);
      expect(home.body).toContain('Management Console');
      expect(home.body).toContain('Users &amp; Skills');
      expect(home.body).toContain('Sign out');
    });

    it('shows no Manage menu to an agent', async () => {
      const browser = new TestBrowser(t.app);
      await browser.signIn(tenant.accountId, 'bob', PASSWORD);
      const home = await browser.get('/');
      expect(home.statusCode).toBe(200);
      expect(home.body).not.toContain('Management Console');
    });

    it('takes the username case-insensitively', async () => {
      const res = await new TestBrowser(t.app).signIn(tenant.accountId, 'ALICE', PASSWORD);
      expect(res.statusCode).toBe(303);
    });

    it("refuses a user's credentials under another account's number", async () => {
      const { createUser } = await import('../../src/services/users.ts');
      const carol = await createUser(t.deps, tenant.accountId, { username: 'carol', role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
      expect(carol.ok).toBe(true);
      const elsewhere = await new TestBrowser(t.app).signIn(other.accountId, 'carol', PASSWORD);
      expect(elsewhere.statusCode).toBe(401);
      const api = await new TestBrowser(t.app).json('POST', '/api/v1/login', { accountId: other.accountId, username: 'carol', password: PASSWORD });
      expect(api.statusCode).toBe(401);
      expect(api.json()).toMatchObject({ error: 'invalid_credentials' });
      const home = await new TestBrowser(t.app).signIn(tenant.accountId, 'carol', PASSWORD);
      expect(home.statusCode).toBe(303);
    });

    it('answers an unknown user exactly like a wrong password', async () => {
      const wrong = await new TestBrowser(t.app, undefined, '10.0.0.1').signIn(tenant.accountId, 'alice', 'wrong password here');
      const unknown = await new TestBrowser(t.app, undefined, '10.0.0.2').signIn(tenant.accountId, 'nobody', 'wrong password here');
      const noAccount = await new TestBrowser(t.app, undefined, '10.0.0.3').signIn('99999999', 'alice', 'wrong password here');
      for (const res of [wrong, unknown, noAccount]) {
        expect(res.statusCode).toBe(401);
        expect(res.body).toContain('Incorrect account number, username or password');
      }
      const strip = (body: string) => body.replace(/value="[^"]*"/g, '');
      expect(strip(wrong.body).replace('alice', 'X')).toBe(strip(unknown.body).replace('nobody', 'X'));
    });
  });
}
