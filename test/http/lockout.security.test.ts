import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { createUser } from '../../src/services/users.ts';
import { storeKinds } from '../helpers/stores.ts';
import { HOUR, MINUTE, addressSource, apiPost } from './http-support.ts';

const WRONG = 'definitely not the password';

for (const kind of await storeKinds()) {
  describe(`password lockout (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    // Per-user tests spread their attempts over many addresses, so only the
    // per-user throttle can be what locks.
    const nextIp = addressSource('10.50');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(async () => {
      await t?.close();
    });

    async function newUser(username: string) {
      const made = await createUser(t.deps, tenant.accountId, { username, role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
      if (!made.ok) throw new Error(`could not create ${username}`);
      return made.userId;
    }

    const api = (username: string, password: string, ip = nextIp()) =>
      apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username, password }, { ip });

    const page = (username: string, password: string, ip = nextIp()) =>
      new TestBrowser(t.app, undefined, ip).signIn(tenant.accountId, username, password);

    /** n wrong passwords, each from its own address; answers the last response. */
    async function fail(username: string, n: number): Promise<LightMyRequestResponse> {
      let last: LightMyRequestResponse | undefined;
      for (let i = 0; i < n; i++) last = await api(username, WRONG);
      if (!last) throw new Error('fail() needs n >= 1');
      return last;
    }

    function expectLockedApi(res: LightMyRequestResponse, retryAfter: number) {
      expect(res.statusCode).toBe(429);
      expect(res.json()).toMatchObject({ error: 'too_many_attempts', retryAfter });
      expect(res.headers['retry-after']).toBe(String(retryAfter));
      expect(res.cookies.find((c) => c.name === 'portcullis')).toBeUndefined();
    }

    it('refuses nine wrong passwords with 401 and still takes the right one', async () => {
      await newUser('nina');
      for (let i = 0; i < 9; i++) expect((await api('nina', WRONG)).statusCode).toBe(401);
      expect((await api('nina', PASSWORD)).statusCode).toBe(200);
    });

    it('locks a user after 10 wrong passwords: the right one then answers 429 on the API with retryAfter', async () => {
      await newUser('leo');
      for (let i = 0; i < 9; i++) expect((await api('leo', WRONG)).statusCode).toBe(401);
      await api('leo', WRONG); // the tenth
      expectLockedApi(await api('leo', PASSWORD), 15 * 60);
    });

    it('shows the locked user a clear page with the minutes left', async () => {
      await newUser('lena');
      await fail('lena', 10);
      const res = await page('lena', PASSWORD);
      expect(res.statusCode).toBe(429);
      expect(res.body).toContain('Too many failed attempts. Try again in 15 minutes.');
      expect(res.body).toContain('role="alert"');
      expect(res.headers.location).toBeUndefined();
      t.clock.advance(6 * MINUTE);
      const later = await page('lena', PASSWORD);
      expect(later.statusCode).toBe(429);
      expect(later.body).toContain('Try again in 9 minutes.');
      t.clock.advance(8 * MINUTE + 30_000);
      expect((await page('lena', PASSWORD)).body).toContain('Try again in 1 minute.');
    });

    it('lifts the lock after 15 minutes, and the right password works again', async () => {
      await newUser('luke');
      await fail('luke', 10);
      t.clock.advance(15 * MINUTE - 1000);
      expectLockedApi(await api('luke', PASSWORD), 1);
      t.clock.advance(1000);
      const res = await api('luke', PASSWORD);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ state: 'authenticated' });
    });

    it('holds the lock whichever address the attempt comes from, and whatever the letter case', async () => {
      await newUser('lola');
      await fail('lola', 10);
      expect((await api('lola', PASSWORD, '192.0.2.200')).statusCode).toBe(429);
      expect((await api('LOLA', PASSWORD)).statusCode).toBe(429);
      expect((await api(' lola ', PASSWORD)).statusCode).toBe(429);
    });

    it('does not count attempts made while locked, and doubles the next lock to 30 minutes', async () => {
      await newUser('dora');
      await fail('dora', 10);
      // Hammering during the lock neither extends it nor counts towards the next.
      for (let i = 0; i < 5; i++) {
        expectLockedApi(await api('dora', WRONG), 15 * 60 - i * 60);
        t.clock.advance(MINUTE);
      }
      t.clock.advance(10 * MINUTE);
      for (let i = 0; i < 9; i++) expect((await api('dora', WRONG)).statusCode).toBe(401);
      await api('dora', WRONG);
      expectLockedApi(await api('dora', PASSWORD), 30 * 60);
      t.clock.advance(15 * MINUTE);
      expect((await api('dora', PASSWORD)).statusCode).toBe(429);
      t.clock.advance(15 * MINUTE);
      expect((await api('dora', PASSWORD)).statusCode).toBe(200);
    });

    it('doubles each further lock up to 24 hours, never more', async () => {
      await newUser('max');
      const expectedMinutes = [15, 30, 60, 120, 240, 480, 960, 1440, 1440];
      for (const minutes of expectedMinutes) {
        await fail('max', 10);
        const res = await api('max', PASSWORD);
        expectLockedApi(res, minutes * 60);
        t.clock.advance(minutes * MINUTE);
      }
      expect((await api('max', PASSWORD)).statusCode).toBe(200);
    });

    it('resets the count on success: 9 failures, a success, 9 failures do not lock', async () => {
      await newUser('sam');
      await fail('sam', 9);
      expect((await api('sam', PASSWORD)).statusCode).toBe(200);
      for (let i = 0; i < 9; i++) expect((await api('sam', WRONG)).statusCode).toBe(401);
      expect((await api('sam', PASSWORD)).statusCode).toBe(200);
    });

    it('resets the doubling on success: the lock after a successful sign-in is 15 minutes again', async () => {
      await newUser('rita');
      await fail('rita', 10);
      t.clock.advance(15 * MINUTE);
      expect((await api('rita', PASSWORD)).statusCode).toBe(200);
      await fail('rita', 10);
      expectLockedApi(await api('rita', PASSWORD), 15 * 60);
    });

    it('locks an unknown username exactly like a real one, and lifts it the same way', async () => {
      await newUser('real');
      await fail('real', 10);
      await fail('ghost', 10);
      const realApi = await api('real', PASSWORD);
      const ghostApi = await api('ghost', PASSWORD);
      expectLockedApi(realApi, 15 * 60);
      expectLockedApi(ghostApi, 15 * 60);
      expect(ghostApi.json()).toEqual(realApi.json());

      const realPage = await page('real', PASSWORD);
      const ghostPage = await page('ghost', PASSWORD);
      expect(ghostPage.statusCode).toBe(429);
      expect(realPage.statusCode).toBe(429);
      const strip = (body: string) => body.replace(/value="[^"]*"/g, '');
      expect(strip(ghostPage.body)).toBe(strip(realPage.body));

      t.clock.advance(15 * MINUTE);
      expect((await api('ghost', PASSWORD)).statusCode).toBe(401);
      expect((await api('real', PASSWORD)).statusCode).toBe(200);
      // The ghost's next lock doubles, as a real user's would.
      await fail('ghost', 10);
      expectLockedApi(await api('ghost', WRONG), 30 * 60);
    });

    it('locks a username under an unknown account number too', async () => {
      for (let i = 0; i < 10; i++) {
        await apiPost(t.app, '/api/v1/login', { accountId: '99999999', username: 'alice', password: WRONG }, { ip: nextIp() });
      }
      const res = await apiPost(t.app, '/api/v1/login', { accountId: '99999999', username: 'alice', password: WRONG }, { ip: nextIp() });
      expectLockedApi(res, 15 * 60);
      // The real alice of the real account is another key, and unaffected.
      expect((await api('alice', PASSWORD)).statusCode).toBe(200);
    });

    it('counts 10 wrong passwords fired in parallel as 10', async () => {
      await newUser('pat');
      const results = await Promise.all(Array.from({ length: 10 }, () => api('pat', WRONG)));
      for (const res of results) expect([401, 429]).toContain(res.statusCode);
      expectLockedApi(await api('pat', PASSWORD), 15 * 60);
    });

    it('counts 10 parallel form attempts from separate browsers as 10 as well', async () => {
      await newUser('paula');
      const browsers = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const b = new TestBrowser(t.app, undefined, nextIp());
          await b.get('/login');
          return b;
        }),
      );
      await Promise.all(browsers.map((b) => b.post('/login', { accountId: tenant.accountId, username: 'paula', password: WRONG })));
      const res = await page('paula', PASSWORD);
      expect(res.statusCode).toBe(429);
    });

    it('evaluates at most 10 guesses however many arrive at once', async () => {
      // A burst must not buy more guesses than the limit: otherwise an attacker
      // sends 40 at a time and the lock only engages after all were checked.
      await newUser('burst');
      const guesses = Array.from({ length: 40 }, (_, i) => (i === 39 ? PASSWORD : `${WRONG} ${i}`));
      const results = await Promise.all(guesses.map((password) => api('burst', password)));
      // The 40th guess (the right password) comes after the limit: it must not sign in.
      expect(results[39]?.statusCode).toBe(429);
      const told = results.filter((r) => r.statusCode === 401).length;
      expect(told).toBeLessThanOrEqual(10);
      // And the burst left the user locked.
      expect((await api('burst', PASSWORD)).statusCode).toBe(429);
    });

    it('records one lock, not several, when parallel failures cross the limit', async () => {
      const userId = await newUser('quinn');
      await Promise.all(Array.from({ length: 12 }, () => api('quinn', WRONG)));
      const locks = await t.deps.store.audit.list(tenant.accountId, { action: 'sign_in.locked', userId, limit: 100, offset: 0 });
      expect(locks).toHaveLength(1);
    });

    describe('per client address', () => {
      it("does not let the attacker's own successful sign-ins wipe the failures of a password spray", async () => {
        // One valid credential (an insider's, or a throwaway account) must not
        // reset the address's count of failures against *other* usernames;
        // otherwise the per-address limit never stops a spray.
        const attackerIp = '198.51.100.50';
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 9; i++) await api(`victim${round}-${i}`, WRONG, attackerIp);
          await api('bob', PASSWORD, attackerIp);
        }
        expect((await api('victim-last', WRONG, attackerIp)).statusCode).toBe(429);
        expect((await api('bob', PASSWORD, attackerIp)).statusCode).toBe(429);
      });

      it('slows down an address that tries many usernames, while another address still signs in', async () => {
        const attackerIp = '198.51.100.7';
        for (let i = 0; i < 10; i++) await api(`spray${i}`, WRONG, attackerIp);
        // Any username, even with the right password, now waits 30 seconds from that address…
        expectLockedApi(await api('bob', PASSWORD, attackerIp), 30);
        const blocked = await page('mia', PASSWORD, attackerIp);
        expect(blocked.statusCode).toBe(429);
        expect(blocked.body).toContain('Try again in 1 minute.');
        // …while everyone else is unaffected.
        expect((await api('bob', PASSWORD, '198.51.100.8')).statusCode).toBe(200);
        expect((await page('mia', PASSWORD, '198.51.100.9')).statusCode).toBe(303);
        t.clock.advance(30_000);
        expect((await api('bob', PASSWORD, attackerIp)).statusCode).toBe(200);
      });

      it('locks the address across accounts (unknown account numbers count too)', async () => {
        const attackerIp = '198.51.100.20';
        for (let i = 0; i < 10; i++) {
          await apiPost(t.app, '/api/v1/login', { accountId: String(10_000_000 + i), username: 'admin', password: WRONG }, { ip: attackerIp });
        }
        expectLockedApi(await api('bob', PASSWORD, attackerIp), 30);
      });

      it('does not let X-Forwarded-For pick the address when no proxy is trusted', async () => {
        const attackerIp = '198.51.100.30';
        for (let i = 0; i < 10; i++) {
          await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: `xff${i}`, password: WRONG }, { ip: attackerIp, headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } });
        }
        const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD }, { ip: attackerIp, headers: { 'x-forwarded-for': '203.0.113.99' } });
        expectLockedApi(res, 30);
      });

      it('locks an IPv6 spray per /64: a new interface id per guess gets no fresh count', async () => {
        // One host may use any address of its /64 (privacy addresses, RFC 8981).
        for (let i = 0; i < 10; i++) await api(`v6spray${i}`, WRONG, `2001:db8:aa:1:${(i + 1).toString(16)}::${i + 7}`);
        expectLockedApi(await api('bob', PASSWORD, '2001:db8:aa:1:ffff:1:2:3'), 30);
        // The neighbouring /64 is another site: unaffected.
        expect((await api('bob', PASSWORD, '2001:db8:aa:2::1')).statusCode).toBe(200);
        // The lock and the audit event name the /64; the audit keeps each full address.
        const locks = await t.db.database.db.selectFrom('throttles').select('subject').where('scope', '=', 'address').where('subject', 'like', '2001:db8:aa:%').execute();
        expect(locks.map((l) => l.subject)).toEqual(['2001:db8:aa:1::/64']);
        const seen = await t.db.database.db.selectFrom('audit_events').select('ip').where('action', '=', 'sign_in.password').where('ip', 'like', '2001:db8:aa:1:%').execute();
        expect(new Set(seen.map((e) => e.ip)).size).toBe(10);
      });

      it('locks the address for the page form the same way', async () => {
        const attackerIp = '198.51.100.40';
        for (let i = 0; i < 10; i++) await page(`formspray${i}`, WRONG, attackerIp);
        const res = await page('bob', PASSWORD, attackerIp);
        expect(res.statusCode).toBe(429);
        expect((await page('bob', PASSWORD, '198.51.100.41')).statusCode).toBe(303);
      });
    });

    it('keeps locks in the database: a second instance on the same store refuses too', async () => {
      await newUser('ivan');
      await fail('ivan', 10);
      const { buildApp } = await import('../../src/app.ts');
      const { parseKeyRing } = await import('../../src/config/secret-key.ts');
      const other = await buildApp({ deps: t.deps, keys: parseKeyRing(`k2:${Buffer.alloc(32, 7).toString('base64')}`) });
      try {
        const res = await apiPost(other, '/api/v1/login', { accountId: tenant.accountId, username: 'ivan', password: PASSWORD }, { ip: nextIp() });
        expect(res.statusCode).toBe(429);
      } finally {
        await other.close();
      }
    });

    it('answers within a day at most, even after many locks', async () => {
      // Guard against an overflowing or wrapping doubling: the 12th lock still lasts 24 hours.
      await newUser('zed');
      let last = 0;
      for (let lock = 1; lock <= 12; lock++) {
        await fail('zed', 10);
        const res = await api('zed', PASSWORD);
        expect(res.statusCode).toBe(429);
        last = Number(res.headers['retry-after']);
        expect(last).toBeLessThanOrEqual(24 * 3600);
        t.clock.advance(last * 1000);
      }
      expect(last).toBe(24 * 3600);
      t.clock.advance(HOUR);
      expect((await api('zed', PASSWORD)).statusCode).toBe(200);
    });
  });
}
