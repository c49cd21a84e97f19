import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';

const STEP = 30_000;

for (const kind of await storeKinds()) {
  describe(`the seed's flows through HTTP (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    const secrets = new Map<string, string>();

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(() => t.close());

    it('Enable MFA: the admin switches it on and is taken straight to set-up', async () => {
      const admin = new TestBrowser(t.app);
      const agentEarly = new TestBrowser(t.app);
      expect((await agentEarly.signIn(tenant.accountId, 'bob', PASSWORD)).headers.location).toBe('/');

      expect((await admin.signIn(tenant.accountId, 'alice', PASSWORD)).headers.location).toBe('/');
      const page = await admin.get('/manage/console/account-access-control');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('>Multi-factor authentication</label>');
      expect(page.body).not.toMatch(/id="mfaEnabled"[^>]*checked/);
      const saved = await admin.post('/manage/console/account-access-control', { mfaEnabled: 'on' });
      expect(saved.statusCode).toBe(303);
      expect(saved.headers.location).toBe('/login/mfa');

      // The agent signed in without a second factor: that session goes no further.
      const after = await agentEarly.get('/');
      expect(after.statusCode).toBe(303);
      expect(after.headers.location).toBe('/login');

      const setup = await admin.get('/login/mfa');
      expect(setup.statusCode).toBe(200);
      const uri = scanQr(setup.body);
      secrets.set('alice', secretOf(uri));
      const done = await admin.post('/login/mfa', { code: oathCode(secretOf(uri), t.clock.now()) });
      expect(done.statusCode).toBe(200);
      expect(done.body).toContain('Save your recovery codes');
      expect((await admin.get('/manage/console/account-access-control')).body).toMatch(/id="mfaEnabled"[^>]*checked/);
    });

    it("MFA Configuration Flow: an agent's first sign-in shows the QR code, stable on reload, then signs in", async () => {
      t.clock.advance(STEP);
      const agent = new TestBrowser(t.app);
      const res = await agent.signIn(tenant.accountId, 'bob', PASSWORD);
      expect(res.headers.location).toBe('/login/mfa');
      const first = await agent.get('/login/mfa');
      expect(first.body).toContain('>Authentication code</label>');
      expect(first.body).toContain('autocomplete="one-time-code"');
      expect(first.body).toContain('inputmode="numeric"');
      const uri = scanQr(first.body);
      const url = new URL(uri);
      expect(url.protocol).toBe('otpauth:');
      expect(url.host).toBe('totp');
      expect(decodeURIComponent(url.pathname)).toBe('/Acme Support:bob');
      expect(url.searchParams.get('issuer')).toBe('Acme Support');
      expect(url.searchParams.get('algorithm')).toBe('SHA1');
      expect(url.searchParams.get('digits')).toBe('6');
      expect(url.searchParams.get('period')).toBe('30');
      expect(secretOf(uri)).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
      const manual = /aria-label="Setup key">([A-Z2-7 ]+)</.exec(first.body)?.[1];
      expect(manual?.replaceAll(' ', '')).toBe(secretOf(uri));
      expect(manual).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);

      const reload = await agent.get('/login/mfa');
      expect(scanQr(reload.body)).toBe(uri);
      // Nothing is stored on the user until a code proves the app has the secret.
      expect(await t.deps.store.factors.forUser(tenant.accountId, tenant.agentId)).toEqual([]);

      const code = oathCode(secretOf(uri), t.clock.now());
      const done = await agent.post('/login/mfa', { code: `${code.slice(0, 3)} ${code.slice(3)}` });
      expect(done.statusCode).toBe(200);
      const codes = /<textarea[^>]*>([^<]+)<\/textarea>/.exec(done.body)?.[1]?.split('\n') ?? [];
      expect(codes).toHaveLength(10);
      expect((await agent.get('/')).statusCode).toBe(200);
      secrets.set('bob', secretOf(uri));
      expect(t.notices.some((n) => n.to.username === 'bob' && /authenticator app was set up/.test(n.subject))).toBe(true);
    });

    it('a later sign-in asks only for the code', async () => {
      t.clock.advance(STEP);
      const agent = new TestBrowser(t.app);
      await agent.signIn(tenant.accountId, 'bob', PASSWORD);
      const page = await agent.get('/login/mfa');
      expect(page.body).toContain('Verify your identity');
      expect(page.body).not.toContain('class="qr"');
      expect(page.body).toContain('Use a recovery code instead');
      const res = await agent.post('/login/mfa', { code: oathCode(secrets.get('bob')!, t.clock.now()) });
      expect(res.headers.location).toBe('/');
      expect((await agent.get('/')).statusCode).toBe(200);
    });

    it('Reset MFA: the admin resets the agent; sessions end; set-up shows again with a new secret', async () => {
      t.clock.advance(STEP);
      const agent = new TestBrowser(t.app);
      await agent.signIn(tenant.accountId, 'bob', PASSWORD);
      await agent.get('/login/mfa');
      await agent.post('/login/mfa', { code: oathCode(secrets.get('bob')!, t.clock.now()) });
      expect((await agent.get('/')).statusCode).toBe(200);

      const admin = new TestBrowser(t.app);
      await admin.signIn(tenant.accountId, 'alice', PASSWORD);
      await admin.get('/login/mfa');
      await admin.post('/login/mfa', { code: oathCode(secrets.get('alice')!, t.clock.now()) });
      const list = await admin.get('/manage/users');
      expect(list.statusCode).toBe(200);
      expect(list.body).toContain(`href="/manage/users/${tenant.agentId}"`);
      const edit = await admin.get(`/manage/users/${tenant.agentId}`);
      expect(edit.body).toContain('Edit user');
      expect(edit.body).toContain('Reset MFA');
      const reset = await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, {});
      expect(reset.statusCode).toBe(303);

      expect((await agent.get('/')).headers.location).toBe('/login');
      t.clock.advance(STEP);
      const again = new TestBrowser(t.app);
      await again.signIn(tenant.accountId, 'bob', PASSWORD);
      const setup = await again.get('/login/mfa');
      const uri = scanQr(setup.body);
      expect(secretOf(uri)).not.toBe(secrets.get('bob'));
      const done = await again.post('/login/mfa', { code: oathCode(secretOf(uri), t.clock.now()) });
      expect(done.body).toContain('Save your recovery codes');
    });
  });
}
