import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amrOf } from '../../src/domain/auth-methods.ts';
import { loginResult } from '../../src/services/oidc/provider.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { SoftKey } from '../helpers/authenticator.ts';
import type { AssertOptions, CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, auditEvents, mfaTenant } from './support.ts';

// Passkey sign-in (issue 14) over real HTTP, with a key in software that signs
// as a real one does (helpers/authenticator.ts): a passkey with user
// verification signs in without the password, as multi-factor; every other
// answer is refused alike (401), audited with its cause, and counted: a
// passkey without user verification, of a disabled user, of another account,
// naming another user, a challenge of another browser, used twice or raced.

const HOST = 'localhost:3000';
const ORIGIN = `http://${HOST}`;

type Options = CeremonyOptionsJSON & { allowCredentials?: unknown[]; userVerification?: string; rpId?: string };

let nextIp = 10;
/** A browser from an address of its own: one test's failures never lock another's address. */
function browser(t: TestApp): TestBrowser {
  nextIp += 1;
  return new TestBrowser(t.app, HOST, `198.51.100.${nextIp}`);
}

async function options(client: TestBrowser, accountId: string): Promise<Options> {
  const res = await client.json('POST', '/api/v1/login/passkey/options', { accountId });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ options: Options }>().options;
}

function answer(client: TestBrowser, credential: unknown): Promise<LightMyRequestResponse> {
  return client.json('POST', '/api/v1/login/passkey', { credential });
}

/** Sets up a passkey (resident, as set-up asks for one) at the user's first sign-in with MFA on. */
async function setUpPasskey(t: TestApp, tenant: Tenant, username: string): Promise<SoftKey> {
  const client = browser(t);
  expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username, password: PASSWORD })).json()).toMatchObject({ state: 'mfa_enrollment_required' });
  const c = await client.json('POST', '/api/v1/login/mfa/webauthn/options', {});
  const key = new SoftKey(ORIGIN, 'localhost');
  const res = await client.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential: key.register(c.json<{ options: CeremonyOptionsJSON }>().options) });
  expect(res.statusCode, res.body).toBe(200);
  return key;
}

/** A passkey sign-in from a new browser: options for the account, the key's answer. */
async function passkeySignIn(t: TestApp, accountId: string, key: SoftKey, how: AssertOptions = {}): Promise<{ client: TestBrowser; res: LightMyRequestResponse }> {
  const client = browser(t);
  const o = await options(client, accountId);
  return { client, res: await answer(client, key.assert(o, how)) };
}

function expectRefused(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(401);
  expect(res.json()).toMatchObject({ error: 'invalid_passkey', message: 'Your passkey was not accepted. Try again, or sign in with your password.' });
  expect(res.cookies.some((c) => c.name === 'portcullis' && c.value !== '')).toBe(false);
}

async function causes(t: TestApp, tenant: Tenant): Promise<unknown[]> {
  return (await auditEvents(t, tenant.accountId, 'sign_in.passkey')).filter((e) => e.result === 'failure').map((e) => e.detail);
}

