import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  STEP,
  addUser,
  apiCode,
  apiPending,
  codeNow,
  enrolByApi,
  enrolByPage,
  mfaTenant,
  pendingBrowser,
  secondInstance,
  sessionsOf,
  signInByPage,
} from './support.ts';

// RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP
// after the successful validation has been issued for the first OTP". We go
// further, as the spec asks: no code of a step at or before the last accepted
// one. And under races, on both stores: one code, one session.

for (const kind of await storeKinds()) {
  describe(`a TOTP code is accepted at most once (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('refuses the code just used, also later within the same 30 seconds, and takes the next step’s code', async () => {
      await addUser(t, tenant, 'rita');
      const { secret } = await enrolByPage(t, tenant, 'rita');
      t.clock.advance(STEP);
      const code = codeNow(t, secret);
      await signInByPage(t, tenant, 'rita', secret);

      const { browser } = await pendingBrowser(t, tenant, 'rita');
      const replay = await browser.post('/login/mfa', { code });
      expect(replay.statusCode).toBe(401);
      expect(replay.body).toContain('That code didn’t work');
      expect((await browser.get('/')).headers.location).toBe('/login/mfa');

      t.clock.advance(STEP - (t.clock.now() % STEP) - 1); // the last millisecond of the same step
      expect((await browser.post('/login/mfa', { code })).statusCode).toBe(401);
      expect((await browser.get('/')).headers.location).toBe('/login/mfa');

      const next = await browser.post('/login/mfa', { code: codeNow(t, secret, 1) });
      expect(next.statusCode).toBe(303);
      expect(next.headers.location).toBe('/');
      expect((await browser.get('/')).statusCode).toBe(200);
    });

    it('refuses the code just used on the API too', async () => {
      await addUser(t, tenant, 'rolf');
      const { secret } = await enrolByApi(t, tenant, 'rolf');
      t.clock.advance(STEP);
      const code = codeNow(t, secret);
      const first = await apiPending(t, tenant, 'rolf');
      expect((await apiCode(first.client, code)).statusCode).toBe(200);

      const second = await apiPending(t, tenant, 'rolf');
      const replay = await apiCode(second.client, code);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toMatchObject({ error: 'invalid_code' });
      expect((await second.client.json('GET', '/api/v1/session')).json()).toMatchObject({ state: 'pending' });
    });

    it('tells the user when a used code is entered again, and not for a merely wrong code (ASVS 2.8.5)', async () => {
      await addUser(t, tenant, 'rune');
      const { secret } = await enrolByApi(t, tenant, 'rune');
      t.clock.advance(STEP);
      const code = codeNow(t, secret);
      const first = await apiPending(t, tenant, 'rune');
      expect((await apiCode(first.client, code)).statusCode).toBe(200);
      const before = t.notices.length;
      const wrong = await apiPending(t, tenant, 'rune');
      expect((await apiCode(wrong.client, code === '000000' ? '111111' : '000000')).statusCode).toBe(401);
      expect(t.notices.slice(before).filter((n) => n.to.username === 'rune')).toEqual([]);

      const thief = await apiPending(t, tenant, 'rune');
      const replay = await apiCode(thief.client, code);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toEqual({ error: 'invalid_code', message: expect.any(String) });
      // Sent beside the answer, not before it: the refusal takes no longer than any other.
      const told = await vi.waitFor(() => {
        const sent = t.notices.slice(before).filter((n) => n.to.username === 'rune');
        expect(sent).toHaveLength(1);
        return sent;
      });
      expect(told[0]!.subject).toMatch(/used sign-in code was entered again/);
      expect(told[0]!.text).toContain(thief.client.ip);
      expect(told[0]!.text).not.toContain(code);
      const events = await t.db.database.db.selectFrom('audit_events').select('detail').where('action', '=', 'mfa.verify').where('result', '=', 'failure').where('target_user_id', '=', (await t.deps.store.users.findByUsername(tenant.accountId, 'rune'))!.id).execute();
      expect(events.map((e) => String(e.detail))).toEqual([expect.stringContaining('mismatch'), expect.stringContaining('reused')]);
    });

    it('refuses the code that confirmed the enrolment', async () => {
      await addUser(t, tenant, 'romy');
      const { secret } = await enrolByPage(t, tenant, 'romy');
      const { browser } = await pendingBrowser(t, tenant, 'romy');
      expect((await browser.post('/login/mfa', { code: codeNow(t, secret) })).statusCode).toBe(401);
      expect((await browser.post('/login/mfa', { code: codeNow(t, secret, 1) })).headers.location).toBe('/');
    });

    it('refuses every code of a step at or before the last accepted one (RFC 6238 §5.2), while the next step works', async () => {
      await addUser(t, tenant, 'remy');
      const { secret } = await enrolByApi(t, tenant, 'remy');
      t.clock.advance(4 * STEP);
      // Accepted one step ahead (clock skew): the current and previous steps are now spent too.
      const ahead = await apiPending(t, tenant, 'remy');
      expect((await apiCode(ahead.client, codeNow(t, secret, 1))).statusCode).toBe(200);

      const late = await apiPending(t, tenant, 'remy');
      for (const offset of [0, -1, 1]) {
        const res = await apiCode(late.client, codeNow(t, secret, offset));
        expect(res.statusCode, `step offset ${offset}`).toBe(401);
        expect(res.json()).toMatchObject({ error: 'invalid_code' });
      }

      t.clock.advance(STEP);
      const again = await apiPending(t, tenant, 'remy');
      // Now the current step is the one accepted above: still refused.
      expect((await apiCode(again.client, codeNow(t, secret))).statusCode).toBe(401);
      const next = await apiCode(again.client, codeNow(t, secret, 1));
      expect(next.statusCode).toBe(200);
      expect(next.json()).toMatchObject({ state: 'authenticated' });
    });

    // A race is a matter of timing: each test runs several rounds (a fresh user and step each), so a
    // missing guard shows even when one round happens to be served in order. Within one Node process
    // SQLite serves them one after another anyway; PostgreSQL interleaves them for real.
    const rounds: Record<number, number> = { 2: 6, 5: 3 };

    for (const n of [2, 5]) {
      it(`lets exactly one of ${n} concurrent page sign-ins with one fresh code through`, async () => {
        for (let round = 0; round < rounds[n]!; round++) {
          const username = `pagerace${n}r${round}`;
          const userId = await addUser(t, tenant, username);
          const { secret } = await enrolByApi(t, tenant, username);
          t.clock.advance(STEP);
          const browsers = [];
          for (let i = 0; i < n; i++) browsers.push((await pendingBrowser(t, tenant, username)).browser);
          const fullBefore = (await sessionsOf(t, userId)).filter((s) => s.state === 'full').length;

          const code = codeNow(t, secret);
          const answers = await Promise.all(browsers.map((b) => b.post('/login/mfa', { code })));

          const through = answers.filter((r) => r.statusCode === 303 && r.headers.location === '/');
          expect(through, `round ${round}`).toHaveLength(1);
          expect(answers.filter((r) => r.statusCode === 401)).toHaveLength(n - 1);
          const home = await Promise.all(browsers.map((b) => b.get('/')));
          expect(home.filter((r) => r.statusCode === 200)).toHaveLength(1);
          const fullAfter = (await sessionsOf(t, userId)).filter((s) => s.state === 'full').length;
          expect(fullAfter - fullBefore).toBe(1);
        }
      });

      it(`lets exactly one of ${n} concurrent API sign-ins with one fresh code through`, async () => {
        for (let round = 0; round < rounds[n]!; round++) {
          const username = `apirace${n}r${round}`;
          const userId = await addUser(t, tenant, username);
          const { secret } = await enrolByApi(t, tenant, username);
          t.clock.advance(STEP);
          const clients = [];
          for (let i = 0; i < n; i++) clients.push((await apiPending(t, tenant, username)).client);
          const fullBefore = (await sessionsOf(t, userId)).filter((s) => s.state === 'full').length;

          const code = codeNow(t, secret);
          const answers = await Promise.all(clients.map((c) => apiCode(c, code)));

          expect(answers.filter((r) => r.statusCode === 200), `round ${round}`).toHaveLength(1);
          const refused = answers.filter((r) => r.statusCode !== 200);
          expect(refused).toHaveLength(n - 1);
          for (const r of refused) expect(r.json()).toMatchObject({ error: 'invalid_code' });
          const states = await Promise.all(clients.map(async (c) => (await c.json('GET', '/api/v1/session')).json<{ state?: string }>()));
          expect(states.filter((s) => s.state === 'authenticated')).toHaveLength(1);
          const fullAfter = (await sessionsOf(t, userId)).filter((s) => s.state === 'full').length;
          expect(fullAfter - fullBefore).toBe(1);
        }
      });
    }

    it('refuses on one instance a code just used on another, and lets one through when two instances race', async () => {
      const other = await secondInstance(t);
      try {
        await addUser(t, tenant, 'ivan');
        const { secret } = await enrolByApi(t, tenant, 'ivan');
        t.clock.advance(STEP);
        const code = codeNow(t, secret);
        const here = await apiPending(t, tenant, 'ivan');
        expect((await apiCode(here.client, code)).statusCode).toBe(200);
        const there = new TestBrowser(other.app);
        await there.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'ivan', password: PASSWORD });
        expect((await apiCode(there, code)).statusCode).toBe(401);

        for (let round = 0; round < 4; round++) {
          t.clock.advance(STEP);
          const a = (await apiPending(t, tenant, 'ivan')).client;
          const b = new TestBrowser(other.app);
          await b.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'ivan', password: PASSWORD });
          const fresh = codeNow(t, secret);
          const answers = await Promise.all([apiCode(a, fresh), apiCode(b, fresh)]);
          expect(answers.map((r) => r.statusCode).sort(), `round ${round}`).toEqual([200, 401]);
        }
      } finally {
        await other.close();
      }
    });
  });
}
