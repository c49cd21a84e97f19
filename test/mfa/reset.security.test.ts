import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as resetMfaCommand } from '../../src/cli/user-reset-mfa.ts';
import { buildTestApp, TEST_ENV } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  STEP,
  addUser,
  apiCode,
  apiPending,
  auditEvents,
  codeNow,
  enrolByPage,
  mfaTenant,
  pendingBrowser,
  recoveryCodesOn,
  sessionsOf,
  signInByApi,
  signInByPage, apiRecoveryCode } from './support.ts';
import type { Enrolled } from './support.ts';

// Reset MFA: the authenticator and recovery codes are revoked, every session
// of the user ends (pages, API, pending sign-ins), and the next sign-in sets
// up a new secret. The break-glass command does the same, audited.

for (const kind of await storeKinds()) {
  describe(`Reset MFA (${kind})`, () => {
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

    async function recoveryRows(userId: string): Promise<number> {
      return (await t.db.database.db.selectFrom('recovery_codes').select('id').where('user_id', '=', userId).execute()).length;
    }

    it("ends all the user's sessions, revokes the recovery codes, and the next sign-in sets up a new secret", async () => {
      const userId = await addUser(t, tenant, 'ruby');
      const first = await enrolByPage(t, tenant, 'ruby');
      t.clock.advance(STEP);
      const api = await signInByApi(t, tenant, 'ruby', first.secret);
      const pending = await pendingBrowser(t, tenant, 'ruby');
      expect((await sessionsOf(t, userId)).length).toBe(3);
      expect(await recoveryRows(userId)).toBe(10);

      t.clock.advance(STEP);
      const admin = await signInByPage(t, tenant, 'alice', alice.secret);
      const edit = await admin.get(`/manage/users/${userId}`);
      expect(edit.body).toContain('Reset MFA');
      const confirm = await admin.get(`/manage/users/${userId}/reset-mfa`);
      expect(confirm.body).toContain('Delete');
      const noticesBefore = t.notices.length;
      const reset = await admin.post(`/manage/users/${userId}/reset-mfa`, {});
      expect(reset.statusCode).toBe(303);
      expect(reset.headers.location).toBe(`/manage/users/${userId}?notice=reset`);

      expect(await sessionsOf(t, userId)).toEqual([]);
      expect((await first.browser.get('/')).headers.location).toBe('/login');
      expect((await api.json('GET', '/api/v1/session')).statusCode).toBe(401);
      expect((await pending.browser.get('/login/mfa')).headers.location).toBe('/login');
      expect(await recoveryRows(userId)).toBe(0);
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toEqual([]);
      expect((await admin.get(`/manage/users/${userId}`)).body).toContain('Not enrolled');

      const audited = (await auditEvents(t, tenant.accountId, 'mfa.reset')).filter((e) => e.targetUserId === userId);
      expect(audited).toHaveLength(1);
      expect(audited[0]!).toMatchObject({ actor: 'alice', result: 'success' });
      expect(t.notices.slice(noticesBefore).some((n) => n.to.username === 'ruby' && /reset/.test(n.subject))).toBe(true);

      // The next sign-in: set-up, with a new secret; the old one and the old recovery codes are worth nothing.
      t.clock.advance(STEP);
      const again = await pendingBrowser(t, tenant, 'ruby');
      expect(again.page.body).toContain('class="qr"');
      const secret = secretOf(scanQr(again.page.body));
      expect(secret).not.toBe(first.secret);
      expect((await again.browser.post('/login/mfa', { code: codeNow(t, first.secret) })).statusCode).toBe(401);
      expect((await again.browser.post('/login/mfa', { code: first.recoveryCodes[0]!, method: 'recovery_code' })).statusCode).toBe(401);
      const done = await again.browser.post('/login/mfa', { code: codeNow(t, secret) });
      expect(done.statusCode).toBe(200);
      const fresh = recoveryCodesOn(done.body);
      expect(fresh).toHaveLength(10);
      for (const old of first.recoveryCodes) expect(fresh).not.toContain(old);

      t.clock.advance(STEP);
      const oldCode = await apiPending(t, tenant, 'ruby');
      expect((await apiRecoveryCode(oldCode.client, first.recoveryCodes[1]!)).statusCode).toBe(401);
      expect((await apiCode(oldCode.client, codeNow(t, first.secret))).statusCode).toBe(401);
      expect((await apiRecoveryCode(oldCode.client, fresh[0]!)).statusCode).toBe(200);
    });

    it('ends the sessions on an API reset too', async () => {
      const userId = await addUser(t, tenant, 'rafa');
      const first = await enrolByPage(t, tenant, 'rafa');
      t.clock.advance(STEP);
      const api = await signInByApi(t, tenant, 'rafa', first.secret);
      const admin = await signInByApi(t, tenant, 'alice', alice.secret);
      const res = await admin.json('POST', `/api/v1/users/${userId}/reset-mfa`, {});
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ reset: true, sessionsEnded: 2 });
      expect((await first.browser.get('/')).headers.location).toBe('/login');
      expect((await api.json('GET', '/api/v1/session')).statusCode).toBe(401);
      expect(await recoveryRows(userId)).toBe(0);
    });

    it('lets no one else reset: an agent-manager gets 403, an admin of another account 404, and nothing changes', async () => {
      const userId = await addUser(t, tenant, 'rosi');
      await enrolByPage(t, tenant, 'rosi');
      await addUser(t, tenant, 'mona', { role: 'agent-manager' });
      const mona = await enrolByPage(t, tenant, 'mona');
      const page = await mona.browser.get(`/manage/users/${userId}/reset-mfa`);
      expect(page.statusCode).toBe(403);
      await mona.browser.get('/');
      const post = await mona.browser.post(`/manage/users/${userId}/reset-mfa`, {});
      expect(post.statusCode).toBe(403);
      expect(post.body).toContain('You do not have permission to do that.');
      expect((await mona.browser.json('POST', `/api/v1/users/${userId}/reset-mfa`, {})).statusCode).toBe(403);

      const elsewhere = await mfaTenant(t, 'Umbrella Care');
      const otherAdmin = await enrolByPage(t, elsewhere, 'alice');
      expect((await otherAdmin.browser.get(`/manage/users/${userId}/reset-mfa`)).statusCode).toBe(404);
      await otherAdmin.browser.get('/');
      expect((await otherAdmin.browser.post(`/manage/users/${userId}/reset-mfa`, {})).statusCode).toBe(404);
      expect((await otherAdmin.browser.json('POST', `/api/v1/users/${userId}/reset-mfa`, {})).statusCode).toBe(404);

      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toHaveLength(1);
      expect(await recoveryRows(userId)).toBe(10);
      expect((await auditEvents(t, tenant.accountId, 'mfa.reset')).filter((e) => e.targetUserId === userId)).toEqual([]);
    });

    it('break-glass: `portcullis user reset-mfa` resets a user, ends their sessions and audits mfa.reset', async () => {
      const userId = await addUser(t, tenant, 'ryan');
      const first = await enrolByPage(t, tenant, 'ryan');
      const url = kind === 'sqlite' ? t.db.url : `${t.db.url}?options=${encodeURIComponent(`-c search_path=${t.db.schema}`)}`;
      let printed = '';
      const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        printed += String(chunk);
        return true;
      });
      let status: number;
      try {
        status = await resetMfaCommand(['--account', tenant.accountId, '--username', 'ryan'], { ...TEST_ENV, PORTCULLIS_LOG_LEVEL: 'silent', PORTCULLIS_DATABASE_URL: url });
      } finally {
        stdout.mockRestore();
      }
      expect(status).toBe(0);
      expect(JSON.parse(printed)).toMatchObject({ reset: true, userId, authenticatorRevoked: true, sessionsEnded: 1 });

      expect((await first.browser.get('/')).headers.location).toBe('/login');
      expect(await recoveryRows(userId)).toBe(0);
      const audited = (await auditEvents(t, tenant.accountId, 'mfa.reset')).filter((e) => e.targetUserId === userId);
      expect(audited).toHaveLength(1);
      expect(audited[0]!.actor).toMatch(/^cli/);
      expect(audited[0]!.actorUserId).toBeNull();

      t.clock.advance(STEP);
      const again = await pendingBrowser(t, tenant, 'ryan');
      expect(secretOf(scanQr(again.page.body))).not.toBe(first.secret);
    });
  });
}
