import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import { createUser } from '../../src/services/users.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { apiPost } from './http-support.ts';

// A contact centre behind one NAT address: a shift signing in at once must not
// lock the address, because successes in flight are not failures. And behind a
// proxy on the same host that nobody declared trusted, every client has the
// proxy's address (issue 16, finding 3): a handful of failures from it must
// slow it down, not lock every tenant out for long.

for (const kind of await storeKinds()) {
  describe(`many people behind one address (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      for (let i = 0; i < 30; i++) {
        const made = await createUser(t.deps, tenant.accountId, { username: `shift${i}`, role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
        if (!made.ok) throw new Error(made.errors.join('; '));
      }
    });
    afterAll(() => t.close());

    it('signs in 30 agents at once from one address, and the next one too', async () => {
      const nat = '198.51.100.200';
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => new TestBrowser(t.app, undefined, nat).json('POST', '/api/v1/login', { accountId: tenant.accountId, username: `shift${i}`, password: PASSWORD })),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(30).fill(200));
      const next = await new TestBrowser(t.app, undefined, nat).json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD });
      expect(next.statusCode).toBe(200);
    });

    describe('behind a proxy on the same host that is not trusted', () => {
      const proxy = '127.0.0.1';
      const viaProxy = (body: object, client: string) => apiPost(t.app, '/api/v1/login', body, { ip: proxy, headers: { 'x-forwarded-for': client } });
      const warnings = () => t.logs.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.level === 40 && /not a trusted proxy/.test(entry.msg));

      it('slows the address down for seconds, not minutes, however often it fails', async () => {
        const other = await seedTenant(t.deps, 'Other Tenant');
        for (let round = 0; round < 3; round++) {
          // Ten failures for a made-up account, from "everyone" at once.
          for (let i = 0; i < 10; i++) await viaProxy({ accountId: '99999999', username: `nobody${i}`, password: 'a wrong password' }, `203.0.113.${i + 1}`);
          const waiting = await viaProxy({ accountId: other.accountId, username: 'alice', password: PASSWORD }, '198.51.100.77');
          expect(waiting.statusCode).toBe(429);
          expect(waiting.json()).toMatchObject({ retryAfter: 30 });
          t.clock.advance(30_000);
          // A real admin of another tenant then signs in: the lock never doubles.
          expect((await viaProxy({ accountId: other.accountId, username: 'alice', password: PASSWORD }, '198.51.100.77')).statusCode).toBe(200);
        }
        // Per user, the wall stays: ten wrong passwords for one user lock that user for 15 minutes.
        for (let i = 0; i < 10; i++) {
          await apiPost(t.app, '/api/v1/login', { accountId: other.accountId, username: 'mia', password: 'a wrong password' }, { ip: `192.0.2.${i + 1}` });
        }
        const locked = await apiPost(t.app, '/api/v1/login', { accountId: other.accountId, username: 'mia', password: PASSWORD }, { ip: '192.0.2.99' });
        expect(locked.json()).toMatchObject({ retryAfter: 15 * 60 });
      });

      it('logs the untrusted forwarding header once, at warning level', async () => {
        // The test before sent forty such requests.
        expect(warnings()).toHaveLength(1);
        await viaProxy({ accountId: tenant.accountId, username: 'bob', password: PASSWORD }, '198.51.100.5');
        await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: proxy, headers: { forwarded: 'for=198.51.100.5' } });
        expect(warnings()).toHaveLength(1);
        expect(warnings()[0]).toMatchObject({ peer: proxy });
      });

      it('never lets a forwarded request read /metrics as local', async () => {
        const metrics = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: proxy, headers });
        expect((await metrics({})).statusCode).toBe(200);
        expect((await metrics({ 'x-forwarded-for': '203.0.113.9' })).statusCode).toBe(404);
        expect((await metrics({ forwarded: 'for=203.0.113.9' })).statusCode).toBe(404);
        expect((await metrics({ 'x-forwarded-for': '127.0.0.1' })).statusCode).toBe(404);
      });

      it('never lets a trusted proxy make a request local by forwarding what is no address', async () => {
        const proxied = await buildApp({ deps: t.deps, keys: parseKeyRing(`p:${randomBytes(32).toString('base64')}`), trustProxy: proxy });
        try {
          const metrics = (headers: Record<string, string>) => proxied.inject({ method: 'GET', url: '/metrics', remoteAddress: proxy, headers });
          expect((await metrics({})).statusCode).toBe(200);
          expect((await metrics({ 'x-forwarded-for': '127.0.0.1' })).statusCode).toBe(200);
          expect((await metrics({ 'x-forwarded-for': '203.0.113.9' })).statusCode).toBe(404);
          expect((await metrics({ 'x-forwarded-for': 'unknown' })).statusCode).toBe(404);
          expect((await metrics({ forwarded: 'for=203.0.113.9' })).statusCode).toBe(404);
          // A trusted proxy forwarding its clients is no misconfiguration: nothing more is logged.
          expect(warnings()).toHaveLength(1);
        } finally {
          await proxied.close();
        }
      });
    });
  });
}
