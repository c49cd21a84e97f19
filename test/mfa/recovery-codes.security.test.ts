import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  STEP,
  addUser,
  apiPending,
  enrolByApi,
  enrolByPage,
  mfaTenant,
  pendingBrowser,
  signInByApi,
  signInByPage, apiRecoveryCode } from './support.ts';
import type { Enrolled } from './support.ts';

// Recovery codes: ten, shown once at enrolment, each signs in once (pages and
// API), forgiving about case and dashes, stored only as hashes.

/** Every way a code could be written down: as shown, without dashes, lower case. */
function spellings(code: string): string[] {
  const bare = code.replaceAll('-', '');
  return [code, bare, code.toLowerCase(), bare.toLowerCase()];
}

for (const kind of await storeKinds()) {
  describe(`recovery codes (${kind})`, () => {
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

    it('shows 10 distinct codes once after enrolment, and nothing shows them again', async () => {
      const userId = await addUser(t, tenant, 'rosa');
      const { recoveryCodes, browser, answer } = await enrolByPage(t, tenant, 'rosa');
      expect(new Set(recoveryCodes).size).toBe(10);
      for (const code of recoveryCodes) expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
      expect(answer.body).toContain('they are shown only now');

      const later = [
        await browser.get('/'),
        await browser.get('/login/mfa'),
        // The browser's "reload" of the POST that showed them.
        await browser.post('/login/mfa', { code: '000000' }),
      ];
      t.clock.advance(STEP);
      const admin = await signInByPage(t, tenant, 'alice', alice.secret);
      later.push(await admin.get(`/manage/users/${userId}`));
      later.push(await admin.json('GET', `/api/v1/users/${userId}`));
      for (const res of later) {
        for (const code of recoveryCodes) for (const spelling of spellings(code)) expect(res.body).not.toContain(spelling);
      }
      expect((await admin.json('GET', `/api/v1/users/${userId}`)).json()).toMatchObject({ recoveryCodesLeft: 10 });
    });

    it('signs in once with a recovery code through the page ("Use a recovery code instead"), never twice', async () => {
      await addUser(t, tenant, 'remo');
      const { recoveryCodes } = await enrolByPage(t, tenant, 'remo');
      const code = recoveryCodes[0]!;

      const { browser, page } = await pendingBrowser(t, tenant, 'remo');
      expect(page.body).toContain('<a href="/login/mfa?method=recovery">Use a recovery code instead</a>');
      const form = await browser.get('/login/mfa?method=recovery');
      expect(form.statusCode).toBe(200);
      expect(form.body).toContain('<label for="code">Recovery code</label>');
      const res = await browser.post('/login/mfa', { code, method: 'recovery_code' });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/');
      expect((await browser.get('/')).statusCode).toBe(200);

      const again = await pendingBrowser(t, tenant, 'remo');
      await again.browser.get('/login/mfa?method=recovery');
      const replay = await again.browser.post('/login/mfa', { code, method: 'recovery_code' });
      expect(replay.statusCode).toBe(401);
      expect((await again.browser.get('/')).headers.location).toBe('/login/mfa');
      // Nor on the API.
      const api = await apiPending(t, tenant, 'remo');
      expect((await apiRecoveryCode(api.client, code)).statusCode).toBe(401);
    });

    it('signs in once with a recovery code through the API, and says how many are left', async () => {
      await addUser(t, tenant, 'rene');
      const { recoveryCodes } = await enrolByApi(t, tenant, 'rene');
      const first = await apiPending(t, tenant, 'rene');
      const res = await apiRecoveryCode(first.client, recoveryCodes[1]!);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ state: 'authenticated', recoveryCodesLeft: 9 });
      expect((await first.client.json('GET', '/api/v1/session')).json()).toMatchObject({ state: 'authenticated' });

      const second = await apiPending(t, tenant, 'rene');
      const replay = await apiRecoveryCode(second.client, recoveryCodes[1]!);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toMatchObject({ error: 'invalid_code' });
      // Another unused one still works.
      expect((await apiRecoveryCode(second.client, recoveryCodes[2]!)).json()).toEqual({ state: 'authenticated', recoveryCodesLeft: 8 });
    });

    it('accepts a recovery code in lower case and without dashes', async () => {
      await addUser(t, tenant, 'rick');
      const { recoveryCodes } = await enrolByPage(t, tenant, 'rick');
      const { browser } = await pendingBrowser(t, tenant, 'rick');
      const res = await browser.post('/login/mfa', { code: recoveryCodes[4]!.replaceAll('-', '').toLowerCase(), method: 'recovery_code' });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/');
      // …and that spelling spent the code.
      const again = await apiPending(t, tenant, 'rick');
      expect((await apiRecoveryCode(again.client, recoveryCodes[4]!)).statusCode).toBe(401);
    });

    it("does not take one user's recovery code for another user", async () => {
      await addUser(t, tenant, 'rhea');
      await addUser(t, tenant, 'ravi');
      const rhea = await enrolByApi(t, tenant, 'rhea');
      await enrolByApi(t, tenant, 'ravi');
      const ravi = await apiPending(t, tenant, 'ravi');
      expect((await apiRecoveryCode(ravi.client, rhea.recoveryCodes[0]!)).statusCode).toBe(401);
      const own = await apiPending(t, tenant, 'rhea');
      expect((await apiRecoveryCode(own.client, rhea.recoveryCodes[0]!)).statusCode).toBe(200);
    });

    it('lets one recovery code through once when two pending sign-ins race with it', async () => {
      await addUser(t, tenant, 'rory');
      const { recoveryCodes } = await enrolByApi(t, tenant, 'rory');
      const a = await apiPending(t, tenant, 'rory');
      const b = await apiPending(t, tenant, 'rory');
      const answers = await Promise.all([apiRecoveryCode(a.client, recoveryCodes[0]!), apiRecoveryCode(b.client, recoveryCodes[0]!)]);
      expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 401]);
    });

    it('stores the codes hashed: no spelling of any code is in the recovery_codes table', async () => {
      const userId = await addUser(t, tenant, 'ruth');
      const { recoveryCodes, secret } = await enrolByApi(t, tenant, 'ruth');
      const rows = await t.db.database.db.selectFrom('recovery_codes').selectAll().where('user_id', '=', userId).execute();
      expect(rows).toHaveLength(10);
      const table = JSON.stringify(rows);
      const upper = table.toUpperCase();
      for (const code of recoveryCodes) {
        for (const spelling of spellings(code)) expect(upper).not.toContain(spelling.toUpperCase());
      }
      // Each row is a digest, not some reversible encoding of the code.
      for (const row of rows) expect(row.code_hash).toMatch(/^[0-9a-f]{64}$/);
      // And the stored hashes still work.
      t.clock.advance(STEP);
      await signInByApi(t, tenant, 'ruth', secret);
    });
  });
}
