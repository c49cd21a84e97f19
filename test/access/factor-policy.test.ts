import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amrOf } from '../../src/domain/auth-methods.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { SoftKey } from '../helpers/authenticator.ts';
import type { CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { PASSWORD, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, auditEvents, codeNow, mfaTenant, recoveryCodesOn, STEP } from '../mfa/support.ts';

// Account Access Control's second factors (issue 14): which kinds count, and
// Require a security key or passkey for admins, over real HTTP on both
// stores, with a key in software (helpers/authenticator.ts) and codes from
// oathtool. A factor of a kind the account no longer allows does not let its
// user in; the admin who requires keys is taken to set one up, never locked out.

const HOST = 'localhost:3000';
const ORIGIN = `http://${HOST}`;
const PAGE = '/manage/console/account-access-control';

type Ceremony = { mode: 'register' | 'authenticate'; options: CeremonyOptionsJSON };

function browser(t: TestApp): TestBrowser {
  return new TestBrowser(t.app, HOST);
}

/** Password, then the code page; answers the browser and the page it shows. */
async function pendingPage(t: TestApp, tenant: Tenant, username: string) {
  const b = browser(t);
  const res = await b.signIn(tenant.accountId, username, PASSWORD);
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe('/login/mfa');
  return { b, page: await b.get('/login/mfa') };
}

/** First sign-in with an authenticator app, through the pages (QR read by zbarimg, code by oathtool). */
async function enrolApp(t: TestApp, tenant: Tenant, username: string) {
  const { b, page } = await pendingPage(t, tenant, username);
  const secret = secretOf(scanQr(page.body));
  const answer = await b.post('/login/mfa', { code: codeNow(t, secret) });
  expect(answer.statusCode).toBe(200);
  return { b, secret, recoveryCodes: recoveryCodesOn(answer.body) };
}

async function ceremony(b: TestBrowser): Promise<Ceremony> {
  const res = await b.json('POST', '/api/v1/login/mfa/webauthn/options', {});
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Ceremony>();
}

function sendKey(b: TestBrowser, credential: unknown): Promise<LightMyRequestResponse> {
  return b.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential });
}

async function saveFactors(b: TestBrowser, fields: Record<string, string | string[]>) {
  await b.get(PAGE);
  return b.post(`${PAGE}/factors`, fields);
}

/** The home page opens: a full session (a pending one is sent to the code page). */
async function stillSignedIn(b: TestBrowser): Promise<boolean> {
  return (await b.get('/')).statusCode === 200;
}

