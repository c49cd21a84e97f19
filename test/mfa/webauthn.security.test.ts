import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amrOf } from '../../src/domain/auth-methods.ts';
import { totpContext } from '../../src/services/secret-box.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { SoftKey } from '../helpers/authenticator.ts';
import type { CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { PASSWORD, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { MINUTE, addUser, auditEvents, mfaTenant, recoveryCodesOn } from './support.ts';

// Security keys and passkeys (issue 14) over real HTTP, with a key in
// software (helpers/authenticator.ts) that signs as a real one does: set-up
// at the first sign-in, sign-in with it, and every bad answer refused with a
// clear message, audited and counted like a wrong code: replayed, from a
// foreign origin or RP id, with a challenge used or expired, with another
// user's key, and a key whose counter went backwards (a clone).

const HOST = 'localhost:3000';
const ORIGIN = `http://${HOST}`;

type Ceremony = { mode: 'register' | 'authenticate'; options: CeremonyOptionsJSON & { allowCredentials?: Array<{ id: string }> } };

async function pending(t: TestApp, tenant: Tenant, username: string): Promise<TestBrowser> {
  const client = new TestBrowser(t.app, HOST);
  const res = await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username, password: PASSWORD });
  expect(res.statusCode).toBe(200);
  return client;
}

async function ceremony(client: TestBrowser): Promise<Ceremony> {
  const res = await client.json('POST', '/api/v1/login/mfa/webauthn/options', {});
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Ceremony>();
}

function answer(client: TestBrowser, credential: unknown): Promise<LightMyRequestResponse> {
  return client.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential });
}

/** Signs the user up with a new key at their first sign-in; answers the key and the recovery codes. */
async function setUpKey(t: TestApp, tenant: Tenant, username: string): Promise<{ key: SoftKey; recoveryCodes: string[]; client: TestBrowser }> {
  const client = await pending(t, tenant, username);
  const c = await ceremony(client);
  expect(c.mode).toBe('register');
  const key = new SoftKey(ORIGIN, 'localhost');
  const res = await answer(client, key.register(c.options));
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ state: string; recoveryCodes: string[] }>();
  expect(body.state).toBe('authenticated');
  return { key, recoveryCodes: body.recoveryCodes, client };
}

async function factorsOf(t: TestApp, tenant: Tenant, userId: string) {
  return t.deps.store.factors.forUser(tenant.accountId, userId);
}

async function signCount(t: TestApp, tenant: Tenant, userId: string): Promise<number | undefined> {
  const key = (await factorsOf(t, tenant, userId)).find((f) => f.type === 'webauthn');
  return key?.type === 'webauthn' ? key.signCount : undefined;
}

