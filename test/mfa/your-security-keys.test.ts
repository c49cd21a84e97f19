import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { SoftKey } from '../helpers/authenticator.ts';
import type { CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { STEP, addUser, auditEvents, codeNow, mfaTenant, recoveryCodesOn, wrongCode } from './support.ts';

// A security key or passkey added from "Your security" (issue 14), over real
// HTTP with a key in software that signs as a real one does
// (helpers/authenticator.ts): a current code beside the key's answer, the key
// then signs in; a replayed or foreign answer is refused and audited.

const HOST = 'localhost:3000';
const ORIGIN = `http://${HOST}`;

for (const kind of await storeKinds()) {
  describe(`your security: adding a security key (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t, 'Keys Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** A user enrolled with an authenticator app through the API, as a client of localhost (the relying party). */
    async function enrolled(username: string): Promise<{ userId: string; client: TestBrowser; secret: string }> {
      const userId = await addUser(t, tenant, username);
      t.clock.advance(STEP);
      const client = new TestBrowser(t.app, HOST);
      const login = await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username, password: PASSWORD });
      const secret = secretOf(login.json<{ otpauthUri: string }>().otpauthUri);
      expect((await client.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(200);
      return { userId, client, secret };
    }

    async function options(client: TestBrowser): Promise<CeremonyOptionsJSON & { excludeCredentials?: Array<{ id: string }> }> {
      const res = await client.json('POST', '/api/v1/factors/webauthn/options', {});
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ mode: string; options: CeremonyOptionsJSON & { excludeCredentials?: Array<{ id: string }> } }>();
      expect(body.mode).toBe('register');
      return body.options;
    }

    it('adds a key through the API with a current code beside it; the key then signs in', async () => {
      const { userId, client, secret } = await enrolled('nina');
      const key = new SoftKey(ORIGIN, 'localhost');
      const answer = key.register(await options(client));
      // No code: asked for one; the key's answer is not spent, so it goes again with the code.
      expect((await client.json('POST', '/api/v1/factors/webauthn', { credential: answer })).json()).toMatchObject({ error: 'step_up_required' });
      expect((await client.json('POST', '/api/v1/factors/webauthn', { credential: answer, code: wrongCode(t, secret) })).statusCode).toBe(401);
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toHaveLength(1);
      t.clock.advance(STEP);
      const added = await client.json('POST', '/api/v1/factors/webauthn', { credential: answer, code: codeNow(t, secret), name: 'Blue key' });
      expect(added.statusCode, added.body).toBe(201);
      expect(added.json()).toMatchObject({ factor: { name: 'Blue key', type: 'webauthn' } });
      expect(added.json<{ recoveryCodes?: string[] }>().recoveryCodes).toBeUndefined();
      const factors = await t.deps.store.factors.forUser(tenant.accountId, userId);
      expect(factors.map((f) => [f.type, f.name])).toEqual([
        ['totp', 'Authenticator app'],
        ['webauthn', 'Blue key'],
      ]);
      expect(factors[1]).toMatchObject({ credentialId: key.id });
      const events = (await auditEvents(t, tenant.accountId, 'factor.add')).filter((e) => e.targetUserId === userId && e.result === 'success');
      expect(events.map((e) => e.detail)).toEqual([{ factorId: factors[1]!.id, type: 'webauthn', name: 'Blue key', factorsHeld: 2 }]);
      expect(t.notices.some((n) => n.to.username === 'nina' && n.subject === 'A security key was added for Keys Ltd')).toBe(true);
      // The next add leaves this key out of the ceremony (one key is not added twice).
      expect((await options(client)).excludeCredentials?.map((c) => c.id)).toEqual([key.id]);

      const signIn = new TestBrowser(t.app, HOST);
      await signIn.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'nina', password: PASSWORD });
      const c = (await signIn.json('POST', '/api/v1/login/mfa/webauthn/options', {})).json<{ options: CeremonyOptionsJSON }>();
      const done = await signIn.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential: key.assert(c.options) });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.json()).toEqual({ state: 'authenticated' });
    });

    it('refuses a replayed answer (its challenge was used), one from another origin, and none at all; audited, nothing added', async () => {
      const { userId, client, secret } = await enrolled('olaf');
      const key = new SoftKey(ORIGIN, 'localhost');
      const answer = key.register(await options(client));
      t.clock.advance(STEP);
      expect((await client.json('POST', '/api/v1/factors/webauthn', { credential: answer, code: codeNow(t, secret) })).statusCode).toBe(201);
      t.clock.advance(STEP);
      const replay = await client.json('POST', '/api/v1/factors/webauthn', { credential: answer, code: codeNow(t, secret) });
      expect(replay.statusCode).toBe(400);
      expect(replay.json()).toMatchObject({ error: 'key_refused', message: 'The security key’s answer was not accepted. Try again with the key, or another one.' });

      t.clock.advance(1000); // the audit log lists the newest first
      const phished = new SoftKey('http://localhost.evil.example', 'localhost');
      expect((await client.json('POST', '/api/v1/factors/webauthn', { credential: phished.register(await options(client)), code: codeNow(t, secret) })).json()).toMatchObject({ error: 'key_refused' });
      t.clock.advance(1000);
      expect((await client.json('POST', '/api/v1/factors/webauthn', { credential: {}, code: codeNow(t, secret) })).json()).toMatchObject({ error: 'key_refused' });
      expect((await t.deps.store.factors.forUser(tenant.accountId, userId)).filter((f) => f.type === 'webauthn')).toHaveLength(1);
      const failures = (await auditEvents(t, tenant.accountId, 'factor.add')).filter((e) => e.targetUserId === userId && e.result === 'failure');
      expect(failures.map((e) => (e.detail as { reason: string }).reason)).toEqual([
        'malformed',
        expect.stringMatching(/^rejected: .*origin/i),
        'challenge unknown, expired or used',
      ]);
      // A refused answer spent no code: no step-up was recorded for them.
      const stepUps = (await auditEvents(t, tenant.accountId, 'mfa.step_up')).filter((e) => e.targetUserId === userId);
      expect(stepUps).toHaveLength(1);
    });

    it('adds a key through the page: the form (hidden until the browser half finds WebAuthn) posts the answer with the name and a current code', async () => {
      const { userId, client, secret } = await enrolled('pavel');
      const page = await client.get('/account/security/security-key');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('data-webauthn="/api/v1/factors/webauthn/options"');
      expect(page.body).toContain('<label for="code">Authentication code</label>');
      expect(page.body).toContain('<script src="/assets/webauthn-client.js" defer></script>');
      expect(page.body).toContain('Adding a security key needs JavaScript');
      expect((await client.get('/account/security')).body).toContain('<a href="/account/security/security-key">Add a security key or passkey</a>');
      const key = new SoftKey(ORIGIN, 'localhost');
      const credential = JSON.stringify(key.register(await options(client)));
      const noCode = await client.post('/account/security/security-key', { credential, name: 'Desk key' });
      expect(noCode.statusCode).toBe(400);
      expect(noCode.body).toContain('Enter the current code from your authenticator app');
      expect(noCode.body).toContain('value="Desk key"');
      t.clock.advance(STEP);
      const done = await client.post('/account/security/security-key', { credential, name: 'Desk key', code: codeNow(t, secret) });
      expect(done.statusCode, done.body).toBe(303);
      expect(done.headers.location).toBe('/account/security?done=key-added');
      const overview = await client.get('/account/security?done=key-added');
      expect(overview.body).toContain('The security key is added.');
      expect(overview.body).toContain('<td>Desk key</td><td>Security key or passkey</td>');
      expect((await t.deps.store.factors.forUser(tenant.accountId, userId)).map((f) => f.name)).toEqual(['Authenticator app', 'Desk key']);
    });

    it('a user without any factor (MFA off) adds a key without a code and gets recovery codes, shown once', async () => {
      const open = await seedTenant(t.deps, 'Open Keys Ltd');
      const client = new TestBrowser(t.app, HOST);
      expect((await client.json('POST', '/api/v1/login', { accountId: open.accountId, username: 'bob', password: PASSWORD })).json()).toEqual({ state: 'authenticated' });
      const key = new SoftKey(ORIGIN, 'localhost');
      const credential = JSON.stringify(key.register(await options(client)));
      await client.get('/account/security/security-key');
      const shown = await client.post('/account/security/security-key', { credential });
      expect(shown.statusCode, shown.body).toBe(200);
      expect(shown.body).toContain('Your security key is set up.');
      expect(recoveryCodesOn(shown.body)).toHaveLength(10);
      expect((await t.deps.store.factors.forUser(open.accountId, open.agentId)).map((f) => f.name)).toEqual(['Security key']);
    });
  });
}
