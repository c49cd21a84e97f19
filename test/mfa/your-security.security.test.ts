import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../../src/domain/providers.ts';
import { createSession } from '../../src/services/sessions.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { MINUTE, STEP, addUser, apiCode, apiPending, auditEvents, codeNow, enrolByApi, enrolByPage, mfaTenant, signInByPage, wrongCode } from './support.ts';

// Your security's refusals (issue 14): removing a factor asks for a current
// one and never takes the last while the account requires MFA, even when two
// removals race; someone else's factor is not found; forms need their CSRF
// token; wrong codes count against the one second-factor lock, and adding an
// app of one's own does not clear it.

type Listed = { id: string; name: string; type: string };

for (const kind of await storeKinds()) {
  describe(`your security, refusals (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t, 'Guarded Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    const factorsIn = (userId: string, accountId = tenant.accountId) => t.deps.store.factors.forUser(accountId, userId);
    const listed = async (client: TestBrowser) => (await client.json('GET', '/api/v1/factors')).json<{ factors: Listed[] }>().factors;

    /** A user enrolled through the API who then added a second app; both secrets, and the signed-in client. */
    async function withTwoApps(username: string) {
      const userId = await addUser(t, tenant, username);
      t.clock.advance(STEP);
      const first = await enrolByApi(t, tenant, username);
      t.clock.advance(STEP);
      const started = await first.client.json('POST', '/api/v1/factors/totp', { code: codeNow(t, first.secret) });
      const second = secretOf(started.json<{ otpauthUri: string }>().otpauthUri);
      expect((await first.client.json('POST', '/api/v1/factors/totp/confirm', { code: codeNow(t, second), name: 'Spare' })).statusCode).toBe(201);
      const [app1, app2] = await listed(first.client);
      return { userId, client: first.client, secrets: [first.secret, second] as const, ids: [app1!.id, app2!.id] as const };
    }

    it('removes a factor only with a current code: none asks (403), a wrong one is refused (401) and counted; the right one removes, audited and told', async () => {
      const { userId, client, secrets, ids } = await withTwoApps('vera');
      t.clock.advance(STEP);
      const none = await client.json('DELETE', `/api/v1/factors/${ids[1]}`, {});
      expect(none.statusCode).toBe(403);
      expect(none.json()).toMatchObject({ error: 'step_up_required' });
      // An empty JSON body reads as {} (as for every route that takes none).
      const bare = await client.json('DELETE', `/api/v1/factors/${ids[1]}`, undefined, { 'content-type': 'application/json' });
      expect(bare.json()).toMatchObject({ error: 'step_up_required' });
      const wrong = await client.json('DELETE', `/api/v1/factors/${ids[1]}`, { code: wrongCode(t, secrets[0]) });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toMatchObject({ error: 'invalid_code' });
      expect(await factorsIn(userId)).toHaveLength(2);
      const stepUps = (await auditEvents(t, tenant.accountId, 'mfa.step_up')).filter((e) => e.targetUserId === userId);
      // Newest first: this failure, then the step-up that started adding the second app.
      expect(stepUps.map((e) => e.result)).toEqual(['failure', 'success']);
      expect(await t.deps.store.throttles.get({ scope: 'totp', accountId: tenant.accountId, subject: userId })).toMatchObject({ failures: 1 });

      const removed = await client.json('DELETE', `/api/v1/factors/${ids[1]}`, { code: codeNow(t, secrets[0]) });
      expect(removed.statusCode).toBe(200);
      expect(removed.json()).toMatchObject({ removed: { id: ids[1], name: 'Spare', type: 'totp' }, factorsLeft: 1 });
      expect((await factorsIn(userId)).map((f) => f.id)).toEqual([ids[0]]);
      const events = (await auditEvents(t, tenant.accountId, 'factor.remove')).filter((e) => e.targetUserId === userId);
      expect(events.map((e) => [e.result, e.actorUserId, e.detail])).toEqual([['success', userId, { factorId: ids[1], type: 'totp', name: 'Spare', factorsLeft: 1, recoveryCodesRevoked: 0 }]]);
      expect(t.notices.filter((n) => n.to.username === 'vera' && n.subject.startsWith('A second factor was removed')).map((n) => n.text)).toEqual([
        expect.stringContaining('Your authenticator app "Spare" was removed'),
      ]);
      // The removed app's codes no longer sign in; the other's do.
      t.clock.advance(STEP);
      const pending = await apiPending(t, tenant, 'vera');
      expect((await apiCode(pending.client, codeNow(t, secrets[1]))).statusCode).toBe(401);
      expect((await apiCode(pending.client, codeNow(t, secrets[0]))).statusCode).toBe(200);
    });

    it('refuses to remove the last factor while the account requires MFA (409), through the API and the page', async () => {
      const userId = await addUser(t, tenant, 'wim');
      t.clock.advance(STEP);
      const { client, secret } = await enrolByApi(t, tenant, 'wim');
      const [only] = await listed(client);
      const res = await client.json('DELETE', `/api/v1/factors/${only!.id}`, { code: codeNow(t, secret) });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ error: 'last_factor', message: expect.stringContaining('last second factor') });
      expect(await factorsIn(userId)).toHaveLength(1);
      // Refused before the code was looked at: nothing counted, nothing spent.
      expect(await t.deps.store.throttles.get({ scope: 'totp', accountId: tenant.accountId, subject: userId })).toBeUndefined();

      t.clock.advance(STEP);
      const { browser } = await enrolByPage(t, tenant, 'bob');
      const [bobs] = await t.deps.store.factors.forUser(tenant.accountId, tenant.agentId);
      await browser.get('/account/security');
      const page = await browser.post(`/account/security/factors/${bobs!.id}/remove`, {});
      expect(page.statusCode).toBe(409);
      expect(page.body).toContain('This is your only second factor and your account requires multi-factor authentication');
      expect(await factorsIn(tenant.agentId)).toHaveLength(1);
    });

    it('never leaves zero factors where MFA is required when two removals race (each with a current code of the other app)', async () => {
      const { userId, client, secrets, ids } = await withTwoApps('xena');
      t.clock.advance(STEP);
      const [a, b] = await Promise.all([
        client.json('DELETE', `/api/v1/factors/${ids[1]}`, { code: codeNow(t, secrets[0]) }),
        client.json('DELETE', `/api/v1/factors/${ids[0]}`, { code: codeNow(t, secrets[1]) }),
      ]);
      // The loser is refused either way: by the last-factor rule (409) when both
      // codes were checked before either removal committed, or at its code (401)
      // when the factor that code came from was already gone (a loaded machine).
      const loser = [a, b].find((r) => r.statusCode !== 200)!;
      expect([a.statusCode, b.statusCode].filter((s) => s === 200)).toHaveLength(1);
      expect([401, 409]).toContain(loser.statusCode);
      if (loser.statusCode === 409) expect(loser.json()).toMatchObject({ error: 'last_factor' });
      expect(await factorsIn(userId)).toHaveLength(1);
      expect((await auditEvents(t, tenant.accountId, 'factor.remove')).filter((e) => e.targetUserId === userId)).toHaveLength(1);
    });

    it('checks the last-factor rule again in the removal’s transaction: a factor removed while the code was checked counts', async () => {
      const { userId, client, secrets, ids } = await withTwoApps('yusuf');
      t.clock.advance(STEP);
      // The other app goes (another tab, committed) after this request's first look and its code, just before its transaction.
      const store = t.deps.store;
      const transaction = store.transaction.bind(store);
      store.transaction = async (fn) => {
        store.transaction = transaction;
        expect(await store.factors.deleteOne(tenant.accountId, userId, ids[0])).toBe(true);
        return transaction(fn);
      };
      try {
        const res = await client.json('DELETE', `/api/v1/factors/${ids[1]}`, { code: codeNow(t, secrets[0]) });
        expect(res.statusCode).toBe(409);
        expect(res.json()).toMatchObject({ error: 'last_factor' });
      } finally {
        store.transaction = transaction;
      }
      expect((await factorsIn(userId)).map((f) => f.id)).toEqual([ids[1]]);
    });

    it('answers 404 for a factor of another user or another account, and changes nothing', async () => {
      const { client } = await withTwoApps('yara');
      const otherId = await addUser(t, tenant, 'zack');
      t.clock.advance(STEP);
      const other = await enrolByApi(t, tenant, 'zack');
      const elsewhere = await mfaTenant(t, 'Elsewhere Inc');
      t.clock.advance(STEP);
      const foreign = await enrolByApi(t, elsewhere, 'bob');
      const targets = [
        { id: (await factorsIn(otherId))[0]!.id, owner: otherId, accountId: tenant.accountId },
        { id: (await factorsIn(elsewhere.agentId, elsewhere.accountId))[0]!.id, owner: elsewhere.agentId, accountId: elsewhere.accountId },
        { id: randomId({ bytes: (n) => randomBytes(n) }), owner: otherId, accountId: tenant.accountId },
      ];
      for (const target of targets) {
        for (const res of [
          await client.json('PATCH', `/api/v1/factors/${target.id}`, { name: 'Mine now' }),
          await client.json('DELETE', `/api/v1/factors/${target.id}`, { code: '123456' }),
        ]) {
          expect(res.statusCode).toBe(404);
          expect(res.json()).toEqual({ error: 'not_found', message: 'Not found.' });
        }
      }
      expect((await factorsIn(otherId)).map((f) => f.name)).toEqual(['Authenticator app']);
      expect((await factorsIn(elsewhere.agentId, elsewhere.accountId)).map((f) => f.name)).toEqual(['Authenticator app']);
      // The made-up code was never checked against anyone's lock.
      expect(await t.deps.store.throttles.get({ scope: 'totp', accountId: tenant.accountId, subject: otherId })).toBeUndefined();
      // Their owners still sign in with them.
      expect((await other.client.json('GET', '/api/v1/factors')).json<{ factors: Listed[] }>().factors).toHaveLength(1);
      expect((await foreign.client.json('GET', '/api/v1/factors')).json<{ factors: Listed[] }>().factors).toHaveLength(1);

      // The pages alike.
      t.clock.advance(STEP);
      const { browser } = await enrolByPage(t, tenant, 'mia');
      await browser.get('/account/security');
      expect((await browser.post(`/account/security/factors/${targets[0]!.id}/rename`, { name: 'Mine now' })).statusCode).toBe(404);
      expect((await browser.post(`/account/security/factors/${targets[0]!.id}/remove`, { confirm: '1', code: '123456' })).statusCode).toBe(404);
      expect((await browser.post('/account/security/factors/not-an-id/remove', {})).statusCode).toBe(404);
      expect((await factorsIn(otherId)).map((f) => f.name)).toEqual(['Authenticator app']);
    });

    it('refuses the forms without their CSRF token, and the API from another origin; nothing changes', async () => {
      const { userId, client, ids, secrets } = await withTwoApps('ada');
      // The same user in a browser: the page's forms.
      t.clock.advance(STEP);
      const browser = await signInByPage(t, tenant, 'ada', secrets[0]);
      await browser.get('/account/security');
      const factors = await factorsIn(userId);
      expect(factors).toHaveLength(2);
      const forms: Array<[string, Record<string, string>]> = [
        [`/account/security/factors/${ids[0]}/rename`, { name: 'Forged' }],
        [`/account/security/factors/${ids[1]}/remove`, {}],
        ['/account/security/recovery-codes', {}],
        ['/account/security/authenticator', {}],
        ['/account/security/authenticator/confirm', { code: '123456' }],
      ];
      for (const [url, fields] of forms) {
        const res = await browser.post(url, fields, { csrf: null });
        expect(res.statusCode, url).toBe(403);
      }
      for (const [method, url, body] of [
        ['PATCH', `/api/v1/factors/${ids[0]}`, { name: 'Forged' }],
        ['DELETE', `/api/v1/factors/${ids[1]}`, {}],
        ['POST', '/api/v1/recovery-codes', {}],
        ['POST', '/api/v1/factors/totp', {}],
      ] as const) {
        const res = await client.json(method, url, body, { origin: 'http://127.0.0.1:3001' });
        expect(res.statusCode, url).toBe(403);
        expect(res.json()).toMatchObject({ error: 'cross_origin' });
      }
      expect((await factorsIn(userId)).map((f) => f.name)).toEqual(['Authenticator app', 'Spare']);
    });

    it('counts wrong codes for a new app against the second-factor lock; adding the app does not clear the count; locked is 429 here and at sign-in', async () => {
      const userId = await addUser(t, tenant, 'bea');
      t.clock.advance(STEP);
      const { client, secret } = await enrolByApi(t, tenant, 'bea');
      t.clock.advance(STEP);
      const started = await client.json('POST', '/api/v1/factors/totp', { code: codeNow(t, secret) });
      const added = secretOf(started.json<{ otpauthUri: string }>().otpauthUri);
      const limit = t.settings.throttle.maxConsecutiveFailures;
      for (let i = 1; i < limit; i++) expect((await client.json('POST', '/api/v1/factors/totp/confirm', { code: wrongCode(t, added) })).statusCode).toBe(401);
      // A code from a secret this session chose itself proves nothing about the user: the count stays.
      expect((await client.json('POST', '/api/v1/factors/totp/confirm', { code: codeNow(t, added) })).statusCode).toBe(201);
      const locked = await client.json('POST', '/api/v1/recovery-codes', { code: wrongCode(t, secret) });
      expect(locked.statusCode).toBe(429);
      expect(locked.json()).toMatchObject({ error: 'too_many_attempts', retryAfter: 15 * 60 });
      expect((await auditEvents(t, tenant.accountId, 'mfa.locked')).filter((e) => e.targetUserId === userId)).toHaveLength(1);
      // The same lock: a right code is refused now, here and at sign-in.
      t.clock.advance(STEP);
      expect((await client.json('DELETE', `/api/v1/factors/${(await factorsIn(userId))[1]!.id}`, { code: codeNow(t, secret) })).statusCode).toBe(429);
      expect((await client.json('POST', '/api/v1/factors/totp', { code: codeNow(t, secret) })).statusCode).toBe(429);
      const pending = await apiPending(t, tenant, 'bea');
      expect((await apiCode(pending.client, codeNow(t, secret))).statusCode).toBe(429);
      expect(await factorsIn(userId)).toHaveLength(2);
    });

    it('a security-key-only user removes a key without a code while the key’s sign-in is fresh; later is told to sign in again (403)', async () => {
      const userId = await addUser(t, tenant, 'cleo');
      const now = t.clock.now();
      const keys = ['Yubikey', 'Laptop'].map((name, i) => ({
        id: randomId({ bytes: (n) => randomBytes(n) }),
        accountId: tenant.accountId,
        userId,
        type: 'webauthn' as const,
        name,
        createdAt: now + i,
        createdIp: null,
        lastUsedAt: now,
        credentialId: randomBytes(16).toString('base64url'),
        publicKey: randomBytes(32).toString('base64url'),
        signCount: 0,
        transports: [],
      }));
      for (const key of keys) await t.deps.store.factors.createWebAuthn(key);
      const session = await createSession(t.deps, { accountId: tenant.accountId, id: userId }, 'full', { ip: '127.0.0.1', agent: null }, [
        { kind: 'password', at: now },
        { kind: 'webauthn', at: now },
      ]);
      const client = new TestBrowser(t.app);
      client.cookies.set('portcullis', session.token);
      expect((await listed(client)).map((f) => [f.name, f.type])).toEqual([
        ['Yubikey', 'webauthn'],
        ['Laptop', 'webauthn'],
      ]);
      t.clock.advance(20 * MINUTE - 1);
      await client.json('GET', '/api/v1/factors'); // keeps the session from idling out
      t.clock.advance(1);
      const stale = await client.json('DELETE', `/api/v1/factors/${keys[1]!.id}`, {});
      expect(stale.statusCode).toBe(403);
      expect(stale.json()).toMatchObject({ error: 'reauthentication_required', message: expect.stringContaining('sign in again with your security key') });
      expect((await client.json('POST', '/api/v1/recovery-codes', {})).json()).toMatchObject({ error: 'reauthentication_required' });
      expect(await factorsIn(userId)).toHaveLength(2);

      const fresh = await createSession(t.deps, { accountId: tenant.accountId, id: userId }, 'full', { ip: '127.0.0.1', agent: null }, [
        { kind: 'password', at: t.clock.now() },
        { kind: 'webauthn', at: t.clock.now() },
      ]);
      client.cookies.set('portcullis', fresh.token);
      expect((await client.json('DELETE', `/api/v1/factors/${keys[1]!.id}`, {})).statusCode).toBe(200);
      expect((await factorsIn(userId)).map((f) => f.name)).toEqual(['Yubikey']);
      expect(t.notices.some((n) => n.to.username === 'cleo' && n.text.includes('Your security key "Laptop" was removed'))).toBe(true);
    });

    it('follows the account’s allowed factors: apps not allowed are listed as such, not added, and no longer the last factor; the last key stays', async () => {
      const strict = await mfaTenant(t, 'Keys Only Ltd');
      const userId = strict.agentId;
      t.clock.advance(STEP);
      const enrolled = await enrolByApi(t, strict, 'bob');
      const now = t.clock.now();
      await t.deps.store.factors.createWebAuthn({
        id: randomId({ bytes: (n) => randomBytes(n) }),
        accountId: strict.accountId,
        userId,
        type: 'webauthn',
        name: 'Only key',
        createdAt: now + 1,
        createdIp: null,
        lastUsedAt: null,
        credentialId: randomBytes(16).toString('base64url'),
        publicKey: randomBytes(32).toString('base64url'),
        signCount: 0,
        transports: [],
      });
      await t.deps.store.accessRules.putFactorPolicy(strict.accountId, { allowed: ['webauthn'], adminsNeedKey: false }, now);
      const session = await createSession(t.deps, { accountId: strict.accountId, id: userId }, 'full', { ip: '127.0.0.1', agent: null }, [
        { kind: 'password', at: now },
        { kind: 'webauthn', at: now },
      ]);
      const client = new TestBrowser(t.app);
      client.cookies.set('portcullis', session.token);
      const list = await listed(client);
      expect(list.map((f) => [f.name, f.type, (f as Listed & { allowed: boolean }).allowed])).toEqual([
        ['Authenticator app', 'totp', false],
        ['Only key', 'webauthn', true],
      ]);
      expect((await client.json('POST', '/api/v1/factors/totp', { code: codeNow(t, enrolled.secret) })).json()).toMatchObject({ error: 'factor_not_allowed' });
      const page = await client.get('/account/security');
      expect(page.body).toContain('Authenticator app (not allowed by your account)');
      expect(page.body).not.toContain('Add an authenticator app');
      expect(page.body).toContain('Add a security key or passkey');
      // The key is the only factor that counts: it stays.
      expect((await client.json('DELETE', `/api/v1/factors/${list[1]!.id}`, {})).json()).toMatchObject({ error: 'last_factor' });
      // The app counts for nothing: it may go, on the key's fresh sign-in (an app code would prove nothing here).
      const removed = await client.json('DELETE', `/api/v1/factors/${list[0]!.id}`, {});
      expect(removed.statusCode, removed.body).toBe(200);
      expect((await factorsIn(userId, strict.accountId)).map((f) => f.name)).toEqual(['Only key']);
      // The recovery codes stand in for the key: they stay.
      expect(await t.deps.store.recoveryCodes.countUnused(strict.accountId, userId)).toBe(10);
    });

    it('an admin who must use a security key keeps the last one, also where the account’s MFA is off', async () => {
      const open = await seedTenant(t.deps, 'Admins Use Keys Ltd');
      const now = t.clock.now();
      const key = {
        id: randomId({ bytes: (n) => randomBytes(n) }),
        accountId: open.accountId,
        userId: open.adminId,
        type: 'webauthn' as const,
        name: 'Admin key',
        createdAt: now,
        createdIp: null,
        lastUsedAt: null,
        credentialId: randomBytes(16).toString('base64url'),
        publicKey: randomBytes(32).toString('base64url'),
        signCount: 0,
        transports: [],
      };
      await t.deps.store.factors.createWebAuthn(key);
      await t.deps.store.accessRules.putFactorPolicy(open.accountId, { allowed: ['totp', 'webauthn'], adminsNeedKey: true }, now);
      const session = await createSession(t.deps, { accountId: open.accountId, id: open.adminId }, 'full', { ip: '127.0.0.1', agent: null }, [
        { kind: 'password', at: now },
        { kind: 'webauthn', at: now },
      ]);
      const client = new TestBrowser(t.app);
      client.cookies.set('portcullis', session.token);
      const res = await client.json('DELETE', `/api/v1/factors/${key.id}`, {});
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json()).toMatchObject({ error: 'last_factor' });
      // An authenticator app does not count for an admin here: the admin may not add one.
      expect((await client.json('POST', '/api/v1/factors/totp', {})).json()).toMatchObject({ error: 'factor_not_allowed' });
      expect(await factorsIn(open.adminId, open.accountId)).toHaveLength(1);
    });

    it('in an account without MFA: an app is added without a code (none is held) and comes with recovery codes; the last one may go, and its recovery codes with it', async () => {
      const open = await seedTenant(t.deps, 'Open Ltd');
      const client = new TestBrowser(t.app);
      expect((await client.json('POST', '/api/v1/login', { accountId: open.accountId, username: 'bob', password: PASSWORD })).json()).toEqual({ state: 'authenticated' });
      expect((await client.json('POST', '/api/v1/recovery-codes', {})).json()).toMatchObject({ error: 'no_factor' });
      const started = await client.json('POST', '/api/v1/factors/totp', {});
      expect(started.statusCode).toBe(200);
      const secret = secretOf(started.json<{ otpauthUri: string }>().otpauthUri);
      const confirmed = await client.json('POST', '/api/v1/factors/totp/confirm', { code: codeNow(t, secret) });
      expect(confirmed.statusCode).toBe(201);
      expect(confirmed.json<{ recoveryCodes: string[] }>().recoveryCodes).toHaveLength(10);
      expect(await t.deps.store.recoveryCodes.countUnused(open.accountId, open.agentId)).toBe(10);

      const [only] = await listed(client);
      expect((await client.json('DELETE', `/api/v1/factors/${only!.id}`, {})).json()).toMatchObject({ error: 'step_up_required' });
      t.clock.advance(STEP);
      const removed = await client.json('DELETE', `/api/v1/factors/${only!.id}`, { code: codeNow(t, secret) });
      expect(removed.statusCode).toBe(200);
      expect(removed.json()).toMatchObject({ factorsLeft: 0 });
      expect(await factorsIn(open.agentId, open.accountId)).toEqual([]);
      expect(await t.deps.store.recoveryCodes.countUnused(open.accountId, open.agentId)).toBe(0);
      const event = (await auditEvents(t, open.accountId, 'factor.remove'))[0];
      expect(event?.detail).toMatchObject({ factorsLeft: 0, recoveryCodesRevoked: 10 });
    });
  });
}
