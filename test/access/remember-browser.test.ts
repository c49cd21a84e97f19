import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_PWD } from '../../src/services/oidc/claims.ts';
import { loginResult } from '../../src/services/oidc/provider.ts';
import { signIn } from '../../src/services/sign-in.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { api, postForm } from '../admin/admin-support.ts';
import { searchSettings } from '../../src/http/routes/console-pages.tsx';
import { setCookieLines } from '../http/http-support.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { SoftKey } from '../helpers/authenticator.ts';
import type { CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { addUser, auditEvents, codeNow, enrolByPage, mfaTenant, pendingBrowser, signInByApi, signInByPage, STEP } from '../mfa/support.ts';

// Issue 15, Remember this browser: off by default; when the account allows
// it, a correct code with "Don't ask for a code on this browser" ticked lets
// that browser's next sign-ins of the same user skip the code, and nothing
// else; every way of revoking it ends it. Over HTTP, on both stores.

const DAY = 24 * 60 * 60_000;
const COOKIE = 'portcullis-remember';
const CHECKBOX = /Don’t ask for a code on this browser for (\d+) days?/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function rememberCookieOf(res: LightMyRequestResponse) {
  return res.cookies.find((c) => c.name === COOKIE);
}

describe.each(await storeKinds())('Remember this browser (%s)', (kind) => {
  let t: TestApp;
  let tenant: Tenant;
  let aliceSecret = '';
  const secrets = new Map<string, { id: string; secret: string }>();

  beforeAll(async () => {
    t = await buildTestApp(kind);
    tenant = await mfaTenant(t);
    aliceSecret = (await enrolByPage(t, tenant, 'alice')).secret;
  });
  afterAll(async () => {
    await t.close();
  });

  /** A fresh admin API session (a code of a new step): days pass between the steps of these tests. */
  async function admin(): Promise<TestBrowser> {
    t.clock.advance(STEP);
    return signInByApi(t, tenant, 'alice', aliceSecret);
  }

  async function setDays(days: number): Promise<LightMyRequestResponse> {
    return api(t, await admin(), 'PUT', '/api/v1/account/access-rules/remember-browser', { rememberBrowserDays: days });
  }

  /** A user of their own for each test, with an authenticator app set up. */
  async function user(name: string): Promise<{ id: string; secret: string }> {
    const id = await addUser(t, tenant, name);
    t.clock.advance(STEP);
    const { secret } = await enrolByPage(t, tenant, name);
    secrets.set(name, { id, secret });
    return { id, secret };
  }

  /** Signs in through the pages with the code and the box ticked: the browser now holds the remember cookie. */
  async function remember(name: string, secret: string): Promise<{ browser: TestBrowser; answer: LightMyRequestResponse }> {
    t.clock.advance(STEP);
    const { browser, page } = await pendingBrowser(t, tenant, name);
    expect(page.body).toMatch(CHECKBOX);
    const answer = await browser.post('/login/mfa', { code: codeNow(t, secret), rememberBrowser: 'yes' });
    expect(answer.statusCode, answer.body).toBe(303);
    expect(answer.headers.location).toBe('/');
    expect(browser.cookies.has(COOKIE)).toBe(true);
    return { browser, answer };
  }

  /** The browser is closed (its session cookie goes) and opened again: a new sign-in. Answers where the password sends it. */
  async function signInAgain(browser: TestBrowser, name: string, password = PASSWORD): Promise<string | undefined> {
    browser.cookies.delete('portcullis');
    const res = await browser.signIn(tenant.accountId, name, password);
    return res.statusCode === 303 ? res.headers.location : `status ${res.statusCode}`;
  }

  async function rowsOf(userId: string) {
    return t.db.database.db.selectFrom('remembered_browsers').selectAll().where('user_id', '=', userId).execute();
  }

  it('is off by default: the code page offers nothing, and a box sent anyway remembers nothing', async () => {
    const { id, secret } = await user('olga');
    t.clock.advance(STEP);
    const { browser, page } = await pendingBrowser(t, tenant, 'olga');
    expect(page.body).not.toMatch(CHECKBOX);
    const answer = await browser.post('/login/mfa', { code: codeNow(t, secret), rememberBrowser: 'yes' });
    expect(answer.statusCode).toBe(303);
    expect(rememberCookieOf(answer)).toBeUndefined();
    expect(await rowsOf(id)).toEqual([]);
    // The API says the same: nothing remembered.
    t.clock.advance(STEP);
    const client = new TestBrowser(t.app);
    await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'olga', password: PASSWORD });
    const done = await client.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret), rememberBrowser: true });
    expect(done.json()).toEqual({ state: 'authenticated' });
    expect(await rowsOf(id)).toEqual([]);
    const rules = await api(t, await admin(), 'GET', '/api/v1/account/access-rules');
    expect(rules.json()).toMatchObject({ rememberBrowserDays: 0 });
  });

  it('refuses days outside 0 to 30 on the page and in the API, and audits a change with its old and new value', async () => {
    for (const days of [31, -1, 365]) {
      const res = await setDays(days);
      expect(res.statusCode, String(days)).toBe(400);
      expect(res.json<{ message: string }>().message).toBe('Remember this browser must be from 1 to 30 days, or 0 for off.');
    }
    expect((await setDays(1.5)).statusCode).toBe(400);
    t.clock.advance(STEP);
    const page = await signInByPage(t, tenant, 'alice', aliceSecret);
    await page.get('/manage/console/account-access-control');
    for (const value of ['31', 'seven']) {
      const refused = await page.post('/manage/console/account-access-control/remember-browser', { rememberBrowserDays: value });
      expect(refused.statusCode).toBe(400);
      expect(refused.body).toContain('Remember this browser must be from 1 to 30 days, or 0 for off.');
    }
    expect(await auditEvents(t, tenant.accountId, 'account.remember_browser')).toEqual([]);

    const saved = await page.post('/manage/console/account-access-control/remember-browser', { rememberBrowserDays: '7' });
    expect(saved.statusCode).toBe(303);
    expect((await page.get('/manage/console/account-access-control')).body).toMatch(/id="rememberBrowserDays"[^>]*value="7"/);
    const same = await setDays(7);
    expect(same.json()).toEqual({ rememberBrowserDays: 7, changed: false, forgotten: 0 });
    const events = await auditEvents(t, tenant.accountId, 'account.remember_browser');
    expect(events.map((e) => [e.actor, e.detail])).toEqual([['alice', { old: 0, new: 7 }]]);
  });

  it('is found by Search settings and shown on Account Access Control', async () => {
    for (const q of ['remember', 'remember this browser', 'remembered browsers']) expect(searchSettings(q).map((r) => r.title), q).toContain('Account Access Control');
    t.clock.advance(STEP);
    const page = await signInByPage(t, tenant, 'alice', aliceSecret);
    const body = (await page.get('/manage/console/account-access-control')).body;
    expect(body).toContain('<legend>Remember this browser</legend>');
    expect(body).toContain('Switching it off forgets every remembered browser of the account');
  });

  it('works through the API too: rememberBrowser at the code step, then the password alone', async () => {
    await setDays(3);
    const { id, secret } = await user('api-anna');
    t.clock.advance(STEP);
    const client = new TestBrowser(t.app);
    expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'api-anna', password: PASSWORD })).json()).toEqual({ state: 'mfa_required' });
    const done = await client.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret), rememberBrowser: true });
    expect(done.json()).toEqual({ state: 'authenticated', rememberedDays: 3 });
    expect(rememberCookieOf(done)).toMatchObject({ httpOnly: true, maxAge: 3 * 24 * 60 * 60 });
    expect(await rowsOf(id)).toHaveLength(1);
    client.cookies.delete('portcullis');
    expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'api-anna', password: PASSWORD })).json()).toEqual({ state: 'authenticated' });
    // Raising the days lengthens none already remembered: the row keeps its 3 days.
    await setDays(7);
    const [row] = await rowsOf(id);
    expect(row!.expires_at - row!.created_at).toBe(3 * DAY);

    // One remember cookie a browser: another user remembering this browser replaces anna's, whose row goes.
    const ben = await user('api-ben');
    client.cookies.delete('portcullis');
    t.clock.advance(STEP);
    expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'api-ben', password: PASSWORD })).json()).toEqual({ state: 'mfa_required' });
    expect((await client.json('POST', '/api/v1/login/mfa', { code: codeNow(t, ben.secret), rememberBrowser: true })).json()).toEqual({ state: 'authenticated', rememberedDays: 7 });
    expect(await rowsOf(id)).toEqual([]);
    expect(await rowsOf(ben.id)).toHaveLength(1);
    client.cookies.delete('portcullis');
    expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'api-anna', password: PASSWORD })).json()).toEqual({ state: 'mfa_required' });
  });

  it('skips the code on the remembered browser, asks the password still, and says so in the session’s methods (pwd, remembered; no mfa)', async () => {
    expect((await setDays(7)).statusCode).toBe(200);
    const { id, secret } = await user('rita');
    const { browser, answer } = await remember('rita', secret);

    // Its own cookie: HttpOnly, SameSite=Lax, the days as Max-Age; over plain HTTP no Secure (the __Host- one is for HTTPS).
    const cookie = rememberCookieOf(answer);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 7 * 24 * 60 * 60 });
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Stored hashed: the row holds the SHA-256, and no column holds the cookie's value.
    const rows = await rowsOf(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(sha256(cookie!.value));
    expect(JSON.stringify(rows)).not.toContain(cookie!.value);
    expect(await auditEvents(t, tenant.accountId, 'mfa.browser_remembered')).toContainEqual(expect.objectContaining({ targetUserId: id, result: 'success' }));

    // A wrong password is still a wrong password.
    expect(await signInAgain(browser, 'rita', 'not the password at all')).toBe('status 401');
    // The right one signs in without a code.
    t.clock.advance(STEP);
    expect(await signInAgain(browser, 'rita')).toBe('/');
    expect((await browser.get('/')).statusCode).toBe(200);
    const sessions = (await browser.json('GET', '/api/v1/sessions')).json<{ sessions: Array<{ current: boolean; amr: string[]; signedInWith: string }> }>().sessions;
    expect(sessions.find((s) => s.current)).toMatchObject({ amr: ['pwd', 'remembered'], signedInWith: 'password and remembered browser' });
    const signIns = await auditEvents(t, tenant.accountId, 'sign_in.password');
    expect(signIns.find((e) => e.targetUserId === id && e.result === 'success')?.detail).toEqual({ session: 'full', rememberedBrowser: rows[0]!.id });

    // An application learns the same: amr without otp or mfa, the password's acr.
    const view = await t.deps.store.sessions.view(sha256(browser.cookies.get('portcullis')!));
    expect(loginResult(view!)).toMatchObject({ amr: ['pwd', 'remembered'], acr: ACR_PWD });
  });

  it('asks the code of an application that asks for a second factor (acr_values), and before a sensitive action (step-up)', async () => {
    await setDays(7);
    const { browser } = await remember('amir', (await user('amir')).secret);
    const token = browser.cookies.get(COOKIE)!;
    const base = { accountId: tenant.accountId, username: 'amir', password: PASSWORD, ip: '127.0.0.1', rememberedToken: token };
    expect(await signIn(t.deps, { ...base, secondFactorRequested: true })).toMatchObject({ ok: true, state: 'pending' });
    expect(await signIn(t.deps, base)).toMatchObject({ ok: true, state: 'full' });

    // An admin on a remembered browser is asked for a code before Reset MFA.
    const { browser: adminBrowser } = await remember('alice', aliceSecret);
    t.clock.advance(STEP);
    expect(await signInAgain(adminBrowser, 'alice')).toBe('/');
    const res = await api(t, adminBrowser, 'POST', `/api/v1/users/${secrets.get('amir')!.id}/reset-mfa`, {});
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json()).toMatchObject({ error: 'step_up_required' });
  });

  it('does nothing for another user on that browser, nor with a token copied to another user’s browser', async () => {
    await setDays(7);
    const { browser } = await remember('sara', (await user('sara')).secret);
    await user('tom');
    expect(await signInAgain(browser, 'tom')).toBe('/login/mfa');
    const copied = new TestBrowser(t.app);
    copied.cookies.set(COOKIE, browser.cookies.get(COOKIE)!);
    expect(await signInAgain(copied, 'tom')).toBe('/login/mfa');
    // Sara's own sign-in on it still skips the code.
    expect(await signInAgain(browser, 'sara')).toBe('/');
    // A made-up token of the right shape is no token.
    const forged = new TestBrowser(t.app);
    forged.cookies.set(COOKIE, 'A'.repeat(43));
    expect(await signInAgain(forged, 'sara')).toBe('/login/mfa');
  });

  it('ends after its days, and lowering the setting shortens browsers already remembered, for good', async () => {
    await setDays(7);
    const { browser } = await remember('ugo', (await user('ugo')).secret);
    t.clock.advance(7 * DAY - 60_000);
    expect(await signInAgain(browser, 'ugo')).toBe('/');
    t.clock.advance(60_000);
    expect(await signInAgain(browser, 'ugo')).toBe('/login/mfa');

    const { browser: second } = await remember('ugo', secrets.get('ugo')!.secret);
    t.clock.advance(2 * DAY);
    expect(await signInAgain(second, 'ugo')).toBe('/');
    expect((await setDays(1)).json()).toMatchObject({ changed: true });
    expect(await signInAgain(second, 'ugo')).toBe('/login/mfa');
    await setDays(7);
    expect(await signInAgain(second, 'ugo')).toBe('/login/mfa');
    const events = await auditEvents(t, tenant.accountId, 'account.remember_browser');
    expect(events.map((e) => e.detail)).toContainEqual(expect.objectContaining({ old: 7, new: 1, shortened: expect.any(Number) }));
  });

  it('is ended by Reset MFA: the next sign-in sets an authenticator up again', async () => {
    await setDays(7);
    const { id, secret } = await user('vera');
    const { browser } = await remember('vera', secret);
    const reset = await api(t, await admin(), 'POST', `/api/v1/users/${id}/reset-mfa`, {});
    expect(reset.statusCode, reset.body).toBe(200);
    expect(await rowsOf(id)).toEqual([]);
    expect(await signInAgain(browser, 'vera')).toBe('/login/mfa');
    expect((await browser.get('/login/mfa')).body).toContain('Set up');
    const events = await auditEvents(t, tenant.accountId, 'mfa.reset');
    expect(events.find((e) => e.targetUserId === id)?.detail).toMatchObject({ rememberedBrowsersForgotten: 1 });
  });

  it('is ended by a password change', async () => {
    await setDays(7);
    const { id, secret } = await user('walt');
    const { browser } = await remember('walt', secret);
    const NEW = 'a brand new passphrase for walt';
    const changed = await api(t, browser, 'POST', '/api/v1/password', { currentPassword: PASSWORD, newPassword: NEW });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(await rowsOf(id)).toEqual([]);
    expect(await signInAgain(browser, 'walt', NEW)).toBe('/login/mfa');
    const events = await auditEvents(t, tenant.accountId, 'user.password_change');
    expect(events.find((e) => e.actor === 'walt' && e.result === 'success')?.detail).toMatchObject({ rememberedBrowsersForgotten: 1 });
  });

  it('is ended by a Reset password link', async () => {
    await setDays(7);
    const { id, secret } = await user('xena');
    const { browser } = await remember('xena', secret);
    const issued = await api(t, await admin(), 'POST', `/api/v1/users/${id}/reset-password`, {});
    expect(issued.statusCode, issued.body).toBe(200);
    const link = new URL(issued.json<{ link: string }>().link);
    const other = new TestBrowser(t.app);
    await other.get(link.pathname);
    const NEW = 'xena chose this one herself';
    expect((await other.post(link.pathname, { newPassword: NEW, confirmation: NEW })).statusCode).toBeLessThan(400);
    expect(await rowsOf(id)).toEqual([]);
    expect(await signInAgain(browser, 'xena', NEW)).toBe('/login/mfa');
  });

  it('is ended by the user with Forget on Your sessions, which lists it; the API lists and forgets their own only', async () => {
    await setDays(7);
    const { id, secret } = await user('yann');
    const { browser } = await remember('yann', secret);
    const page = await browser.get('/account/sessions');
    expect(page.body).toContain('Remembered browsers');
    const browserId = (await rowsOf(id))[0]!.id;
    expect(page.body).toContain(`value="${browserId}"`);
    const forgot = await browser.post('/account/sessions/forget-browser', { browser: browserId });
    expect(forgot.headers.location).toBe('/account/sessions?ended=forgotten');
    expect(await rowsOf(id)).toEqual([]);
    expect((await browser.post('/account/sessions/forget-browser', { browser: browserId })).headers.location).toBe('/account/sessions?ended=forgotten-gone');
    expect(await signInAgain(browser, 'yann')).toBe('/login/mfa');
    expect(await auditEvents(t, tenant.accountId, 'mfa.browser_forgotten')).toContainEqual(expect.objectContaining({ targetUserId: id, detail: { browser: browserId, by: 'user' } }));

    // Through the API: listed, forgotten once; another user's id is not found and stays.
    const { browser: again } = await remember('yann', secret);
    const listed = (await again.json('GET', '/api/v1/remembered-browsers')).json<{ browsers: Array<{ id: string; expiresAt: string }> }>().browsers;
    expect(listed).toHaveLength(1);
    expect(listed[0]!.expiresAt).toBe(new Date((await rowsOf(id))[0]!.expires_at).toISOString());
    const { browser: zoe } = await remember('zoe', (await user('zoe')).secret);
    const zoesId = (await rowsOf(secrets.get('zoe')!.id))[0]!.id;
    expect((await api(t, again, 'DELETE', `/api/v1/remembered-browsers/${zoesId}`)).statusCode).toBe(404);
    expect(await signInAgain(zoe, 'zoe')).toBe('/');
    expect((await api(t, again, 'DELETE', `/api/v1/remembered-browsers/${listed[0]!.id}`)).json()).toEqual({ forgotten: true });
    expect((await api(t, again, 'DELETE', `/api/v1/remembered-browsers/${listed[0]!.id}`)).statusCode).toBe(404);
    expect(await signInAgain(again, 'yann')).toBe('/login/mfa');
  });

  it('is ended by the admin with Forget remembered browsers on Edit user, and through the API', async () => {
    await setDays(7);
    const { id, secret } = await user('abel');
    const { browser } = await remember('abel', secret);
    t.clock.advance(STEP);
    const adminPage = await signInByPage(t, tenant, 'alice', aliceSecret);
    const edit = await adminPage.get(`/manage/users/${id}`);
    expect(edit.body).toContain('1 browser signs abel in without a code.');
    const done = await postForm(t, adminPage, `/manage/users/${id}/forget-browsers`, []);
    expect(done.headers.location).toBe(`/manage/users/${id}?notice=browsers-forgotten`);
    expect(await rowsOf(id)).toEqual([]);
    expect(await signInAgain(browser, 'abel')).toBe('/login/mfa');
    expect(await auditEvents(t, tenant.accountId, 'mfa.browser_forgotten')).toContainEqual(
      expect.objectContaining({ actor: 'alice', targetUserId: id, detail: { forgotten: 1, by: 'admin' } }),
    );

    const { browser: again } = await remember('abel', secret);
    const res = await api(t, await admin(), 'POST', `/api/v1/users/${id}/forget-browsers`);
    expect(res.json()).toEqual({ forgotten: 1 });
    expect(await signInAgain(again, 'abel')).toBe('/login/mfa');
  });

  it('never skips the second factor of an admin who must use a security key (the factor policy), nor remembers theirs; an agent’s still skips', async () => {
    await setDays(7);
    await addUser(t, tenant, 'root', { role: 'admin' });
    t.clock.advance(STEP);
    const { secret } = await enrolByPage(t, tenant, 'root');
    const { browser } = await remember('root', secret);
    const agent = await remember('dora', (await user('dora')).secret);
    expect(await signInAgain(browser, 'root')).toBe('/');
    await t.deps.store.accessRules.putFactorPolicy(tenant.accountId, { allowed: ['totp', 'webauthn'], adminsNeedKey: true }, t.clock.now());
    try {
      // Root sets up a key (WebAuthn wants a host name: localhost), from a browser that holds root's remember cookie; asking to remember it does nothing.
      const keyed = new TestBrowser(t.app, 'localhost:3000');
      keyed.cookies.set(COOKIE, browser.cookies.get(COOKIE)!);
      expect(await signInAgain(keyed, 'root')).toBe('/login/mfa');
      const options = (await keyed.json('POST', '/api/v1/login/mfa/webauthn/options', {})).json<{ mode: string; options: CeremonyOptionsJSON }>();
      expect(options.mode).toBe('register');
      const key = new SoftKey('http://localhost:3000', 'localhost');
      const registered = await keyed.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential: key.register(options.options), rememberBrowser: true });
      expect(registered.statusCode, registered.body).toBe(200);
      expect(registered.json()).not.toHaveProperty('rememberedDays');
      // Root now holds a key that counts, and the browser still holds the token remembered with the app: the key is asked.
      expect(await signInAgain(keyed, 'root')).toBe('/login/mfa');
      expect((await keyed.get('/login/mfa')).body).not.toMatch(CHECKBOX);
      expect(await signInAgain(agent.browser, 'dora')).toBe('/');
    } finally {
      await t.deps.store.accessRules.putFactorPolicy(tenant.accountId, { allowed: ['totp', 'webauthn'], adminsNeedKey: false }, t.clock.now());
    }
  });

  it('is ended for everyone of the account when the setting is switched off', async () => {
    await setDays(7);
    const one = await remember('bea', (await user('bea')).secret);
    const two = await remember('carl', (await user('carl')).secret);
    const off = await setDays(0);
    expect(off.json<{ forgotten: number }>().forgotten).toBeGreaterThanOrEqual(2);
    expect(await t.db.database.db.selectFrom('remembered_browsers').select('id').execute()).toEqual([]);
    await setDays(7);
    expect(await signInAgain(one.browser, 'bea')).toBe('/login/mfa');
    expect(await signInAgain(two.browser, 'carl')).toBe('/login/mfa');
    const events = await auditEvents(t, tenant.accountId, 'account.remember_browser');
    expect(events.map((e) => e.detail)).toContainEqual(expect.objectContaining({ old: 7, new: 0, forgotten: off.json<{ forgotten: number }>().forgotten }));
  });

  it('is ended for everyone of the account when MFA is switched on again (a browser remembered before MFA went off skips nothing)', async () => {
    await setDays(7);
    const one = await remember('dina', (await user('dina')).secret);
    // MFA off (a current code: step-up), then on again.
    const alice = await admin();
    expect((await api(t, alice, 'PUT', '/api/v1/account/settings', { mfaEnabled: false, code: codeNow(t, aliceSecret) })).statusCode).toBe(200);
    expect((await api(t, alice, 'PUT', '/api/v1/account/settings', { mfaEnabled: true })).statusCode).toBe(200);
    expect(await rowsOf(secrets.get('dina')!.id)).toEqual([]);
    expect(await signInAgain(one.browser, 'dina')).toBe('/login/mfa');
  });
});

