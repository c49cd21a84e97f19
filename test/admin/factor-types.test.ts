import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { SoftKey } from '../helpers/authenticator.ts';
import type { CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, api, enrol, listedUsernames, signedIn, tableRows } from './admin-support.ts';

// Issue 14, "Admins": Edit user lists the user's factors (type, name, added,
// last used) and the recovery codes left; Users & Skills' MFA filter and the
// users API tell the types apart; Reset MFA revokes every factor of every
// type with the recovery codes. The factors are set up as users set them up:
// an authenticator app through the QR code (zbarimg, oathtool), a security
// key through the WebAuthn ceremony with a key in software.

const HOST = 'localhost:3000';
const ORIGIN = `http://${HOST}`;

function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/** Sets up a security key at the user's first sign-in with MFA on, over the API. */
async function setUpKey(t: TestApp, tenant: Tenant, username: string): Promise<SoftKey> {
  const client = new TestBrowser(t.app, HOST);
  expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username, password: PASSWORD })).json()).toMatchObject({ state: 'mfa_enrollment_required' });
  const options = await client.json('POST', '/api/v1/login/mfa/webauthn/options', {});
  const key = new SoftKey(ORIGIN, 'localhost');
  const res = await client.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential: key.register(options.json<{ options: CeremonyOptionsJSON }>().options) });
  expect(res.statusCode, res.body).toBe(200);
  return key;
}

type UserJson = { username: string; mfa: { state: string; factorTypes: string[] } };

