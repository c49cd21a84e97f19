import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import { clearRestriction } from '../../src/services/access-rules.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { decode } from '../admin/admin-support.ts';

// Issue 15: Account Access Control's allowed networks, over HTTP on both
// stores: a sign-in from outside refused after the password, one inside
// admitted (behind a trusted proxy through X-Forwarded-For, which is ignored
// from any other peer), a session that moves outside ends, and the admin is
// asked before saving a list that leaves their own address out.

const OFFICE = '203.0.113.0/24';
const OFFICE6 = '2001:db8:40::/48';
const PROXY = '10.0.0.2';

interface Call {
  ip?: string;
  xff?: string;
  cookie?: string;
}

function cookieOf(res: LightMyRequestResponse): string {
  const c = res.cookies.find((k) => k.name === 'portcullis');
  if (!c) throw new Error(`no session cookie: ${res.statusCode} ${res.body}`);
  return `portcullis=${c.value}`;
}

async function send(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT', url: string, body: unknown, call: Call = {}) {
  return app.inject({
    method,
    url,
    remoteAddress: call.ip ?? '127.0.0.1',
    headers: {
      host: '127.0.0.1:3000',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(call.cookie ? { cookie: call.cookie } : {}),
      ...(call.xff ? { 'x-forwarded-for': call.xff } : {}),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

describe.each(await storeKinds())('allowed networks (%s)', (kind) => {
  let t: TestApp;
  let tenant: Tenant;
  /** The same service behind a trusted proxy at 10.0.0.2. */
  let proxied: FastifyInstance;
  /** alice, the admin, signed in from the office (directly). */
  let admin = '';

  const login = (app: FastifyInstance, username: string, call: Call, password = PASSWORD) =>
    send(app, 'POST', '/api/v1/login', { accountId: tenant.accountId, username, password }, call);
  const audits = async (action: string) =>
    t.db.database.db.selectFrom('audit_events').select(['actor', 'ip', 'detail', 'result']).where('account_id', '=', tenant.accountId).where('action', '=', action).execute();
  const setNetwork = (body: unknown, call: Call = { ip: '203.0.113.10', cookie: admin }) => send(t.app, 'PUT', '/api/v1/account/access-rules/network', body, call);

  beforeAll(async () => {
    t = await buildTestApp(kind);
    tenant = await seedTenant(t.deps);
    proxied = await buildApp({ deps: t.deps, keys: parseKeyRing(`p:${randomBytes(32).toString('base64')}`), trustProxy: PROXY });
    await proxied.ready();
    admin = cookieOf(await login(t.app, 'alice', { ip: '203.0.113.10' }));
    const saved = await setNetwork({
      ranges: [
        { cidr: OFFICE, label: 'Head office' },
        { cidr: OFFICE6, label: 'Head office (IPv6)' },
      ],
      appliesTo: 'everyone',
    });
    expect(saved.statusCode, saved.body).toBe(200);
  });
  afterAll(async () => {
    await proxied.close();
    await t.close();
  });

  it('refuses a sign-in from outside after the password, audited with the address, and admits one inside', async () => {
    const outside = await login(t.app, 'bob', { ip: '198.51.100.7' });
    expect(outside.statusCode).toBe(403);
    expect(outside.json()).toMatchObject({ error: 'network_not_allowed', message: 'Sign-in is not allowed from this network' });
    expect(outside.cookies.find((c) => c.name === 'portcullis')).toBeUndefined();
    expect(await audits('sign_in.network_refused')).toEqual([expect.objectContaining({ actor: 'bob', ip: '198.51.100.7', result: 'failure' })]);
    // A wrong password from outside says only that: the network is told after the password.
    expect((await login(t.app, 'bob', { ip: '198.51.100.7' }, 'not the password at all')).statusCode).toBe(401);

    expect((await login(t.app, 'bob', { ip: '203.0.113.99' })).statusCode).toBe(200);
    expect((await login(t.app, 'bob', { ip: '2001:db8:40:7::1' })).statusCode).toBe(200);
    expect((await login(t.app, 'bob', { ip: '::ffff:203.0.113.5' })).statusCode).toBe(200);
  });

  it('says it on the sign-in page too', async () => {
    const browser = new TestBrowser(t.app, undefined, '198.51.100.8');
    const res = await browser.signIn(tenant.accountId, 'mia', PASSWORD);
    expect(res.statusCode).toBe(403);
    expect(decode(res.body)).toContain('Sign-in is not allowed from this network');
  });

  it('behind a trusted proxy, takes the client from X-Forwarded-For; from any other peer, ignores it', async () => {
    expect((await login(proxied, 'bob', { ip: PROXY, xff: '198.51.100.20' })).statusCode).toBe(403);
    expect((await login(proxied, 'bob', { ip: PROXY, xff: '203.0.113.20' })).statusCode).toBe(200);
    // Not the trusted proxy: the header is ignored, the peer is the client.
    expect((await login(proxied, 'bob', { ip: '198.51.100.30', xff: '203.0.113.20' })).statusCode).toBe(403);
    // Without PORTCULLIS_TRUST_PROXY at all (t.app), the same.
    expect((await login(t.app, 'bob', { ip: '198.51.100.31', xff: '203.0.113.20' })).statusCode).toBe(403);
    expect((await login(t.app, 'bob', { ip: '203.0.113.31', xff: '198.51.100.31' })).statusCode).toBe(200);
    const refused = (await audits('sign_in.network_refused')).map((a) => a.ip);
    expect(refused).toEqual(expect.arrayContaining(['198.51.100.20', '198.51.100.30', '198.51.100.31']));
  });

  it('ends a session used from outside, audited with the address', async () => {
    const bob = cookieOf(await login(proxied, 'bob', { ip: PROXY, xff: '203.0.113.40' }));
    expect((await send(proxied, 'GET', '/api/v1/session', undefined, { ip: PROXY, xff: '203.0.113.41', cookie: bob })).statusCode).toBe(200);
    expect((await send(proxied, 'GET', '/api/v1/session', undefined, { ip: PROXY, xff: '198.51.100.41', cookie: bob })).statusCode).toBe(401);
    // Ended, not merely refused: back inside, the cookie is worth nothing.
    expect((await send(proxied, 'GET', '/api/v1/session', undefined, { ip: PROXY, xff: '203.0.113.41', cookie: bob })).statusCode).toBe(401);
    expect(await audits('session.ended_network')).toEqual([expect.objectContaining({ actor: 'bob', ip: '198.51.100.41' })]);
  });

  it('asks before saving a list that leaves out the admin’s own address (API and page)', async () => {
    const before = await send(t.app, 'GET', '/api/v1/account/access-rules', undefined, { ip: '203.0.113.10', cookie: admin });
    const list = { ranges: [{ cidr: '192.0.2.0/24', label: 'Branch' }], appliesTo: 'everyone' };
    const asked = await setNetwork(list);
    expect(asked.statusCode).toBe(409);
    expect(asked.json()).toMatchObject({ error: 'own_address_excluded', message: expect.stringContaining('(203.0.113.10)') as unknown });
    expect((await send(t.app, 'GET', '/api/v1/account/access-rules', undefined, { ip: '203.0.113.10', cookie: admin })).body).toBe(before.body);
    // Everyone but admins does not exclude the admin: no question.
    expect((await setNetwork({ ...list, appliesTo: 'everyone_but_admins' })).statusCode).toBe(200);
    expect((await setNetwork({ ranges: [{ cidr: OFFICE, label: 'Head office' }, { cidr: OFFICE6, label: 'Head office (IPv6)' }], appliesTo: 'everyone' })).statusCode).toBe(200);

    const browser = new TestBrowser(t.app, undefined, '203.0.113.11');
    expect((await browser.signIn(tenant.accountId, 'alice', PASSWORD)).headers.location).toBe('/');
    await browser.get('/manage/console/account-access-control');
    const page = await browser.post('/manage/console/account-access-control/network', { ranges: '192.0.2.0/24 Branch', appliesTo: 'everyone' });
    expect(page.statusCode).toBe(409);
    const text = decode(page.body);
    expect(text).toContain('These ranges leave out your own address, 203.0.113.11');
    expect(text).toContain('Save and sign me out');
    expect((await audits('account.access_restriction')).length).toBe(3);
    const confirmed = await browser.post('/manage/console/account-access-control/network', { ranges: '192.0.2.0/24 Branch', appliesTo: 'everyone', confirmOwnAddress: 'yes' });
    expect(confirmed.statusCode).toBe(303);
    // Saved, and the admin's own session ended on the next request.
    expect((await browser.get('/manage/console/account-access-control')).headers.location).toMatch(/^\/login/);
    const last = (await audits('account.access_restriction')).find((a) => String(a.detail).includes('192.0.2.0/24') && String(a.detail).includes('"ownAddressExcluded":true'));
    expect(last).toBeDefined();

    // Break-glass: the CLI's service clears the list, audited.
    expect(await clearRestriction(t.deps, tenant.accountId, { userId: null, label: 'cli (test)', ip: null })).toEqual({ ok: true, removed: 1 });
    expect((await login(t.app, 'bob', { ip: '198.51.100.50' })).statusCode).toBe(200);
    expect(await clearRestriction(t.deps, '00000000', { userId: null, label: 'cli (test)', ip: null })).toEqual({ ok: false, reason: 'not_found' });
  });

  it('refuses a malformed list with a message per range, changing nothing', async () => {
    const admin2 = cookieOf(await login(t.app, 'alice', { ip: '198.51.100.60' }));
    const before = await send(t.app, 'GET', '/api/v1/account/access-rules', undefined, { ip: '198.51.100.60', cookie: admin2 });
    const res = await setNetwork(
      {
        ranges: [
          { cidr: '10.0.0.0/33', label: 'Bad' },
          { cidr: '127.1', label: 'Shorthand' },
          { cidr: '192.0.2.0/24', label: ' ' },
        ],
        appliesTo: 'everyone',
      },
      { ip: '198.51.100.60', cookie: admin2 },
    );
    expect(res.statusCode).toBe(400);
    const { message } = res.json<{ message: string }>();
    expect(message).toMatch(/^Range 1: “10\.0\.0\.0\/33” is not an IPv4 or IPv6 address range/);
    expect(message).toContain('Range 2: “127.1” is not');
    expect(message).toContain('Range 3: give it a label (e.g. Head office).');
    expect((await send(t.app, 'GET', '/api/v1/account/access-rules', undefined, { ip: '198.51.100.60', cookie: admin2 })).body).toBe(before.body);
  });
});
