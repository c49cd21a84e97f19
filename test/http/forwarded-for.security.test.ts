import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import { forwardedAddress } from '../../src/domain/addresses.ts';
import { vouchedForwardedFor } from '../../src/http/plugins/forwarded-for.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { apiPost } from './http-support.ts';

// Issue 16, finding 9: behind a trusted proxy, only a valid IP address taken
// from X-Forwarded-For is an address.

describe('X-Forwarded-For entries', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['203.0.113.7:8080', '203.0.113.7'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:DB8:0:0::1]:443', '2001:db8::1'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['fe80::1%eth0', 'fe80::1'],
  ])('reads %j as %j', (entry, address) => {
    expect(forwardedAddress(entry)).toBe(address);
  });

  it.each(['+1 555 0100', 'unknown', '_hidden', '[203.0.113.7]', '127.1', '2130706433', '203.0.113.7:', '[2001:db8::1', '2001:db8::1]:443', '<script>', ''])('reads %j as no address', (entry) => {
    expect(forwardedAddress(entry)).toBeUndefined();
  });

  it('keeps the entries up to the nearest one that names no address', () => {
    expect(vouchedForwardedFor('198.51.100.1, [2001:db8::5]:443 , 10.0.0.2')).toEqual(['198.51.100.1', '2001:db8::5', '10.0.0.2']);
    expect(vouchedForwardedFor('198.51.100.1, unknown, 10.0.0.2')).toEqual(['10.0.0.2']);
    expect(vouchedForwardedFor('198.51.100.1, 10.0.0.2, +1 555 0100')).toEqual([]);
    expect(vouchedForwardedFor(' , ,')).toEqual([]);
  });
});

describe('a client address behind a trusted proxy', () => {
  let t: TestApp;
  let tenant: Tenant;
  let proxied: FastifyInstance;

  beforeAll(async () => {
    t = await buildTestApp('sqlite');
    tenant = await seedTenant(t.deps);
    proxied = await buildApp({ deps: t.deps, keys: parseKeyRing(`p:${randomBytes(32).toString('base64')}`), trustProxy: '127.0.0.1,10.0.0.2' });
    await proxied.ready();
  });
  afterAll(async () => {
    await proxied.close();
    await t.close();
  });

  const login = (username: string, password: string, forwardedFor: string, peer = '127.0.0.1') =>
    apiPost(proxied, '/api/v1/login', { accountId: tenant.accountId, username, password }, { ip: peer, headers: { 'x-forwarded-for': forwardedFor } });

  async function auditIps(username: string): Promise<string[]> {
    const rows = await t.db.database.db.selectFrom('audit_events').select('ip').where('action', '=', 'sign_in.password').where('actor', '=', username).orderBy('id').execute();
    return rows.map((r) => r.ip ?? '');
  }

  it('takes a valid forwarded address as the client', async () => {
    expect((await login('bob', PASSWORD, '198.51.100.23')).statusCode).toBe(200);
    expect(await auditIps('bob')).toEqual(['198.51.100.23']);
  });

  it('takes the hop that forwarded something that is no address, never the text itself', async () => {
    expect((await login('mia', PASSWORD, '+1 555 0100')).statusCode).toBe(200);
    expect(await auditIps('mia')).toEqual(['127.0.0.1']);
    // Through two proxies: the second (10.0.0.2) forwarded "unknown"; what came before it proves nothing.
    expect((await login('mia', PASSWORD, '198.51.100.66, unknown, 10.0.0.2')).statusCode).toBe(200);
    // Audit ids are random and the test clock stands still: compare without order.
    expect((await auditIps('mia')).sort()).toEqual(['10.0.0.2', '127.0.0.1']);
  });

  it('counts a bracketed IPv6 address, with or without a port, in its /64', async () => {
    for (let i = 0; i < 4; i++) await login(`v6-${i}`, 'a wrong password', i % 2 ? `[2001:db8:77:1::${i + 1}]:443` : `[2001:DB8:77:1:0:0:0:${i + 1}]`);
    const keys = await t.db.database.db.selectFrom('throttles').select(['subject', 'failures']).where('scope', '=', 'address').execute();
    expect(keys).toEqual([{ subject: '2001:db8:77:1::/64', failures: 4 }]);
    expect(await auditIps('v6-1')).toEqual(['2001:db8:77:1::2']);
  });
});