for (const kind of await storeKinds()) {
  describe(`factors as the admin sees them (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;
    const ids: Record<string, string> = {};
    let keyAddedAt = 0;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      ids.appUser = await addUser(t, tenant.accountId, 'carol');
      ids.keyUser = await addUser(t, tenant.accountId, 'kim');
      ids.both = await addUser(t, tenant.accountId, 'pat');
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
      await enrol(t, tenant.accountId, 'carol');
      t.clock.advance(60_000);
      keyAddedAt = t.clock.now();
      await setUpKey(t, tenant, 'kim');
      await enrol(t, tenant.accountId, 'pat');
      // pat's second factor, as Your security adds one: a key beside the app.
      t.clock.advance(60_000);
      await t.deps.store.factors.createWebAuthn({
        id: 'f'.repeat(32),
        accountId: tenant.accountId,
        userId: ids.both,
        type: 'webauthn',
        name: 'Desk key',
        createdAt: t.clock.now(),
        createdIp: '127.0.0.1',
        lastUsedAt: null,
        credentialId: 'desk-key-credential',
        publicKey: 'AAAA',
        signCount: 0,
        transports: ['usb'],
      });
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, false);
      admin = await signedIn(t, tenant.accountId, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** The rows of the factors table on an Edit user page. */
    async function factorRows(userId: string): Promise<string[][]> {
      const page = await admin.get(`/manage/users/${userId}`);
      expect(page.statusCode).toBe(200);
      return tableRows(page.body);
    }

    it('Edit user lists each factor with type, name, added and last used, and the recovery codes left', async () => {
      const page = await admin.get(`/manage/users/${ids.both}`);
      for (const header of ['Type', 'Name', 'Added', 'Last used']) expect(page.body).toContain(`<th scope="col">${header}</th>`);
      expect(page.body).toContain('Recovery codes left</dt><dd>10</dd>');
      const [app, key] = tableRows(page.body);
      expect(app?.slice(0, 2)).toEqual(['Authenticator app', 'Authenticator app']);
      expect(app?.[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      expect(app?.[3]).toBe(app?.[2]);
      expect(key).toEqual(['Security key or passkey', 'Desk key', utc(t.clock.now()), 'Never']);
      expect(await factorRows(ids.keyUser ?? '')).toEqual([['Security key or passkey', 'Security key', utc(keyAddedAt), utc(keyAddedAt)]]);
      // A user without a factor has no table (and no count of codes they never had).
      const none = await admin.get(`/manage/users/${tenant.agentId}`);
      expect(none.body).not.toContain('<th scope="col">Last used</th>');
      expect(none.body).not.toContain('Recovery codes left');
    });

    it('Users & Skills shows the factor types and filters by them: authenticator app, security key, none', async () => {
      const list = await admin.get('/manage/users');
      const cell = (name: string) => tableRows(list.body).find((cells) => cells[0] === name)?.[4];
      expect(cell('carol')).toMatch(/^Enrolled since .* · Authenticator app$/);
      expect(cell('kim')).toMatch(/^Enrolled since .* · Security key or passkey$/);
      expect(cell('pat')).toMatch(/^Enrolled since .* · Authenticator app, Security key or passkey$/);
      expect(cell('bob')).toBe('Not enrolled');
      for (const [value, label] of [['not_enrolled', 'None'], ['totp', 'Authenticator app'], ['webauthn', 'Security key or passkey']]) {
        expect(list.body).toContain(`<option value="${value}">${label}</option>`);
      }
      const filtered = async (mfa: string) => listedUsernames((await admin.get(`/manage/users?mfa=${mfa}`)).body);
      expect(await filtered('totp')).toEqual(['carol', 'pat']);
      expect(await filtered('webauthn')).toEqual(['kim', 'pat']);
      expect(await filtered('not_enrolled')).toEqual(['alice', 'bob', 'mia']);
      expect(await filtered('enrolled')).toEqual(['carol', 'kim', 'pat']);
      expect(listedUsernames((await admin.get('/manage/users?mfa=webauthn&q=ki')).body)).toEqual(['kim']);
      expect((await admin.get('/manage/users?mfa=webauthn')).body).toMatch(/<option value="webauthn" selected/);
    });

    it('the users API answers each user’s factor types, filters by type, and lists one user’s factors', async () => {
      const list = async (qs: string) => {
        const res = await api(t, admin, 'GET', `/api/v1/users${qs}`);
        expect(res.statusCode, res.body).toBe(200);
        return res.json<{ users: UserJson[] }>().users;
      };
      const types = Object.fromEntries((await list('')).map((u) => [u.username, u.mfa.factorTypes]));
      expect(types).toEqual({ alice: [], bob: [], carol: ['totp'], kim: ['webauthn'], mia: [], pat: ['totp', 'webauthn'] });
      expect((await list('?mfa=webauthn')).map((u) => u.username)).toEqual(['kim', 'pat']);
      expect((await list('?mfa=totp')).map((u) => u.username)).toEqual(['carol', 'pat']);
      expect((await api(t, admin, 'GET', '/api/v1/users?mfa=passkey')).statusCode).toBe(400);

      const one = await api(t, admin, 'GET', `/api/v1/users/${ids.both}`);
      expect(one.statusCode).toBe(200);
      const body = one.json<{ factors: unknown[]; recoveryCodesLeft: number }>();
      expect(body.recoveryCodesLeft).toBe(10);
      expect(body.factors).toEqual([
        { id: expect.stringMatching(/^[0-9a-f]{32}$/), type: 'totp', name: 'Authenticator app', createdAt: expect.any(String), lastUsedAt: expect.any(String) },
        { id: 'f'.repeat(32), type: 'webauthn', name: 'Desk key', createdAt: new Date(t.clock.now()).toISOString(), lastUsedAt: null },
      ]);
      // Never a secret, a public key or a credential id.
      expect(one.body).not.toMatch(/secret|publicKey|credential|desk-key-credential/i);
    });

    it('describes the factor types in /api/openapi.json', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: { anyOf?: Array<{ const?: string; enum?: string[] }> } }> }>> }>();
      const mfa = doc.paths['/api/v1/users']?.get?.parameters?.find((p) => p.name === 'mfa');
      const values = JSON.stringify(mfa?.schema);
      for (const value of ['not_enrolled', 'enrolled', 'locked', 'totp', 'webauthn']) expect(values).toContain(`"${value}"`);
      expect(JSON.stringify(doc.paths['/api/v1/users/{id}'])).toContain('factorTypes');
      expect(JSON.stringify(doc.paths['/api/v1/users/{id}'])).toContain('lastUsedAt');
    });

    it('Reset MFA revokes every factor of every type and the recovery codes; Edit user then lists none', async () => {
      const res = await admin.post(`/manage/users/${ids.both}/reset-mfa`, {});
      expect(res.statusCode).toBe(303);
      expect((await admin.get(res.headers.location as string)).body).toContain('MFA was reset for pat. Their factors and recovery codes are revoked');
      expect(await t.deps.store.factors.forUser(tenant.accountId, ids.both ?? '')).toEqual([]);
      expect(await t.deps.store.recoveryCodes.countUnused(tenant.accountId, ids.both ?? '')).toBe(0);
      expect(await factorRows(ids.both ?? '')).toEqual([]);
      expect(listedUsernames((await admin.get('/manage/users?mfa=webauthn')).body)).toEqual(['kim']);
    });
  });
}