for (const kind of await storeKinds()) {
  describe(`passkey sign-in (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('offers options for the account: no credential list (the authenticator offers its passkeys), user verification required, a cookie to bind the challenge', async () => {
      const client = browser(t);
      const res = await client.json('POST', '/api/v1/login/passkey/options', { accountId: tenant.accountId });
      expect(res.statusCode).toBe(200);
      const o = res.json<{ options: Options }>().options;
      expect(o).toMatchObject({ rpId: 'localhost', userVerification: 'required' });
      expect(o.allowCredentials ?? []).toEqual([]);
      const cookie = res.cookies.find((c) => c.name === 'portcullis-passkey');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 300 });
      // A malformed account number gets no challenge; an unknown one does (nothing told about which accounts exist).
      expect((await client.json('POST', '/api/v1/login/passkey/options', { accountId: 'x1' })).statusCode).toBe(400);
      expect((await client.json('POST', '/api/v1/login/passkey/options', {})).statusCode).toBe(400);
      expect((await client.json('POST', '/api/v1/login/passkey/options', { accountId: '99999999' })).statusCode).toBe(200);
    });

    it('signs in with a passkey without a password, also with MFA on: a full session with methods hwk, user, mfa; audited; counter recorded', async () => {
      const userId = await addUser(t, tenant, 'pia');
      const key = await setUpPasskey(t, tenant, 'pia');
      const { client, res } = await passkeySignIn(t, tenant.accountId, key);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ state: 'authenticated' });
      // The challenge's cookie is spent with it.
      expect(client.cookies.has('portcullis-passkey')).toBe(false);
      const session = await client.json('GET', '/api/v1/session');
      expect(session.statusCode).toBe(200);
      expect((await client.get('/')).statusCode).toBe(200);
      const sessions = await t.deps.store.sessions.listFull(tenant.accountId, userId);
      const made = sessions.find((s) => s.methods.some((m) => m.kind === 'passkey'));
      expect(made?.methods.map((m) => m.kind)).toEqual(['passkey']);
      expect(amrOf(made?.methods ?? [])).toEqual(['hwk', 'user', 'mfa']);
      // What an application's ID token would say (the provider's login result).
      expect(loginResult({ user: { id: userId }, session: { methods: made?.methods ?? [] } })).toMatchObject({ amr: ['hwk', 'user', 'mfa'] });
      const factor = (await t.deps.store.factors.forUser(tenant.accountId, userId))[0];
      expect(factor?.type === 'webauthn' && factor.signCount).toBe(1);
      const [event] = (await auditEvents(t, tenant.accountId, 'sign_in.passkey')).filter((e) => e.targetUserId === userId && e.result === 'success');
      expect(event).toMatchObject({ actor: 'pia', ip: client.ip, detail: { factorId: factor?.id } });
    });

    it('refuses a passkey that did not verify the user (UV flag clear): audited, no session', async () => {
      const userId = await addUser(t, tenant, 'quin');
      const key = await setUpPasskey(t, tenant, 'quin');
      const { res } = await passkeySignIn(t, tenant.accountId, key, { userVerified: false });
      expectRefused(res);
      const failures = (await auditEvents(t, tenant.accountId, 'sign_in.passkey')).filter((e) => e.targetUserId === userId && e.result === 'failure');
      expect(String((failures[0]?.detail as { cause?: string } | null)?.cause)).toMatch(/user verification/i);
      // With user verification the same passkey signs in.
      expect((await passkeySignIn(t, tenant.accountId, key)).res.statusCode).toBe(200);
    });

    it("refuses a disabled user's passkey", async () => {
      const userId = await addUser(t, tenant, 'rhea');
      const key = await setUpPasskey(t, tenant, 'rhea');
      const user = await t.deps.store.users.get(tenant.accountId, userId);
      await t.deps.store.users.update(tenant.accountId, userId, { role: user?.role ?? 'agent', state: 'disabled', email: null }, t.clock.now());
      expectRefused((await passkeySignIn(t, tenant.accountId, key)).res);
      expect(await causes(t, tenant)).toContainEqual({ cause: 'user disabled' });
    });

    it('refuses a passkey of another account, and one whose user handle names another user', async () => {
      const other = await mfaTenant(t, 'Other Co');
      await addUser(t, other, 'sven');
      const foreign = await setUpPasskey(t, other, 'sven');
      // Options for account A, the passkey is of account B.
      expectRefused((await passkeySignIn(t, tenant.accountId, foreign)).res);
      expect(await causes(t, tenant)).toContainEqual({ cause: 'credential not of this account' });
      // The same passkey signs in to its own account.
      expect((await passkeySignIn(t, other.accountId, foreign)).res.statusCode).toBe(200);

      await addUser(t, tenant, 'tove');
      const key = await setUpPasskey(t, tenant, 'tove');
      const bob = Buffer.from(tenant.agentId).toString('base64url');
      expectRefused((await passkeySignIn(t, tenant.accountId, key, { userHandle: bob })).res);
      expectRefused((await passkeySignIn(t, tenant.accountId, key, { userHandle: null })).res);
      expect(await causes(t, tenant)).toContainEqual({ cause: 'user handle does not name the credential’s holder' });
    });

    it("refuses an answer to another browser's challenge, an answer without the cookie, and one replayed after it signed in", async () => {
      await addUser(t, tenant, 'ulla');
      const key = await setUpPasskey(t, tenant, 'ulla');
      const victim = browser(t);
      const signed = key.assert(await options(victim, tenant.accountId));
      // No challenge of theirs names an account to audit in: each refusal is counted against the address (and logged).
      const failuresOf = async (client: TestBrowser) => (await t.deps.store.throttles.get({ scope: 'address', accountId: '', subject: client.ip }))?.failures;
      // Another browser (its own cookie, or none) cannot use it.
      const attacker = browser(t);
      await options(attacker, tenant.accountId);
      expectRefused(await answer(attacker, signed));
      expect(await failuresOf(attacker)).toBe(1);
      const cookieless = browser(t);
      expectRefused(await answer(cookieless, signed));
      expect(await failuresOf(cookieless)).toBe(1);
      expect((await answer(victim, signed)).statusCode).toBe(200);
      // Used once: the same browser's replay finds no challenge.
      await options(victim, tenant.accountId);
      expectRefused(await answer(victim, signed));
    });

    it('refuses an expired challenge', async () => {
      await addUser(t, tenant, 'vera');
      const key = await setUpPasskey(t, tenant, 'vera');
      const client = browser(t);
      const signed = key.assert(await options(client, tenant.accountId));
      t.clock.advance(5 * 60_000 + 1);
      expectRefused(await answer(client, signed));
    });

    it('of two answers racing with one challenge, one signs in', async () => {
      await addUser(t, tenant, 'wim');
      const key = await setUpPasskey(t, tenant, 'wim');
      const client = browser(t);
      const o = await options(client, tenant.accountId);
      const a = key.assert(o);
      const b = key.assert(o);
      const results = await Promise.all([answer(client, a), answer(client, b)]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
    });

    it("counts refusals against the user's second-factor lock, as wrong codes: locked after 10, a good passkey then refused (429)", async () => {
      const userId = await addUser(t, tenant, 'xena');
      const key = await setUpPasskey(t, tenant, 'xena');
      for (let i = 0; i < 9; i++) expectRefused((await passkeySignIn(t, tenant.accountId, key, { userVerified: false })).res);
      const tenth = (await passkeySignIn(t, tenant.accountId, key, { userVerified: false })).res;
      expect(tenth.statusCode).toBe(429);
      expect((await auditEvents(t, tenant.accountId, 'mfa.locked')).some((e) => e.targetUserId === userId)).toBe(true);
      const locked = (await passkeySignIn(t, tenant.accountId, key)).res;
      expect(locked.statusCode).toBe(429);
      expect(locked.json()).toMatchObject({ error: 'too_many_attempts', retryAfter: expect.any(Number) });
    });

    it("refuses a sign-in from a network the account does not allow, after the proof (audited), as a password's", async () => {
      const place = await seedTenant(t.deps, 'Ranges Co');
      await addUser(t, place, 'yann');
      await t.deps.store.accounts.setMfaEnabled(place.accountId, true);
      const key = await setUpPasskey(t, place, 'yann');
      await t.deps.store.accessRules.putRestriction(place.accountId, { ranges: [{ cidr: '203.0.113.0/24', label: 'office' }], appliesTo: 'everyone' }, t.clock.now());
      const res = (await passkeySignIn(t, place.accountId, key)).res;
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: 'network_not_allowed' });
      expect((await auditEvents(t, place.accountId, 'sign_in.network_refused')).map((e) => e.detail)).toContainEqual({ cause: 'address not allowed', method: 'passkey' });
    });

    it('refuses a passkey where Account Access Control allows authenticator apps only, and signs in again once keys are allowed', async () => {
      const place = await mfaTenant(t, 'Apps Only Co');
      await addUser(t, place, 'abel');
      const key = await setUpPasskey(t, place, 'abel');
      await t.deps.store.accessRules.putFactorPolicy(place.accountId, { allowed: ['totp'], adminsNeedKey: false }, t.clock.now());
      expectRefused((await passkeySignIn(t, place.accountId, key)).res);
      expect(await causes(t, place)).toContainEqual({ cause: 'passkey sign-in not allowed' });
      await t.deps.store.accessRules.putFactorPolicy(place.accountId, { allowed: ['totp', 'webauthn'], adminsNeedKey: false }, t.clock.now());
      expect((await passkeySignIn(t, place.accountId, key)).res.statusCode).toBe(200);
    });

    it('an admin who must use a security key or passkey signs in with a passkey alone, and the session holds (it used a key)', async () => {
      const place = await mfaTenant(t, 'Keys For Admins Co');
      await t.deps.store.accessRules.putFactorPolicy(place.accountId, { allowed: ['totp', 'webauthn'], adminsNeedKey: true }, t.clock.now());
      const key = await setUpPasskey(t, place, 'alice');
      const { client, res } = await passkeySignIn(t, place.accountId, key);
      expect(res.statusCode, res.body).toBe(200);
      expect((await client.json('GET', '/api/v1/session')).statusCode).toBe(200);
      expect((await client.get('/manage/console')).statusCode).toBe(200);
    });

    it('signs in through the sign-in page: the form posts the answer to /login/passkey and lands home; a bad one shows the page again (401)', async () => {
      await addUser(t, tenant, 'zoe');
      const key = await setUpPasskey(t, tenant, 'zoe');
      const client = browser(t);
      const page = await client.get('/login');
      expect(page.body).toContain('action="/login/passkey"');
      expect(page.body).toContain('data-webauthn-account="accountId"');
      expect(page.body).toContain('Sign in with a passkey');
      const bad = await client.post('/login/passkey', { credential: JSON.stringify(key.assert(await options(client, tenant.accountId), { userVerified: false })) });
      expect(bad.statusCode).toBe(401);
      expect(bad.body).toContain('Your passkey was not accepted. Try again, or sign in with your password.');
      const good = await client.post('/login/passkey', { credential: JSON.stringify(key.assert(await options(client, tenant.accountId))) });
      expect(good.statusCode, good.body).toBe(303);
      expect(good.headers.location).toBe('/');
      expect((await client.get('/')).statusCode).toBe(200);
      // Without the CSRF token of the page, nothing is checked.
      expect((await client.post('/login/passkey', { credential: '{}' }, { csrf: null })).statusCode).toBe(403);
    });
  });
}
