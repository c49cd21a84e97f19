import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { TestBrowser, Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { MINUTE, STEP, apiCode, apiPending, auditEvents, codeNow, enrolByPage, mfaTenant, signInByApi, signInByPage, wrongCode } from './support.ts';
import type { Enrolled } from './support.ts';

// Reset MFA is a sensitive action (ASVS 4.0.3 V4.3.1): an admin whose second
// factor was verified more than 15 minutes ago enters a current code first.

for (const kind of await storeKinds()) {
  describe(`step-up before Reset MFA (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let alice: Enrolled;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
      alice = await enrolByPage(t, tenant, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    const bobEnrolled = async () => (await t.deps.store.factors.forUser(tenant.accountId, tenant.agentId)).length > 0;

    /** bob, enrolled (again) and signed in, so a reset has something to revoke. */
    async function enrolBob(): Promise<TestBrowser> {
      t.clock.advance(STEP);
      return (await enrolByPage(t, tenant, 'bob')).browser;
    }

    /** 16 minutes, with a request at 8 so the session (idle limit 30) stays alive. */
    async function letSixteenMinutesPass(keepAlive: () => Promise<unknown>) {
      t.clock.advance(8 * MINUTE);
      await keepAlive();
      t.clock.advance(8 * MINUTE);
    }

    it('asks for a current code ("Confirm it’s you") after 15 minutes; a wrong code resets nothing, a right one resets', async () => {
      const bob = await enrolBob();
      t.clock.advance(STEP);
      const admin = await signInByPage(t, tenant, 'alice', alice.secret);
      await letSixteenMinutesPass(() => admin.get('/'));

      expect((await admin.get(`/manage/users/${tenant.agentId}/reset-mfa`)).statusCode).toBe(200);
      const asked = await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, {});
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect(asked.body).toContain('<label for="code">Authentication code</label>');
      expect(asked.body).toContain('name="confirm" value="1"');
      expect(await bobEnrolled()).toBe(true);

      const wrong = await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, { confirm: '1', code: wrongCode(t, alice.secret) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).toContain('Confirm it’s you');
      expect(wrong.body).toContain('That code didn’t work');
      expect(await bobEnrolled()).toBe(true);
      expect((await bob.get('/')).statusCode).toBe(200);
      // Saying "confirm" without any code is no way around it either.
      await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, { confirm: '1' });
      expect(await bobEnrolled()).toBe(true);

      const right = await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, { confirm: '1', code: codeNow(t, alice.secret) });
      expect(right.statusCode).toBe(303);
      expect(right.headers.location).toBe(`/manage/users/${tenant.agentId}?notice=reset`);
      expect(await bobEnrolled()).toBe(false);
      expect((await bob.get('/')).headers.location).toBe('/login');

      const stepUps = await auditEvents(t, tenant.accountId, 'mfa.step_up');
      expect(stepUps.map((e) => e.result).sort()).toEqual(['failure', 'failure', 'success']);
    });

    it('asks for no code within 15 minutes of the sign-in code', async () => {
      await enrolBob();
      t.clock.advance(STEP);
      const admin = await signInByPage(t, tenant, 'alice', alice.secret);
      t.clock.advance(14 * MINUTE);
      await admin.get(`/manage/users/${tenant.agentId}/reset-mfa`);
      const reset = await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, {});
      expect(reset.statusCode).toBe(303);
      expect(await bobEnrolled()).toBe(false);
    });

    it('on the API: 403 step_up_required without a code, 401 with a wrong one, 200 with a right one', async () => {
      await enrolBob();
      t.clock.advance(STEP);
      const admin = await signInByApi(t, tenant, 'alice', alice.secret);
      await letSixteenMinutesPass(() => admin.json('GET', '/api/v1/session'));
      const url = `/api/v1/users/${tenant.agentId}/reset-mfa`;

      const bare = await admin.json('POST', url, {});
      expect(bare.statusCode).toBe(403);
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      expect(await bobEnrolled()).toBe(true);

      const wrong = await admin.json('POST', url, { code: wrongCode(t, alice.secret) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toMatchObject({ error: 'invalid_code' });
      expect(await bobEnrolled()).toBe(true);

      const right = await admin.json('POST', url, { code: codeNow(t, alice.secret) });
      expect(right.statusCode).toBe(200);
      expect(right.json()).toMatchObject({ reset: true });
      expect(await bobEnrolled()).toBe(false);
    });

    it('spends the step-up code: it does not sign the admin in again', async () => {
      await enrolBob();
      t.clock.advance(STEP);
      const admin = await signInByApi(t, tenant, 'alice', alice.secret);
      await letSixteenMinutesPass(() => admin.json('GET', '/api/v1/session'));
      const code = codeNow(t, alice.secret);
      expect((await admin.json('POST', `/api/v1/users/${tenant.agentId}/reset-mfa`, { code })).statusCode).toBe(200);

      const { client } = await apiPending(t, tenant, 'alice');
      const replay = await apiCode(client, code);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toMatchObject({ error: 'invalid_code' });
    });
  });
}
