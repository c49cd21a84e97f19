import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/storage/records.ts';
import { describeAgent } from '../../src/services/device-names.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { STEP, auditEvents, codeNow, enrolByApi, mfaTenant } from '../mfa/support.ts';

// "Your sessions" (OWASP ASVS 4.0.3 3.3.4): a user sees where they are signed
// in and signs out the sessions they do not recognise, their own only.

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';
const SAFARI_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15';

const cookieOf = (browser: TestBrowser) => [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

/** A full session of the tenant's agent manager written straight to the store: states no request makes. */
async function plantSession(t: TestApp, tenant: Tenant, overrides: Partial<Session>): Promise<void> {
  const now = t.clock.now();
  await t.deps.store.sessions.create({
    id: randomBytes(32).toString('hex'),
    accountId: tenant.accountId,
    userId: tenant.managerId,
    state: 'full',
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 3_600_000,
    methods: [{ kind: 'password', at: now }],
    codeFailures: 0,
    enrolment: null,
    client: { ip: null, agent: null },
    ...overrides,
  });
}

type Listed = { id: string; current: boolean; createdAt: string; lastSeenAt: string; ip: string | null; device: string | null };

for (const kind of await storeKinds()) {
  describe(`your sessions (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Sessions Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** A full session of `username` (MFA off) signed in through the API from that address and browser. */
    async function signedIn(username: string, ip: string, agent: string, accountId = tenant.accountId): Promise<TestBrowser> {
      const browser = new TestBrowser(t.app, '127.0.0.1:3000', ip);
      const res = await browser.json('POST', '/api/v1/login', { accountId, username, password: PASSWORD }, { 'user-agent': agent });
      expect(res.statusCode).toBe(200);
      return browser;
    }
    const list = async (browser: TestBrowser) => {
      const res = await browser.json('GET', '/api/v1/sessions');
      expect(res.statusCode).toBe(200);
      return (res.json<{ sessions: Listed[] }>()).sessions;
    };
    const isSignedIn = async (browser: TestBrowser) => (await browser.json('GET', '/api/v1/session')).statusCode === 200;

    it('lists where the user is signed in: device, address, times, and which session is this one; no one else’s', async () => {
      const laptop = await signedIn('mia', '203.0.113.10', FIREFOX_WINDOWS);
      t.clock.advance(60_000);
      const phone = await signedIn('mia', '198.51.100.20', CHROME_ANDROID);
      await signedIn('bob', '192.0.2.30', SAFARI_MAC); // another user's session
      const seen = await list(laptop);
      // This request has just used the laptop's session too: compare regardless of order.
      const byIp = [...seen].sort((a, b) => a.ip!.localeCompare(b.ip!));
      expect(byIp.map((s) => [s.device, s.ip, s.current])).toEqual([
        ['Chrome on Android', '198.51.100.20', false],
        ['Firefox on Windows', '203.0.113.10', true],
      ]);
      expect(seen.every((s) => /^[A-Za-z0-9_-]{22}$/.test(s.id))).toBe(true);
      expect(new Date(byIp[0]!.createdAt).getTime()).toBe(new Date(byIp[1]!.createdAt).getTime() + 60_000);
      // The handle is not the session's id (the token's hash) nor anything a cookie holds.
      const stored = await t.db.database.db.selectFrom('sessions').select('id').execute();
      expect(stored.some((r) => seen.some((s) => r.id.includes(s.id)))).toBe(false);
      // The most recently used first: the phone (used by this request), then the laptop.
      t.clock.advance(t.settings.session.touchIntervalMs);
      expect((await list(phone)).map((s) => [s.ip, s.current])).toEqual([
        ['198.51.100.20', true],
        ['203.0.113.10', false],
      ]);

      const page = await phone.get('/account/sessions');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1>Your sessions</h1>');
      expect(page.body).toContain('Firefox on Windows');
      expect(page.body).toContain('203.0.113.10');
      expect(page.body).toContain('This session');
      expect(page.body).toContain('Sign out of all other sessions');
      expect(page.body).not.toContain('Safari on macOS');
    });

    it('signs out one other session from the page: that browser is signed out, this one is not, and it is audited', async () => {
      const desk = await signedIn('alice', '203.0.113.40', FIREFOX_WINDOWS);
      const stolen = await signedIn('alice', '198.51.100.66', CHROME_ANDROID);
      await desk.get('/account/sessions');
      const target = (await list(desk)).find((s) => !s.current)!;
      const res = await desk.post('/account/sessions/end', { session: target.id });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/account/sessions?ended=one');
      expect(await isSignedIn(stolen)).toBe(false);
      expect(await isSignedIn(desk)).toBe(true);
      expect((await desk.get('/account/sessions?ended=one')).body).toContain('That session is signed out.');
      const events = await auditEvents(t, tenant.accountId, 'session.end');
      expect(events.at(-1)).toMatchObject({ actor: 'alice', target: 'alice', ip: '203.0.113.40', result: 'success', detail: { which: 'one', ended: 1 } });
      // Again: gone already, nothing else ends.
      const again = await desk.post('/account/sessions/end', { session: target.id });
      expect(again.headers.location).toBe('/account/sessions?ended=gone');
      expect(await isSignedIn(desk)).toBe(true);
    });

    it("cannot end another user's session, nor its own through this form (that is Sign out)", async () => {
      const bob = await signedIn('bob', '192.0.2.50', SAFARI_MAC);
      const bobsHandle = (await list(bob)).find((s) => s.current)!.id;
      const alice = await signedIn('alice', '203.0.113.51', FIREFOX_WINDOWS);
      await alice.get('/account/sessions');
      expect((await alice.post('/account/sessions/end', { session: bobsHandle })).headers.location).toBe('/account/sessions?ended=gone');
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${bobsHandle}`, remoteAddress: alice.ip, headers: { cookie: cookieOf(alice) } })).statusCode).toBe(404);
      expect(await isSignedIn(bob)).toBe(true);
      const own = (await list(alice)).find((s) => s.current)!.id;
      expect((await alice.post('/account/sessions/end', { session: own })).headers.location).toBe('/account/sessions?ended=gone');
      expect(await isSignedIn(alice)).toBe(true);
    });

    it('signs out every other session at once, keeping this one; the API does the same', async () => {
      const here = await signedIn('bob', '192.0.2.60', FIREFOX_WINDOWS);
      const elsewhere = [await signedIn('bob', '192.0.2.61', CHROME_ANDROID), await signedIn('bob', '192.0.2.62', SAFARI_MAC)];
      await here.get('/account/sessions');
      const res = await here.post('/account/sessions/end-others', {});
      expect(res.headers.location).toBe('/account/sessions?ended=others');
      for (const browser of elsewhere) expect(await isSignedIn(browser)).toBe(false);
      expect((await list(here)).map((s) => s.current)).toEqual([true]);

      const more = [await signedIn('bob', '192.0.2.63', CHROME_ANDROID), await signedIn('bob', '192.0.2.64', SAFARI_MAC)];
      const one = (await list(here)).find((s) => s.ip === '192.0.2.63')!;
      const deleted = await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${one.id}`, remoteAddress: here.ip, headers: { cookie: cookieOf(here) } });
      expect(deleted.json()).toEqual({ ended: 1 });
      expect(await isSignedIn(more[0]!)).toBe(false);
      expect((await here.json('POST', '/api/v1/sessions/end-others', {})).json()).toEqual({ ended: 1 });
      expect(await isSignedIn(more[1]!)).toBe(false);
      expect(await isSignedIn(here)).toBe(true);
    });

    it('refuses the forms without their CSRF token and ends nothing', async () => {
      const here = await signedIn('mia', '203.0.113.70', FIREFOX_WINDOWS);
      const other = await signedIn('mia', '203.0.113.71', CHROME_ANDROID);
      await here.get('/account/sessions');
      const handle = (await list(here)).find((s) => !s.current)!.id;
      expect((await here.post('/account/sessions/end-others', {}, { csrf: null })).statusCode).toBe(403);
      expect((await here.post('/account/sessions/end', { session: handle }, { csrf: null })).statusCode).toBe(403);
      expect(await isSignedIn(other)).toBe(true);
    });

    it("cannot end a session of another account's user with a real handle of it", async () => {
      const elsewhere = await seedTenant(t.deps, 'Elsewhere Ltd');
      const theirs = await signedIn('alice', '192.0.2.90', SAFARI_MAC, elsewhere.accountId);
      const theirHandle = (await list(theirs)).find((s) => s.current)!.id;
      const ours = await signedIn('alice', '203.0.113.91', FIREFOX_WINDOWS);
      await ours.get('/account/sessions');
      expect((await ours.post('/account/sessions/end', { session: theirHandle })).headers.location).toBe('/account/sessions?ended=gone');
      await ours.post('/account/sessions/end-others', {});
      expect(await isSignedIn(theirs)).toBe(true);
    });

    it('shows a hostile User-Agent as text, cut short', async () => {
      const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>${'A'.repeat(100)}`;
      const planted = await signedIn('bob', '192.0.2.95', hostile);
      const page = await planted.get('/account/sessions');
      expect(page.body).not.toContain('<script>alert(1)');
      expect(page.body).not.toContain('<img src=x');
      expect(page.body).toContain('&lt;script>alert(1)&lt;/script>');
      expect((await list(planted)).find((s) => s.current)!.device).toHaveLength(60);
    });

    it('does not list a session past its absolute end, even if used a moment ago', async () => {
      const here = await signedIn('mia', '203.0.113.96', FIREFOX_WINDOWS);
      const now = t.clock.now();
      await plantSession(t, tenant, { createdAt: now - 13 * 3_600_000, expiresAt: now - 1, client: { ip: '203.0.113.97', agent: 'Old' } });
      expect((await list(here)).map((s) => s.ip)).not.toContain('203.0.113.97');
    });

    it('does not list sessions past their idle limit', async () => {
      const old = await signedIn('alice', '203.0.113.80', SAFARI_MAC);
      t.clock.advance(t.settings.session.idleTimeoutMs + 1);
      const fresh = await signedIn('alice', '203.0.113.81', FIREFOX_WINDOWS);
      expect((await list(fresh)).map((s) => s.ip)).toEqual(['203.0.113.81']);
      expect(await isSignedIn(old)).toBe(false);
    });
  });

  describe(`your sessions after a second factor (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t, 'Factor Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    it("keeps the password step's browser and takes the code step's address", async () => {
      const { secret } = await enrolByApi(t, tenant, 'bob');
      t.clock.advance(STEP);
      const client = new TestBrowser(t.app, '127.0.0.1:3000', '198.51.100.90');
      expect((await client.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { 'user-agent': SAFARI_MAC })).json()).toEqual({
        state: 'mfa_required',
      });
      expect((await client.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(200);
      const seen = ((await client.json('GET', '/api/v1/sessions')).json<{ sessions: Listed[] }>()).sessions;
      expect(seen.find((s) => s.current)).toMatchObject({ device: 'Safari on macOS', ip: '198.51.100.90' });
      // The pending sign-in is not a session to list.
      expect(seen.filter((s) => s.ip === '198.51.100.90')).toHaveLength(1);
    });

    it('lists no session without a verified factor, and "all others" also ends pending sign-ins', async () => {
      const { secret } = await enrolByApi(t, tenant, 'mia');
      t.clock.advance(STEP);
      const here = new TestBrowser(t.app, '127.0.0.1:3000', '198.51.100.100');
      await here.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'mia', password: PASSWORD });
      expect((await here.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(200);
      // A full session that never had its second factor (a sign-in racing MFA being switched on).
      await plantSession(t, tenant, { client: { ip: '198.51.100.101', agent: null } });
      // Listed: this one and the enrolment's; not the one without a factor.
      expect(((await here.json('GET', '/api/v1/sessions')).json<{ sessions: Listed[] }>()).sessions.map((s) => s.ip)).toEqual(['198.51.100.100', '127.0.0.1']);
      // Someone with mia's password, part-way through signing in.
      const intruder = new TestBrowser(t.app, '127.0.0.1:3000', '192.0.2.102');
      expect((await intruder.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'mia', password: PASSWORD })).json()).toEqual({ state: 'mfa_required' });
      // The enrolment's session, the one without a factor, and the pending sign-in.
      expect((await here.json('POST', '/api/v1/sessions/end-others', {})).json()).toEqual({ ended: 3 });
      const late = await intruder.json('POST', '/api/v1/login/mfa', { code: codeNow(t, secret, 1) });
      expect(late.statusCode).toBe(401);
      expect((await here.json('GET', '/api/v1/session')).statusCode).toBe(200);
    });
  });
}

describe('describeAgent (the device name in the list)', () => {
  it('names common browsers and systems, and keeps an unknown header short', () => {
    expect(describeAgent(FIREFOX_WINDOWS)).toBe('Firefox on Windows');
    expect(describeAgent(CHROME_ANDROID)).toBe('Chrome on Android');
    expect(describeAgent(SAFARI_MAC)).toBe('Safari on macOS');
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0')).toBe('Edge on Windows');
    expect(describeAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1')).toBe('Safari on iOS');
    expect(describeAgent('curl/8.5.0')).toBe('curl');
    expect(describeAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36')).toBe('Chrome on Linux');
    expect(describeAgent(undefined)).toBeNull();
    expect(describeAgent('   ')).toBeNull();
    expect(describeAgent(`x${'y'.repeat(500)}`)).toHaveLength(60);
    expect(describeAgent('evil\u0000agent\nwith controls')).toBe('evil agent with controls');
  });
});
