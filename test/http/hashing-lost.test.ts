import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, withHasher } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addressSource, apiPost, cookieNamed, sessionCount } from './http-support.ts';

// When no hashing thread can answer (one died under the job, or the pool is
// shut), the password was never checked: the client is told to try again (503),
// never "wrong password", and nothing is recorded as a failed password. An
// unknown user gets the same answer, so the moment tells nothing about who exists.

for (const kind of await storeKinds()) {
  describe(`sign-in while password hashing is unavailable (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    const nextIp = addressSource('10.71');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(async () => {
      await t?.close();
    });

    const failures = () =>
      t.db.database.db.selectFrom('audit_events').select('id').where('action', '=', 'sign_in.password').where('result', '=', 'failure').execute();

    it('answers 503 with Retry-After to a known and an unknown user alike, and records no failed password', async () => {
      const sessionsBefore = await sessionCount(t);
      await withHasher(t, async () => {
        const ip = nextIp();
        for (const username of ['alice', 'nobody-by-this-name']) {
          const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username, password: PASSWORD }, { ip });
          expect(res.statusCode).toBe(503);
          expect(res.headers['retry-after']).toBe('1');
          expect(res.json()).toMatchObject({ error: 'unavailable' });
          expect(res.body).not.toMatch(/hashing|thread|closed|stack/i);
          expect(cookieNamed(res, 'portcullis')).toBeUndefined();
        }
        // The form: a page saying so, with the same status.
        const browser = new TestBrowser(t.app, '127.0.0.1:3000', nextIp());
        const page = await browser.signIn(tenant.accountId, 'alice', PASSWORD);
        expect(page.statusCode).toBe(503);
        expect(page.body).toContain('Try again in a moment');
        expect(page.body).not.toContain('Incorrect account number');
      });
      expect(await sessionCount(t)).toBe(sessionsBefore);
      expect(await failures()).toEqual([]);
      // Once hashing is back, the same user signs in at once: the lost attempts did not lock them.
      const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD }, { ip: nextIp() });
      expect(res.statusCode).toBe(200);
    });

    const login = (username: string, password: string) =>
      apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username, password }, { ip: nextIp() });
    const throttleOf = (subject: string) =>
      t.db.database.db.selectFrom('throttles').select(['failures', 'locked_until']).where('scope', '=', 'password').where('subject', '=', subject).executeTakeFirst();

    it('takes back the attempts it could not check: a client retrying through an outage is never locked out', async () => {
      await withHasher(t, async () => {
        // More tries than the lock allows (10).
        for (let i = 0; i < 15; i++) expect((await login('bob', PASSWORD)).statusCode).toBe(503);
      });
      expect(await throttleOf('bob')).toMatchObject({ failures: 0, locked_until: null });
      expect((await login('bob', PASSWORD)).statusCode).toBe(200);
    });

    it('lifts the lock set by the attempt it takes back, and keeps the real failures before it', async () => {
      for (let i = 0; i < 9; i++) expect((await login('mia', 'a wrong password here')).statusCode).toBe(401);
      await withHasher(t, async () => {
        // The tenth attempt would lock; it is not checked, so it is taken back, lock and all.
        expect((await login('mia', PASSWORD)).statusCode).toBe(503);
      });
      expect(await throttleOf('mia')).toMatchObject({ failures: 9, locked_until: null });
      // The nine wrong passwords still count: the next wrong one locks.
      expect((await login('mia', 'a wrong password here')).statusCode).toBe(429);
    });

    it('still answers a wrong password as wrong while hashing works (the test above is not vacuous)', async () => {
      const before = (await failures()).length;
      const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: 'not the password at all' }, { ip: nextIp() });
      expect(res.statusCode).toBe(401);
      expect((await failures()).length).toBe(before + 1);
    });
  });
}