for (const kind of await storeKinds()) {
  describe(`Account Access Control: second factors (${kind})`, () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await buildTestApp(kind);
    });
    afterAll(async () => t?.close());

    it('with security keys only, set-up offers a key and no QR code, and an authenticator app no longer lets its user in', async () => {
      const tenant = await mfaTenant(t, 'Keys Only');
      const admin = await enrolApp(t, tenant, 'alice');
      await addUser(t, tenant, 'omar');
      const omar = await enrolApp(t, tenant, 'omar');
      await addUser(t, tenant, 'nia');

      const saved = await saveFactors(admin.b, { allowed: ['webauthn'] });
      expect(saved.statusCode, saved.body).toBe(303);
      expect(saved.headers.location).toBe(`${PAGE}?saved=1`);
      const [event] = await auditEvents(t, tenant.accountId, 'account.factor_policy');
      expect(event?.detail).toEqual({ old: { allowed: ['totp', 'webauthn'], adminsNeedKey: false }, new: { allowed: ['webauthn'], adminsNeedKey: false } });
      // Allowing fewer kinds ends nobody's session.
      expect(await stillSignedIn(admin.b)).toBe(true);
      const shown = await admin.b.get(PAGE);
      expect(shown.body).toMatch(/id="allowed-webauthn"[^>]*checked/);
      expect(shown.body).not.toMatch(/id="allowed-totp"[^>]*checked/);

      // A user without a factor: the key only.
      const { page } = await pendingPage(t, tenant, 'nia');
      expect(page.body).not.toContain('class="qr"');
      expect(page.body).toContain('Set up a security key or passkey');
      const api = new TestBrowser(t.app, HOST);
      const login = await api.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'nia', password: PASSWORD });
      expect(login.json()).toEqual({ state: 'mfa_enrollment_required' });
      const enrollment = await api.json('GET', '/api/v1/login/mfa/enrollment');
      expect(enrollment.statusCode).toBe(409);
      expect(enrollment.body).toContain('security key or passkey');

      // A user whose only factor is an authenticator app: its code and the recovery codes are refused; they set up a key.
      t.clock.advance(STEP);
      const again = await pendingPage(t, tenant, 'omar');
      expect(again.page.body).toContain('Set up a security key or passkey');
      const appCode = await again.b.post('/login/mfa', { code: codeNow(t, omar.secret) });
      expect(appCode.statusCode).toBe(401);
      const recovery = await again.b.post('/login/mfa', { method: 'recovery_code', code: omar.recoveryCodes[0] as string });
      expect(recovery.statusCode).toBe(401);
      expect(await stillSignedIn(again.b)).toBe(false);
      const c = await ceremony(again.b);
      expect(c.mode).toBe('register');
      const key = new SoftKey(ORIGIN, 'localhost');
      const registered = await sendKey(again.b, key.register(c.options));
      expect(registered.statusCode, registered.body).toBe(200);
      expect(await stillSignedIn(again.b)).toBe(true);
      const refusals = (await auditEvents(t, tenant.accountId, 'mfa.verify')).filter((e) => e.result === 'failure' && e.actor === 'omar');
      expect(refusals.map((e) => e.detail?.reason)).toEqual(['method not allowed by the account', 'method not allowed by the account']);

      // Step-up: the admin's app no longer proves anything; past the step-up window she signs in again first.
      t.clock.advance(16 * 60_000);
      const omarId = (await t.deps.store.users.findByUsername(tenant.accountId, 'omar'))!.id;
      const viaApi = await admin.b.json('POST', `/api/v1/users/${omarId}/reset-mfa`, { code: codeNow(t, admin.secret) });
      expect(viaApi.statusCode, viaApi.body).toBe(403);
      expect(viaApi.json<{ error: string }>().error).toBe('reauthentication_required');
      await admin.b.get(`/manage/users/${omarId}/reset-mfa`);
      const viaPage = await admin.b.post(`/manage/users/${omarId}/reset-mfa`, { confirm: '1', code: codeNow(t, admin.secret) });
      expect(viaPage.statusCode).toBe(403);
      expect(viaPage.body).toContain('Sign in again first');
      expect(await t.deps.store.factors.forUser(tenant.accountId, omarId)).toHaveLength(2);
    });

    it('Require a security key for admins: the admin saving it sets one up at once, other admins sign in again with a key, agents carry on', async () => {
      const tenant = await mfaTenant(t, 'Admins Use Keys');
      const alice = await enrolApp(t, tenant, 'alice');
      await addUser(t, tenant, 'ada', { role: 'admin' });
      const ada = await enrolApp(t, tenant, 'ada');
      const bob = await enrolApp(t, tenant, 'bob');

      const saved = await saveFactors(alice.b, { allowed: ['totp', 'webauthn'], adminsNeedKey: 'on' });
      expect(saved.statusCode, saved.body).toBe(303);
      // Not locked out: taken to set up a key, the password step carried over.
      expect(saved.headers.location).toBe('/login/mfa');
      const setup = await alice.b.get('/login/mfa');
      expect(setup.statusCode).toBe(200);
      expect(setup.body).toContain('Set up a security key or passkey');
      expect(setup.body).not.toContain('class="qr"');
      const aliceKey = new SoftKey(ORIGIN, 'localhost');
      const c = await ceremony(alice.b);
      expect(c.mode).toBe('register');
      expect((await sendKey(alice.b, aliceKey.register(c.options))).statusCode).toBe(200);
      expect((await alice.b.get(PAGE)).statusCode).toBe(200);

      // The other admin's session without a key ended; the agent's did not.
      expect(await stillSignedIn(ada.b)).toBe(false);
      expect(await stillSignedIn(bob.b)).toBe(true);

      // The admin's authenticator app and recovery codes no longer let them in, even with MFA off for the account.
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, false);
      t.clock.advance(STEP);
      const next = await pendingPage(t, tenant, 'ada');
      expect(next.page.body).toContain('Set up a security key or passkey');
      expect((await next.b.post('/login/mfa', { code: codeNow(t, ada.secret) })).statusCode).toBe(401);
      expect((await next.b.post('/login/mfa', { method: 'recovery_code', code: ada.recoveryCodes[0] as string })).statusCode).toBe(401);
      const adaKey = new SoftKey(ORIGIN, 'localhost');
      const reg = await ceremony(next.b);
      const registered = await sendKey(next.b, adaKey.register(reg.options));
      expect(registered.statusCode).toBe(200);
      // Setting up the key made a new set of recovery codes.
      const adaCodes = registered.json<{ recoveryCodes: string[] }>().recoveryCodes;
      expect(adaCodes).toHaveLength(10);
      const rows = await t.deps.store.sessions.listFull(tenant.accountId, (await t.deps.store.users.findByUsername(tenant.accountId, 'ada'))!.id);
      expect(rows.map((s) => amrOf(s.methods))).toContainEqual(['pwd', 'hwk', 'mfa']);

      // An agent still signs in with the password alone while the account's MFA is off.
      const agent = browser(t);
      const plain = await agent.signIn(tenant.accountId, 'bob', PASSWORD);
      expect(plain.headers.location).toBe('/');

      // A later sign-in of the admin asks for the key (and only the key).
      const later = await pendingPage(t, tenant, 'ada');
      expect(later.page.body).toContain('Use your security key');
      // Nor does a recovery code of an admin who holds a key (it would make a session that ends at once).
      expect((await later.b.post('/login/mfa', { method: 'recovery_code', code: adaCodes[0] as string })).statusCode).toBe(401);
      const assertion = await ceremony(later.b);
      expect(assertion.mode).toBe('authenticate');
      expect((await sendKey(later.b, adaKey.assert(assertion.options))).statusCode).toBe(200);

      // Made an admin while keys are required: bob's application sessions signed in without a key end with his own.
      const bobId = (await t.deps.store.users.findByUsername(tenant.accountId, 'bob'))!.id;
      const appSession = { accountId: bobId, amr: ['pwd', 'otp', 'mfa'], authorizations: {}, jti: 'bob-app-session' };
      await t.deps.store.oidcPayloads.upsert('Session', 'bob-app-session', JSON.stringify(appSession), { grantId: null, uid: null, userCode: null, userId: bobId, expiresAt: t.clock.now() + 3_600_000 });
      const promoted = await later.b.json('PATCH', `/api/v1/users/${bobId}`, { role: 'admin' });
      expect(promoted.statusCode, promoted.body).toBe(200);
      expect(await t.deps.store.oidcPayloads.find('Session', 'bob-app-session', t.clock.now())).toBeUndefined();
      expect(await stillSignedIn(agent)).toBe(false);
    });

    it('refuses a policy without a kind, or keys for admins without keys allowed, with a clear message, and saves nothing', async () => {
      const tenant = await mfaTenant(t, 'Bad Choices');
      const alice = await enrolApp(t, tenant, 'alice');
      const none = await saveFactors(alice.b, {});
      expect(none.statusCode).toBe(400);
      expect(none.body).toContain('Allow at least one kind of second factor.');
      const unknown = await saveFactors(alice.b, { allowed: ['sms'] });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.body).toContain('Unknown kind of factor: sms.');
      const adminsKeyless = await saveFactors(alice.b, { allowed: ['totp'], adminsNeedKey: 'on' });
      expect(adminsKeyless.statusCode).toBe(400);
      expect(adminsKeyless.body).toContain('To require a security key or passkey for admins, allow security keys and passkeys.');

      const viaApi = await alice.b.json('PUT', '/api/v1/account/access-rules/factors', { allowed: ['totp'], adminsNeedKey: true });
      expect(viaApi.statusCode).toBe(400);
      expect(viaApi.json<{ error: string; message: string }>()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('allow security keys and passkeys') });
      expect((await alice.b.json('PUT', '/api/v1/account/access-rules/factors', { allowed: [], adminsNeedKey: false })).statusCode).toBe(400);

      const rules = await alice.b.json('GET', '/api/v1/account/access-rules');
      expect(rules.json<{ factors: unknown }>().factors).toEqual({ allowed: ['totp', 'webauthn'], adminsNeedKey: false });
      expect(await auditEvents(t, tenant.accountId, 'account.factor_policy')).toEqual([]);
      expect(await stillSignedIn(alice.b)).toBe(true);
    });

    it('the API saves the same policy; requiring keys turns the caller into a pending sign-in that sets one up', async () => {
      const tenant = await mfaTenant(t, 'Api Keys');
      const alice = await enrolApp(t, tenant, 'alice');
      const res = await alice.b.json('PUT', '/api/v1/account/access-rules/factors', { allowed: ['webauthn', 'totp'], adminsNeedKey: true });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ allowed: ['totp', 'webauthn'], adminsNeedKey: true, changed: true, state: 'mfa_enrollment_required' });
      expect((await alice.b.json('GET', '/api/v1/account/access-rules')).statusCode).toBe(401);
      const c = await ceremony(alice.b);
      expect(c.mode).toBe('register');
      expect((await sendKey(alice.b, new SoftKey(ORIGIN, 'localhost').register(c.options))).statusCode).toBe(200);
      const rules = await alice.b.json('GET', '/api/v1/account/access-rules');
      expect(rules.json<{ factors: unknown }>().factors).toEqual({ allowed: ['totp', 'webauthn'], adminsNeedKey: true });
      // Saving the same again changes nothing and keeps the session (it used a key).
      const same = await alice.b.json('PUT', '/api/v1/account/access-rules/factors', { allowed: ['totp', 'webauthn'], adminsNeedKey: true });
      expect(same.json()).toMatchObject({ changed: false, state: 'authenticated' });
    });
  });
}
