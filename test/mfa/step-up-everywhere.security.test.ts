import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { TestBrowser, Tenant } from '../helpers/client.ts';
import { PASSWORD } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { MINUTE, STEP, addUser, codeNow, enrolByPage, mfaTenant, signInByApi, signInByPage, wrongCode } from './support.ts';
import type { Enrolled } from './support.ts';

// Issue 16, finding 2: step-up protected only Reset MFA, so an attacker at an
// unlocked admin desk switched MFA off, created an admin, made an agent an
// admin or disabled the other admin instead. Every action that weakens the
// account's security or grants privilege now asks for a current code the way
// Reset MFA does (ASVS 4.0.3 V4.3.1), on the pages and the API; everything
// else goes on without one.

for (const kind of await storeKinds()) {
  describe(`step-up before every action that weakens security or grants admin (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let alice: Enrolled;
    let n = 0;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
      alice = await enrolByPage(t, tenant, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** A JSON request with any method from a client's cookie jar. */
    async function send(client: TestBrowser, method: 'PUT' | 'PATCH' | 'POST', url: string, body: unknown): Promise<LightMyRequestResponse> {
      return t.app.inject({
        method,
        url,
        remoteAddress: client.ip,
        headers: { host: client.host, cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
    }

    /** alice signed in with a code, then 16 minutes later (a request at 8 keeps the session alive). */
    async function staleAdmin(by: 'page' | 'api'): Promise<TestBrowser> {
      t.clock.advance(STEP);
      const admin = by === 'page' ? await signInByPage(t, tenant, 'alice', alice.secret) : await signInByApi(t, tenant, 'alice', alice.secret);
      t.clock.advance(8 * MINUTE);
      await admin.get('/');
      t.clock.advance(8 * MINUTE);
      return admin;
    }

    const mfaOn = async () => (await t.deps.store.accounts.get(tenant.accountId))?.mfaEnabled;
    const userNamed = async (username: string) => (await t.deps.store.users.findByUsername(tenant.accountId, username)) ?? undefined;
    const fresh = (prefix: string) => `${prefix}${++n}`;

    it('switching MFA off on the page asks for a current code; a wrong one changes nothing, a right one switches it off', async () => {
      const admin = await staleAdmin('page');
      const url = '/manage/console/account-access-control';
      const asked = await admin.post(url, {});
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect(asked.body).toContain('name="mfaEnabled" value="off"');
      expect(await mfaOn()).toBe(true);
      expect((await admin.post(url, { mfaEnabled: 'off', confirm: '1', code: wrongCode(t, alice.secret) })).statusCode).toBe(401);
      expect((await admin.post(url, { mfaEnabled: 'off', confirm: '1' })).statusCode).toBe(401);
      expect(await mfaOn()).toBe(true);
      const right = await admin.post(url, { mfaEnabled: 'off', confirm: '1', code: codeNow(t, alice.secret) });
      expect(right.statusCode).toBe(303);
      expect(await mfaOn()).toBe(false);
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
    });

    it('switching MFA off by PUT /api/v1/account/settings asks for a current code', async () => {
      const admin = await staleAdmin('api');
      const bare = await send(admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: false });
      expect(bare.statusCode).toBe(403);
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      const wrong = await send(admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: false, code: wrongCode(t, alice.secret) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toMatchObject({ error: 'invalid_code' });
      expect(await mfaOn()).toBe(true);
      // Switching it on (it is on already) weakens nothing and asks for nothing.
      expect((await send(admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: true })).statusCode).toBe(200);
      const right = await send(admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: false, code: codeNow(t, alice.secret) });
      expect(right.statusCode).toBe(200);
      expect(await mfaOn()).toBe(false);
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
    });

    it('creating an admin asks for a current code, on the page and the API; creating an agent does not', async () => {
      const page = await staleAdmin('page');
      const name = fresh('adminpage');
      const fields = { username: name, role: 'admin', password: PASSWORD, email: '' };
      const asked = await page.post('/manage/users', fields);
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect(await userNamed(name)).toBeUndefined();
      expect((await page.post('/manage/users', { ...fields, confirm: '1', code: wrongCode(t, alice.secret) })).statusCode).toBe(401);
      expect(await userNamed(name)).toBeUndefined();
      const right = await page.post('/manage/users', { ...fields, confirm: '1', code: codeNow(t, alice.secret) });
      expect(right.statusCode).toBe(303);
      expect(await userNamed(name)).toMatchObject({ role: 'admin' });
      expect((await page.post('/manage/users', { username: fresh('agentpage'), role: 'agent', password: PASSWORD, email: '' })).statusCode).toBe(303);

      const api = await staleAdmin('api');
      const apiName = fresh('adminapi');
      const bare = await send(api, 'POST', '/api/v1/users', { username: apiName, role: 'admin', password: PASSWORD });
      expect(bare.statusCode).toBe(403);
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      expect(await userNamed(apiName)).toBeUndefined();
      expect((await send(api, 'POST', '/api/v1/users', { username: fresh('agentapi'), role: 'agent', password: PASSWORD })).statusCode).toBe(201);
      const made = await send(api, 'POST', '/api/v1/users', { username: apiName, role: 'admin', password: PASSWORD, code: codeNow(t, alice.secret) });
      expect(made.statusCode).toBe(201);
      expect(await userNamed(apiName)).toMatchObject({ role: 'admin' });
    });

    it('making an agent an admin asks for a current code, on the page and the API; changing an agent’s email does not', async () => {
      const page = await staleAdmin('page');
      const dave = await addUser(t, tenant, fresh('dave'));
      const fields = { role: 'admin', state: 'active', email: '' };
      const asked = await page.post(`/manage/users/${dave}`, fields);
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect((await page.post(`/manage/users/${dave}`, { ...fields, confirm: '1', code: wrongCode(t, alice.secret) })).statusCode).toBe(401);
      expect((await t.deps.store.users.get(tenant.accountId, dave))?.role).toBe('agent');
      expect((await page.post(`/manage/users/${dave}`, { role: 'agent', state: 'active', email: 'dave@example.com' })).statusCode).toBe(303);
      expect((await page.post(`/manage/users/${dave}`, { ...fields, confirm: '1', code: codeNow(t, alice.secret) })).statusCode).toBe(303);
      expect((await t.deps.store.users.get(tenant.accountId, dave))?.role).toBe('admin');

      const api = await staleAdmin('api');
      const erin = await addUser(t, tenant, fresh('erin'));
      const bare = await send(api, 'PATCH', `/api/v1/users/${erin}`, { role: 'admin' });
      expect(bare.statusCode).toBe(403);
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      expect((await t.deps.store.users.get(tenant.accountId, erin))?.role).toBe('agent');
      expect((await send(api, 'PATCH', `/api/v1/users/${erin}`, { email: 'erin@example.com' })).statusCode).toBe(200);
      expect((await send(api, 'PATCH', `/api/v1/users/${erin}`, { role: 'admin', code: codeNow(t, alice.secret) })).statusCode).toBe(200);
      expect((await t.deps.store.users.get(tenant.accountId, erin))?.role).toBe('admin');
    });

    it('disabling another admin asks for a current code, on the page and the API', async () => {
      const page = await staleAdmin('page');
      const carol = await addUser(t, tenant, fresh('carol'), { role: 'admin' });
      const fields = { role: 'admin', state: 'disabled', email: '' };
      const asked = await page.post(`/manage/users/${carol}`, fields);
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect(asked.body).toContain('name="state" value="disabled"');
      expect((await t.deps.store.users.get(tenant.accountId, carol))?.state).toBe('active');
      expect((await page.post(`/manage/users/${carol}`, { ...fields, confirm: '1', code: codeNow(t, alice.secret) })).statusCode).toBe(303);
      expect((await t.deps.store.users.get(tenant.accountId, carol))?.state).toBe('disabled');

      const api = await staleAdmin('api');
      const cleo = await addUser(t, tenant, fresh('cleo'), { role: 'admin' });
      const bare = await send(api, 'PATCH', `/api/v1/users/${cleo}`, { state: 'disabled' });
      expect(bare.statusCode).toBe(403);
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      const wrong = await send(api, 'PATCH', `/api/v1/users/${cleo}`, { state: 'disabled', code: wrongCode(t, alice.secret) });
      expect(wrong.statusCode).toBe(401);
      expect((await t.deps.store.users.get(tenant.accountId, cleo))?.state).toBe('active');
      expect((await send(api, 'PATCH', `/api/v1/users/${cleo}`, { state: 'disabled', code: codeNow(t, alice.secret) })).statusCode).toBe(200);
      expect((await t.deps.store.users.get(tenant.accountId, cleo))?.state).toBe('disabled');
    });

    it('sending a Reset password link asks for a current code, on the page and the API, as Reset MFA does (issue 15)', async () => {
      const links = () => t.db.database.db.selectFrom('password_resets').selectAll().where('account_id', '=', tenant.accountId).execute();
      const page = await staleAdmin('page');
      const dana = await addUser(t, tenant, fresh('dana'));
      await page.get(`/manage/users/${dana}`);
      const asked = await page.post(`/manage/users/${dana}/reset-password`, {});
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect(asked.body).not.toContain('/password/reset/');
      expect(await links()).toHaveLength(0);
      const wrong = await page.post(`/manage/users/${dana}/reset-password`, { confirm: '1', code: wrongCode(t, alice.secret) });
      expect(wrong.statusCode).toBe(401);
      expect(await links()).toHaveLength(0);
      const done = await page.post(`/manage/users/${dana}/reset-password`, { confirm: '1', code: codeNow(t, alice.secret) });
      expect(done.statusCode).toBe(200);
      expect(done.body).toContain('/password/reset/');
      expect(await links()).toHaveLength(1);

      const api = await staleAdmin('api');
      const bare = await send(api, 'POST', `/api/v1/users/${dana}/reset-password`, {});
      expect(bare.statusCode).toBe(403);
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      const issued = await send(api, 'POST', `/api/v1/users/${dana}/reset-password`, { code: codeNow(t, alice.secret) });
      expect(issued.statusCode, issued.body).toBe(200);
      expect(issued.json()).toMatchObject({ emailed: false, link: expect.stringContaining('/password/reset/') });
    });
  });
}
