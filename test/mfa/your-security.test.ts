import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { TestBrowser, Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  STEP,
  addUser,
  apiCode,
  apiPending,
  apiRecoveryCode,
  auditEvents,
  codeNow,
  enrolByApi,
  enrolByPage,
  mfaTenant,
  recoveryCodesOn,
  signInByApi,
  signInByPage,
  wrongCode,
} from './support.ts';

// "Your security" (issue 14): a signed-in user's own factors, through the API
// and the pages: list, rename, another authenticator app, new recovery codes.
// The refusals (remove, last factor, someone else's factor, CSRF, races,
// locks) are in your-security.security.test.ts.

type Listed = { id: string; name: string; type: string; createdAt: string; lastUsedAt: string | null };

const factorsOf = async (client: TestBrowser): Promise<Listed[]> => {
  const res = await client.json('GET', '/api/v1/factors');
  expect(res.statusCode).toBe(200);
  return res.json<{ factors: Listed[] }>().factors;
};

for (const kind of await storeKinds()) {
  describe(`your security (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t, 'Security Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    const noticesTo = (username: string, subject: string) => t.notices.filter((n) => n.to.username === username && n.subject.startsWith(subject));
    const eventsFor = async (action: string, userId: string) => (await auditEvents(t, tenant.accountId, action)).filter((e) => e.targetUserId === userId);

    it('lists the user’s factors with name, type, added and last used; the page shows them and home links to it', async () => {
      const userId = await addUser(t, tenant, 'lena');
      const enrolled = await enrolByApi(t, tenant, 'lena');
      const [factor, ...others] = await factorsOf(enrolled.client);
      expect(others).toEqual([]);
      expect(factor).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/), name: 'Authenticator app', type: 'totp', createdAt: new Date(t.clock.now()).toISOString(), lastUsedAt: new Date(t.clock.now()).toISOString(), allowed: true });
      expect((await t.deps.store.factors.forUser(tenant.accountId, userId)).map((f) => f.id)).toEqual([factor!.id]);

      t.clock.advance(STEP);
      const browser = (await enrolByPage(t, tenant, 'bob')).browser;
      const home = await browser.get('/');
      expect(home.body).toContain('<a href="/account/security">Your security</a>');
      const page = await browser.get('/account/security');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1>Your security</h1>');
      for (const heading of ['Name', 'Type', 'Added', 'Last used']) expect(page.body).toContain(`<th scope="col">${heading}</th>`);
      expect(page.body).toContain('<td>Authenticator app</td>');
      expect(page.body).toContain(`<td>${new Date(t.clock.now()).toISOString().replace('T', ' ').slice(0, 16)} UTC</td>`);
      // bob's only factor while MFA is required: no Remove button, a reason instead.
      expect(page.body).not.toContain('>Remove<');
      expect(page.body).toContain('Your only factor: add another before removing it.');
      expect(page.body).toContain('Add an authenticator app');
      expect(page.body).toContain('New recovery codes');
    });

    it('adds another authenticator app through the API: a current code first, then a code from the new app; both apps then sign in', async () => {
      const userId = await addUser(t, tenant, 'omar');
      t.clock.advance(STEP);
      const first = await enrolByApi(t, tenant, 'omar');
      t.clock.advance(STEP);
      expect((await first.client.json('POST', '/api/v1/factors/totp', {})).json()).toMatchObject({ error: 'step_up_required' });
      expect((await first.client.json('POST', '/api/v1/factors/totp', { code: wrongCode(t, first.secret) })).statusCode).toBe(401);
      const started = await first.client.json('POST', '/api/v1/factors/totp', { code: codeNow(t, first.secret) });
      expect(started.statusCode).toBe(200);
      const offer = started.json<{ otpauthUri: string; manualKey: string }>();
      expect(offer.otpauthUri).toMatch(/^otpauth:\/\/totp\/Security%20Ltd:omar\?/);
      const second = secretOf(offer.otpauthUri);
      expect(second).not.toBe(first.secret);
      expect(offer.manualKey.replaceAll(' ', '')).toBe(second);

      // A code of the first app is not one of the new app's: refused, nothing added.
      const refused = await first.client.json('POST', '/api/v1/factors/totp/confirm', { code: wrongCode(t, second) });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ error: 'invalid_code' });
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toHaveLength(1);
      expect((await eventsFor('factor.add', userId)).map((e) => e.result)).toEqual(['failure']);

      const confirmed = await first.client.json('POST', '/api/v1/factors/totp/confirm', { code: codeNow(t, second) });
      expect(confirmed.statusCode).toBe(201);
      const added = confirmed.json<{ factor: Listed; recoveryCodes?: string[] }>();
      // The user had a factor and recovery codes already: none are made again.
      expect(added.recoveryCodes).toBeUndefined();
      expect(added.factor).toMatchObject({ name: 'Authenticator app 2', type: 'totp' });
      expect((await factorsOf(first.client)).map((f) => f.name)).toEqual(['Authenticator app', 'Authenticator app 2']);
      // Confirmed once: the session adds nothing more until it starts again.
      expect((await first.client.json('POST', '/api/v1/factors/totp/confirm', { code: codeNow(t, second) })).json()).toMatchObject({ error: 'not_started' });

      const successes = (await eventsFor('factor.add', userId)).filter((e) => e.result === 'success');
      expect(successes.map((e) => e.detail)).toEqual([{ factorId: added.factor.id, type: 'totp', name: 'Authenticator app 2', factorsHeld: 2 }]);
      expect(noticesTo('omar', 'An authenticator app was added')).toHaveLength(1);

      // The code that confirmed the new app is spent: it does not sign in again.
      const replay = await apiPending(t, tenant, 'omar');
      expect((await apiCode(replay.client, codeNow(t, second))).statusCode).toBe(401);
      t.clock.advance(STEP);
      await signInByApi(t, tenant, 'omar', second);
      t.clock.advance(STEP);
      await signInByApi(t, tenant, 'omar', first.secret);
    });

    it('adds an app through the pages: Confirm it’s you, the QR code (read by zbarimg, the same on reload), a name, Verify; it signs in', async () => {
      await addUser(t, tenant, 'pia');
      t.clock.advance(STEP);
      const { browser, secret } = await enrolByPage(t, tenant, 'pia');
      await browser.get('/account/security');
      const asked = await browser.post('/account/security/authenticator', {});
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('Confirm it’s you');
      expect(asked.body).toContain('To add an authenticator app, enter the current code');
      t.clock.advance(STEP);
      const started = await browser.post('/account/security/authenticator', { confirm: '1', code: codeNow(t, secret) });
      expect(started.statusCode).toBe(303);
      expect(started.headers.location).toBe('/account/security/authenticator');

      const page = await browser.get('/account/security/authenticator');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1 id="add-app-title">Add an authenticator app</h1>');
      expect(page.body).toContain('<label for="code">Authentication code</label>');
      expect(page.body).toContain('<button type="submit">Verify</button>');
      const uri = scanQr(page.body);
      expect(scanQr((await browser.get('/account/security/authenticator')).body)).toBe(uri);
      const added = secretOf(uri);

      const wrong = await browser.post('/account/security/authenticator/confirm', { name: 'Work phone', code: wrongCode(t, added) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).toContain('That code didn’t work');
      expect(wrong.body).toContain('value="Work phone"');
      const done = await browser.post('/account/security/authenticator/confirm', { name: '  Work phone ', code: codeNow(t, added) });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe('/account/security?done=added');
      const overview = await browser.get('/account/security?done=added');
      expect(overview.body).toContain('The authenticator app is added.');
      expect(overview.body).toContain('<td>Work phone</td>');
      // Two factors now: each may be removed.
      expect(overview.body).toContain('aria-label="Remove Work phone"');
      expect((await browser.get('/account/security/authenticator')).headers.location).toBe('/account/security?done=expired');

      t.clock.advance(STEP);
      await signInByPage(t, tenant, 'pia', added);
    });

    it('renames a factor (trimmed); an empty, too long or control-character name is refused with the reason', async () => {
      const userId = await addUser(t, tenant, 'ravi');
      t.clock.advance(STEP);
      const { client } = await enrolByApi(t, tenant, 'ravi');
      const [factor] = await factorsOf(client);
      const renamed = await client.json('PATCH', `/api/v1/factors/${factor!.id}`, { name: '  My   phone  ' });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.json()).toMatchObject({ factor: { id: factor!.id, name: 'My phone', type: 'totp' } });
      for (const name of ['', '   ', 'x'.repeat(65), 'evil\u202Ename', 'bell\u0007ring']) {
        const res = await client.json('PATCH', `/api/v1/factors/${factor!.id}`, { name });
        expect(res.statusCode, JSON.stringify(name)).toBe(400);
        expect(res.json<{ error: string; message: string }>()).toMatchObject({ error: 'invalid_name', message: expect.stringMatching(/name/) });
      }
      expect((await factorsOf(client)).map((f) => f.name)).toEqual(['My phone']);
      t.clock.advance(1000); // the audit log lists the newest first
      expect((await client.json('PATCH', `/api/v1/factors/${factor!.id}`, { name: 'x'.repeat(64) })).statusCode).toBe(200);
      const events = await eventsFor('factor.rename', userId);
      expect(events.map((e) => e.detail)).toEqual([
        { factorId: factor!.id, type: 'totp', from: 'My phone', to: 'x'.repeat(64) },
        { factorId: factor!.id, type: 'totp', from: 'Authenticator app', to: 'My phone' },
      ]);
      expect(noticesTo('ravi', 'A second factor was renamed')).toHaveLength(2);
    });

    it('renames through the page; a refused name says why', async () => {
      await addUser(t, tenant, 'sana');
      t.clock.advance(STEP);
      const { browser } = await enrolByPage(t, tenant, 'sana');
      const page = await browser.get('/account/security');
      const id = /action="\/account\/security\/factors\/([0-9a-f]{32})\/rename"/.exec(page.body)?.[1];
      expect(id).toBeDefined();
      const bad = await browser.post(`/account/security/factors/${id}/rename`, { name: ' ' });
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('A name is 1–64 characters.');
      const good = await browser.post(`/account/security/factors/${id}/rename`, { name: 'Pixel' });
      expect(good.headers.location).toBe('/account/security?done=renamed');
      expect((await browser.get('/account/security?done=renamed')).body).toContain('<td>Pixel</td>');
    });

    it('makes new recovery codes with a current code: the old ones stop working, a new one signs in; shown once', async () => {
      const userId = await addUser(t, tenant, 'tomas');
      t.clock.advance(STEP);
      const { client, secret, recoveryCodes: old } = await enrolByApi(t, tenant, 'tomas');
      expect((await client.json('POST', '/api/v1/recovery-codes', {})).json()).toMatchObject({ error: 'step_up_required' });
      expect((await client.json('POST', '/api/v1/recovery-codes', { code: wrongCode(t, secret) })).statusCode).toBe(401);
      t.clock.advance(STEP);
      const made = await client.json('POST', '/api/v1/recovery-codes', { code: codeNow(t, secret) });
      expect(made.statusCode).toBe(200);
      const fresh = made.json<{ recoveryCodes: string[] }>().recoveryCodes;
      expect(fresh).toHaveLength(10);
      expect(fresh.filter((c) => old.includes(c))).toEqual([]);
      expect((await eventsFor('recovery_codes.regenerate', userId)).map((e) => e.detail)).toEqual([{ unusedRevoked: 10, issued: 10 }]);
      expect(noticesTo('tomas', 'New recovery codes were made')).toHaveLength(1);

      const withOld = await apiPending(t, tenant, 'tomas');
      expect((await apiRecoveryCode(withOld.client, old[0]!)).statusCode).toBe(401);
      const withNew = await apiPending(t, tenant, 'tomas');
      const signedIn = await apiRecoveryCode(withNew.client, fresh[0]!);
      expect(signedIn.statusCode).toBe(200);
      expect(signedIn.json()).toMatchObject({ state: 'authenticated', recoveryCodesLeft: 9 });
    });

    it('makes new recovery codes through the page: Confirm it’s you, then the codes once', async () => {
      await addUser(t, tenant, 'uma');
      t.clock.advance(STEP);
      const { browser, secret, recoveryCodes: old } = await enrolByPage(t, tenant, 'uma');
      await browser.get('/account/security');
      const asked = await browser.post('/account/security/recovery-codes', {});
      expect(asked.statusCode).toBe(200);
      expect(asked.body).toContain('To make new recovery codes, enter the current code');
      const wrong = await browser.post('/account/security/recovery-codes', { confirm: '1', code: wrongCode(t, secret) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).toContain('That code didn’t work');
      t.clock.advance(STEP);
      const shown = await browser.post('/account/security/recovery-codes', { confirm: '1', code: codeNow(t, secret) });
      expect(shown.statusCode).toBe(200);
      expect(shown.body).toContain('New recovery codes are made: the earlier ones no longer work.');
      const fresh = recoveryCodesOn(shown.body);
      expect(fresh).toHaveLength(10);
      expect(fresh.filter((c) => old.includes(c))).toEqual([]);
      expect(shown.body).toContain('href="/account/security"');
      // Nothing shows them again.
      const again = await browser.get('/account/security');
      for (const code of fresh) expect(again.body).not.toContain(code);
    });
  });
}