for (const kind of await storeKinds()) {
  describe(`security keys at sign-in (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      // A pending sign-in that outlives a challenge, so an expired challenge can be told from an expired sign-in.
      t = await buildTestApp(kind, { PORTCULLIS_PENDING_SIGNIN_MINUTES: '10' });
      tenant = await mfaTenant(t);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('sets up a key at the first sign-in (relying party localhost, attestation none), shows recovery codes, records hwk', async () => {
      const userId = await addUser(t, tenant, 'kira');
      const client = await pending(t, tenant, 'kira');
      const c = await ceremony(client);
      expect(c.mode).toBe('register');
      expect(c.options).toMatchObject({ rp: { id: 'localhost', name: 'Acme Support' }, attestation: 'none', authenticatorSelection: { userVerification: 'preferred' } });
      const key = new SoftKey(ORIGIN, 'localhost');
      const res = await answer(client, key.register(c.options));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ recoveryCodes: string[] }>().recoveryCodes).toHaveLength(10);

      const factors = await factorsOf(t, tenant, userId);
      expect(factors).toHaveLength(1);
      expect(factors[0]).toMatchObject({ type: 'webauthn', name: 'Security key', credentialId: key.id, signCount: 0, transports: ['usb'] });
      const session = await client.json('GET', '/api/v1/session');
      expect(session.statusCode).toBe(200);
      const rows = await t.deps.store.sessions.listFull(tenant.accountId, userId);
      expect(amrOf(rows[0]?.methods ?? [])).toEqual(['pwd', 'hwk', 'mfa']);
      expect((await auditEvents(t, tenant.accountId, 'mfa.enroll')).some((e) => e.targetUserId === userId)).toBe(true);
      expect(t.notices.filter((n) => n.to.username === 'kira').map((n) => n.subject)).toEqual(['A security key was set up for Acme Support']);
    });

    it('signs in with the key: the options list it, the counter is recorded, the session records hwk', async () => {
      const userId = await addUser(t, tenant, 'lars');
      const { key } = await setUpKey(t, tenant, 'lars');
      const client = await pending(t, tenant, 'lars');
      const c = await ceremony(client);
      expect(c.mode).toBe('authenticate');
      expect(c.options.allowCredentials?.map((k) => k.id)).toEqual([key.id]);
      const res = await answer(client, key.assert(c.options));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ state: 'authenticated' });
      expect(await signCount(t, tenant, userId)).toBe(1);
      const sessions = await t.deps.store.sessions.listFull(tenant.accountId, userId);
      expect(sessions.map((s) => amrOf(s.methods))).toContainEqual(['pwd', 'hwk', 'mfa']);
    });

    it('refuses an answer replayed in a new sign-in (its challenge was used), audited, nothing changed', async () => {
      const userId = await addUser(t, tenant, 'mona');
      const { key } = await setUpKey(t, tenant, 'mona');
      const first = await pending(t, tenant, 'mona');
      const signed = key.assert((await ceremony(first)).options);
      expect((await answer(first, signed)).statusCode).toBe(200);

      const second = await pending(t, tenant, 'mona');
      await ceremony(second);
      const replay = await answer(second, signed);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toMatchObject({ error: 'invalid_code', message: 'The security key’s answer was not accepted.' });
      expect(await signCount(t, tenant, userId)).toBe(1);
      const failures = (await auditEvents(t, tenant.accountId, 'mfa.verify')).filter((e) => e.targetUserId === userId && e.result === 'failure');
      expect(failures.map((e) => e.detail)).toContainEqual({ method: 'webauthn', reason: 'challenge unknown, expired or used' });
    });

    it('of two answers racing with one challenge, one signs in', async () => {
      await addUser(t, tenant, 'nils');
      const { key } = await setUpKey(t, tenant, 'nils');
      const client = await pending(t, tenant, 'nils');
      const c = await ceremony(client);
      const a = key.assert(c.options);
      const b = key.assert(c.options);
      const results = await Promise.all([answer(client, a), answer(client, b)]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
    });

    it('refuses an answer made for another origin or another RP id (a phishing page), audited with the reason', async () => {
      const userId = await addUser(t, tenant, 'olga');
      const { key } = await setUpKey(t, tenant, 'olga');
      const client = await pending(t, tenant, 'olga');
      const c = await ceremony(client);
      key.origin = 'https://portcullis.example.net';
      const foreign = await answer(client, key.assert(c.options));
      expect(foreign.statusCode).toBe(401);
      key.origin = ORIGIN;
      key.rpId = 'example.net';
      const otherRp = await answer(client, key.assert(c.options));
      expect(otherRp.statusCode).toBe(401);
      expect(await signCount(t, tenant, userId)).toBe(0);
      const reasons = (await auditEvents(t, tenant.accountId, 'mfa.verify'))
        .filter((e) => e.targetUserId === userId && e.result === 'failure')
        .map((e) => String(e.detail?.reason));
      expect(reasons.some((r) => /origin/i.test(r))).toBe(true);
      expect(reasons.some((r) => /RP ?ID/i.test(r))).toBe(true);
    });

    it('refuses a challenge that has expired (5 minutes), while the sign-in itself still lives', async () => {
      const userId = await addUser(t, tenant, 'pia');
      const { key } = await setUpKey(t, tenant, 'pia');
      const client = await pending(t, tenant, 'pia');
      const c = await ceremony(client);
      t.clock.advance(5 * MINUTE + 1000);
      const late = await answer(client, key.assert(c.options));
      expect(late.statusCode).toBe(401);
      expect(late.json()).toMatchObject({ error: 'invalid_code' });
      expect(await signCount(t, tenant, userId)).toBe(0);
      // A new challenge works: the sign-in was not used up by one late answer.
      const fresh = await answer(client, key.assert((await ceremony(client)).options));
      expect(fresh.statusCode, fresh.body).toBe(200);
    });

    it('refuses another user’s key (same account) and a key of another account', async () => {
      const ruthId = await addUser(t, tenant, 'ruth');
      const { key: ruthKey } = await setUpKey(t, tenant, 'ruth');
      await addUser(t, tenant, 'sven');
      const { key: svenKey } = await setUpKey(t, tenant, 'sven');
      const other = await mfaTenant(t, 'Other Co');
      await addUser(t, other, 'ruth');
      const { key: foreignKey } = await setUpKey(t, other, 'ruth');

      const client = await pending(t, tenant, 'ruth');
      const c = await ceremony(client);
      for (const wrongKey of [svenKey, foreignKey]) {
        const res = await answer(client, wrongKey.assert(c.options));
        expect(res.statusCode).toBe(401);
      }
      const reasons = (await auditEvents(t, tenant.accountId, 'mfa.verify')).filter((e) => e.targetUserId === ruthId && e.result === 'failure').map((e) => e.detail?.reason);
      expect(reasons).toEqual(['credential not one of the user’s', 'credential not one of the user’s']);
      // Her own key still signs her in with the same challenge.
      expect((await answer(client, ruthKey.assert(c.options))).statusCode).toBe(200);
    });

    it('refuses a key whose counter went backwards (a clone), audits factor.possible_clone, keeps the stored counter', async () => {
      const userId = await addUser(t, tenant, 'tove');
      const { key } = await setUpKey(t, tenant, 'tove');
      for (let i = 0; i < 3; i++) {
        const client = await pending(t, tenant, 'tove');
        expect((await answer(client, key.assert((await ceremony(client)).options))).statusCode).toBe(200);
      }
      expect(await signCount(t, tenant, userId)).toBe(3);
      const clone = key;
      clone.counter = 1; // the clone's next assertion says 2
      const client = await pending(t, tenant, 'tove');
      const res = await answer(client, clone.assert((await ceremony(client)).options));
      expect(res.statusCode).toBe(401);
      expect(await signCount(t, tenant, userId)).toBe(3);
      const events = (await auditEvents(t, tenant.accountId, 'factor.possible_clone')).filter((e) => e.targetUserId === userId);
      expect(events).toHaveLength(1);
      expect(events[0]?.detail?.factorId).toBe((await factorsOf(t, tenant, userId))[0]?.id);
      // The same count again (a clone in step with the original) is refused too.
      clone.counter = 2;
      const again = await pending(t, tenant, 'tove');
      expect((await answer(again, clone.assert((await ceremony(again)).options))).statusCode).toBe(401);
    });

    it('refuses malformed answers with a clear message and counts them: the fifth ends the pending sign-in', async () => {
      const userId = await addUser(t, tenant, 'ulla');
      await setUpKey(t, tenant, 'ulla');
      const client = await pending(t, tenant, 'ulla');
      await ceremony(client);
      const bad: unknown[] = [{}, { type: 'public-key', id: 'x', rawId: 'y', response: {} }, { type: 'public-key', id: 'AA', rawId: 'AA', response: { clientDataJSON: '!!' } }, { nested: { deep: [1, 2, 3] } }];
      for (const credential of bad) {
        const res = await answer(client, credential);
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ error: 'invalid_code', message: 'The security key’s answer was not accepted.' });
      }
      const last = await answer(client, {});
      expect(last.statusCode).toBe(401);
      expect(last.json()).toMatchObject({ error: 'session_expired' });
      expect(await signCount(t, tenant, userId)).toBe(0);
      // A body that mixes the two kinds, or carries none, is refused before anything is counted.
      const fresh = await pending(t, tenant, 'ulla');
      expect((await fresh.json('POST', '/api/v1/login/mfa', { method: 'webauthn', code: '123456' })).statusCode).toBe(400);
      expect((await fresh.json('POST', '/api/v1/login/mfa', { credential: {} })).statusCode).toBe(400);
    });

    it('answers 409 for options when the user has an authenticator app but no key', async () => {
      const userId = await addUser(t, tenant, 'vera');
      const client = await pending(t, tenant, 'vera');
      await ceremony(client); // no factor yet: register is offered
      // Give her an app instead (straight into the store, as set-up would).
      await t.deps.store.factors.createTotp({
        id: randomBytes(16).toString('hex'),
        accountId: tenant.accountId,
        userId,
        type: 'totp',
        name: 'Authenticator app',
        createdAt: t.clock.now(),
        createdIp: null,
        lastUsedAt: null,
        secret: t.deps.secrets.seal(new Uint8Array(20), totpContext(tenant.accountId, userId)),
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        lastUsedStep: -1,
        driftSteps: 0,
      });
      const res = await client.json('POST', '/api/v1/login/mfa/webauthn/options', {});
      expect(res.statusCode).toBe(409);
    });

    describe('the pages', () => {
      it('the code page of a key holder offers “Use your security key” and the recovery code; its form signs in', async () => {
        await addUser(t, tenant, 'wim');
        const { key } = await setUpKey(t, tenant, 'wim');
        const browser = new TestBrowser(t.app, HOST);
        expect((await browser.signIn(tenant.accountId, 'wim', PASSWORD)).headers.location).toBe('/login/mfa');
        const page = await browser.get('/login/mfa');
        expect(page.body).toContain('Use your security key');
        expect(page.body).toContain('Use a recovery code instead');
        expect(page.body).toContain('<script src="/assets/webauthn.js" defer>');
        // Only a key: no authenticator-app code field.
        expect(page.body).not.toContain('Authentication code');
        const c = await ceremony(browser);
        const res = await browser.post('/login/mfa', { method: 'webauthn', credential: JSON.stringify(key.assert(c.options)) });
        expect(res.statusCode, res.body).toBe(303);
        expect(res.headers.location).toBe('/');
      });

      it('a refused key answer on the page says so, not “that code”', async () => {
        await addUser(t, tenant, 'xena');
        await setUpKey(t, tenant, 'xena');
        const browser = new TestBrowser(t.app, HOST);
        await browser.signIn(tenant.accountId, 'xena', PASSWORD);
        await browser.get('/login/mfa');
        const res = await browser.post('/login/mfa', { method: 'webauthn', credential: '{"type":"public-key"}' });
        expect(res.statusCode).toBe(401);
        expect(res.body).toContain('Your security key’s answer was not accepted.');
      });

      it('the set-up page offers a key instead, and the key as an otpauth:// link; setting up a key there shows the recovery codes', async () => {
        await addUser(t, tenant, 'yann');
        const browser = new TestBrowser(t.app, HOST);
        await browser.signIn(tenant.accountId, 'yann', PASSWORD);
        const page = await browser.get('/login/mfa');
        expect(page.body).toContain('Use a security key or passkey instead');
        expect(page.body).toMatch(/<a href="otpauth:\/\/totp\/[^"]+">Open in your authenticator app<\/a>/);
        const c = await ceremony(browser);
        const key = new SoftKey(ORIGIN, 'localhost');
        const res = await browser.post('/login/mfa', { method: 'webauthn', credential: JSON.stringify(key.register(c.options)) });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.body).toContain('Your security key is set up.');
        expect(recoveryCodesOn(res.body)).toHaveLength(10);
      });

      it('serves the browser half from its own origin', async () => {
        const lib = await t.app.inject({ method: 'GET', url: '/assets/webauthn.js', headers: { host: HOST } });
        expect(lib.statusCode).toBe(200);
        expect(lib.headers['content-type']).toBe('text/javascript; charset=utf-8');
        expect(lib.body).toContain('SimpleWebAuthnBrowser');
        const client = await t.app.inject({ method: 'GET', url: '/assets/webauthn-client.js', headers: { host: HOST } });
        expect(client.statusCode).toBe(200);
      });
    });
  });
}