describe('Remember this browser behind https (sqlite)', () => {
  let t: TestApp;
  let tenant: Tenant;
  const origin = 'https://portcullis.example';
  const browser = () => {
    const b = new TestBrowser(t.app, 'portcullis.example');
    b.origin = origin;
    return b;
  };

  beforeAll(async () => {
    t = await buildTestApp('sqlite', { PORTCULLIS_PUBLIC_URL: origin });
    tenant = await mfaTenant(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('names the cookie __Host-portcullis-remember: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, Max-Age the days', async () => {
    const admin = browser();
    await admin.signIn(tenant.accountId, 'alice', PASSWORD);
    const secret = secretOf(scanQr((await admin.get('/login/mfa')).body));
    expect((await admin.post('/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(200);
    await admin.get('/manage/console/account-access-control');
    expect((await admin.post('/manage/console/account-access-control/remember-browser', { rememberBrowserDays: '30' })).statusCode).toBe(303);

    t.clock.advance(STEP);
    const b = browser();
    await b.signIn(tenant.accountId, 'alice', PASSWORD);
    expect((await b.get('/login/mfa')).body).toMatch(/Don’t ask for a code on this browser for 30 days/);
    const answer = await b.post('/login/mfa', { code: codeNow(t, secret), rememberBrowser: 'yes' });
    expect(answer.statusCode).toBe(303);
    expect(rememberCookieOf(answer)).toBeUndefined();
    const line = setCookieLines(answer).find((l) => l.startsWith('__Host-portcullis-remember='));
    expect(line).toBeDefined();
    expect(line).toMatch(/;\s*Secure(;|$)/i);
    expect(line).toMatch(/;\s*HttpOnly(;|$)/i);
    expect(line).toMatch(/;\s*SameSite=Lax(;|$)/i);
    expect(line).toMatch(/;\s*Path=\/(;|$)/i);
    expect(line).toMatch(/;\s*Max-Age=2592000(;|$)/i);
    expect(line).not.toMatch(/Domain=/i);
    b.cookies.delete('__Host-portcullis');
    const again = await b.signIn(tenant.accountId, 'alice', PASSWORD);
    expect(again.headers.location).toBe('/');
  });
});
