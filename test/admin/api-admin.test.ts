import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, api, enrol, expectJsonError, lockByWrongCodes, MINUTE, signedIn, snapshot, STEP, wrongCode } from './admin-support.ts';

// The admin half of the JSON API (SPEC "Interfaces": admin endpoints for
// account settings, users and MFA reset mirror the pages): each endpoint's
// happy path, its 4xx answers as {error, message}, and the OpenAPI document.

const NEW_PASSWORD = 'a perfectly long passphrase';

interface UserJson {
  id: string;
  username: string;
  role: string;
  state: string;
  email: string | null;
  skills: string[];
  mfa: { state: string; enrolledAt: string | null; lockedUntil: string | null };
}
interface UserList {
  users: UserJson[];
  total: number;
  page: number;
  pages: number;
}

/** A browser holding just the session cookie a response set. */
function browserWithCookieOf(t: TestApp, res: { cookies: Array<{ name: string; value: string }> }): TestBrowser {
  const browser = new TestBrowser(t.app);
  const cookie = res.cookies.find((c) => c.name === 'portcullis');
  if (!cookie) throw new Error('no session cookie was set');
  browser.cookies.set(cookie.name, cookie.value);
  return browser;
}

for (const kind of await storeKinds()) {
  describe(`admin API (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;
    const ids: Record<string, string> = {};
    let erinLockedUntil: number;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      ids.carol = await addUser(t, tenant.accountId, 'carol');
      ids.erin = await addUser(t, tenant.accountId, 'erin');
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
      await enrol(t, tenant.accountId, 'carol', '198.51.100.20');
      const erin = await enrol(t, tenant.accountId, 'erin');
      t.clock.advance(STEP);
      await lockByWrongCodes(t, tenant.accountId, 'erin', erin.secret);
      erinLockedUntil = (await t.deps.store.throttles.lockedUntil('totp', tenant.accountId, [ids.erin ?? ''], t.clock.now())).get(ids.erin ?? '') ?? 0;
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, false);
      admin = await signedIn(t, tenant.accountId, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    const list = async (qs = '') => {
      const res = await api(t, admin, 'GET', `/api/v1/users${qs}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<UserList>();
    };

    it('GET /api/v1/account answers the account and its MFA setting', async () => {
      const res = await api(t, admin, 'GET', '/api/v1/account');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ accountId: tenant.accountId, name: 'Acme Support', mfaEnabled: false });
    });

    it('GET /api/v1/users lists the users with role, state, skills and MFA state', async () => {
      const all = await list();
      expect(all).toMatchObject({ total: 5, page: 1, pages: 1 });
      expect(all.users.map((u) => u.username)).toEqual(['alice', 'bob', 'carol', 'erin', 'mia']);
      const by = (name: string) => all.users.find((u) => u.username === name);
      expect(by('bob')).toEqual({
        id: tenant.agentId,
        username: 'bob',
        role: 'agent',
        state: 'active',
        inactiveSince: null,
        email: null,
        skills: ['Billing'],
        mfa: { state: 'not_enrolled', enrolledAt: null, lockedUntil: null, factorTypes: [] },
      });
      expect(by('carol')?.mfa).toEqual({ state: 'enrolled', enrolledAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), lockedUntil: null, factorTypes: ['totp'] });
      expect(by('erin')?.mfa).toEqual({ state: 'locked', enrolledAt: expect.any(String), lockedUntil: new Date(erinLockedUntil).toISOString(), factorTypes: ['totp'] });
    });

    it('GET /api/v1/users filters like the page: search, MFA state, pages', async () => {
      expect((await list('?search=AR')).users.map((u) => u.username)).toEqual(['carol']);
      expect((await list('?search=i')).users.map((u) => u.username)).toEqual(['alice', 'erin', 'mia']);
      expect((await list('?search=%25')).total).toBe(0);
      expect((await list('?mfa=not_enrolled')).users.map((u) => u.username)).toEqual(['alice', 'bob', 'mia']);
      expect((await list('?mfa=enrolled')).users.map((u) => u.username)).toEqual(['carol', 'erin']);
      expect((await list('?mfa=locked')).users.map((u) => u.username)).toEqual(['erin']);
      expect((await list('?mfa=enrolled&search=car')).users.map((u) => u.username)).toEqual(['carol']);
      expect(await list('?page=2')).toEqual({ users: [], total: 5, page: 2, pages: 1 });
    });

    it('GET /api/v1/users pages 25 at a time', async () => {
      const paging = await seedTenant(t.deps, 'Paging Co');
      for (let i = 1; i <= 27; i++) await addUser(t, paging.accountId, `user-${String(i).padStart(2, '0')}`);
      const pager = await signedIn(t, paging.accountId, 'alice');
      const first = (await api(t, pager, 'GET', '/api/v1/users')).json<UserList>();
      const second = (await api(t, pager, 'GET', '/api/v1/users?page=2')).json<UserList>();
      expect(first).toMatchObject({ total: 30, page: 1, pages: 2 });
      expect(first.users).toHaveLength(25);
      expect(second).toMatchObject({ total: 30, page: 2, pages: 2 });
      expect(second.users).toHaveLength(5);
      expect(new Set([...first.users, ...second.users].map((u) => u.id)).size).toBe(30);
      expect((await api(t, pager, 'GET', '/api/v1/users?search=user-&page=2')).json()).toMatchObject({ total: 27, page: 2, pages: 2 });
    });

    it('GET /api/v1/users refuses bad query values with 400', async () => {
      for (const qs of ['?mfa=bogus', '?page=0', '?page=-1', '?page=abc', `?search=${'x'.repeat(65)}`]) {
        expectJsonError(await api(t, admin, 'GET', `/api/v1/users${qs}`), 400, 'invalid_request');
      }
    });

    it('POST /api/v1/users adds a user (201) who can then sign in', async () => {
      const res = await api(t, admin, 'POST', '/api/v1/users', {
        username: 'frank',
        role: 'agent-manager',
        password: NEW_PASSWORD,
        email: 'frank@example.com',
        skills: ['Billing', 'Night Shift'],
      });
      expect(res.statusCode, res.body).toBe(201);
      const { userId } = res.json<{ userId: string }>();
      expect(userId).toMatch(/^[0-9a-f]{32}$/);
      const got = (await api(t, admin, 'GET', `/api/v1/users/${userId}`)).json<UserJson>();
      expect(got).toMatchObject({ id: userId, username: 'frank', role: 'agent-manager', state: 'active', email: 'frank@example.com', skills: ['Billing', 'Night Shift'] });
      const login = await api(t, null, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'frank', password: NEW_PASSWORD });
      // An admin chose the password: the user must change it first (issue 15).
      expect(login.json()).toEqual({ state: 'password_change_required' });
    });

    it('POST /api/v1/users refuses bad bodies with 400/415 {error, message} and creates nothing', async () => {
      const before = await snapshot(t, tenant.accountId);
      const good = { username: 'gina', role: 'agent', password: NEW_PASSWORD };
      const bad: Array<[unknown, RegExp | undefined]> = [
        [{ ...good, username: 5 }, undefined],
        [{ ...good, role: 'owner' }, undefined],
        [{ ...good, password: ['x'] }, undefined],
        [{ username: 'gina', role: 'agent' }, undefined],
        [{ ...good, isAdmin: true }, undefined],
        [{ ...good, skills: 'Billing' }, undefined],
        [{ ...good, email: 42 }, undefined],
        [[good], undefined],
        [{ ...good, password: 'short' }, /at least 12 characters/],
        [{ ...good, password: '123456789012' }, /too common/],
        [{ ...good, username: 'BOB' }, /already taken/],
        [{ ...good, username: 'gi na' }, /Username must be/],
        [{ ...good, email: 'not an email' }, /Enter a valid email address/],
      ];
      for (const [body, message] of bad) {
        const res = await api(t, admin, 'POST', '/api/v1/users', body);
        expectJsonError(res, 400, 'invalid_request');
        if (message) expect((res.json<{ message: string }>()).message, JSON.stringify(body)).toMatch(message);
      }
      expectJsonError(await api(t, admin, 'POST', '/api/v1/users', '{"username": "gina",', { raw: true }), 400, 'invalid_request');
      expectJsonError(
        await api(t, admin, 'POST', '/api/v1/users', new URLSearchParams(good).toString(), { raw: true, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        'unsupported_media_type',
      );
      expect(await snapshot(t, tenant.accountId)).toEqual(before);
    });

    it('GET /api/v1/users/:id answers one user with enrolment details; 404 for an unknown id', async () => {
      const res = await api(t, admin, 'GET', `/api/v1/users/${ids.carol}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        id: ids.carol,
        username: 'carol',
        mfa: { state: 'enrolled' },
        enrolledFrom: '198.51.100.20',
        recoveryCodesLeft: 10,
      });
      expect((await api(t, admin, 'GET', `/api/v1/users/${tenant.agentId}`)).json()).toMatchObject({ enrolledFrom: null, recoveryCodesLeft: 0 });
      expectJsonError(await api(t, admin, 'GET', `/api/v1/users/${'0'.repeat(32)}`), 404, 'not_found');
      for (const id of ['nope', 'A'.repeat(32), '0'.repeat(31)]) {
        const bad = await api(t, admin, 'GET', `/api/v1/users/${id}`);
        expect([400, 404]).toContain(bad.statusCode);
        expectJsonError(bad, bad.statusCode);
      }
    });

    it('PATCH /api/v1/users/:id changes role, state, email and skills, leaving out what is not sent', async () => {
      const skills = await t.deps.store.skills.list(tenant.accountId);
      const night = skills.find((s) => s.name === 'Night Shift')?.id ?? '';
      const res = await api(t, admin, 'PATCH', `/api/v1/users/${tenant.agentId}`, { role: 'agent-manager', email: 'bob@example.com', skillIds: [night] });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: tenant.agentId, username: 'bob', role: 'agent-manager', state: 'active', email: 'bob@example.com', skills: ['Night Shift'] });

      // Only the state: everything else stays.
      const bob = await signedIn(t, tenant.accountId, 'bob');
      const disabled = await api(t, admin, 'PATCH', `/api/v1/users/${tenant.agentId}`, { state: 'disabled' });
      expect(disabled.json()).toMatchObject({ role: 'agent-manager', state: 'disabled', email: 'bob@example.com', skills: ['Night Shift'] });
      expectJsonError(await api(t, bob, 'GET', '/api/v1/session'), 401, 'unauthenticated');
      expect((await api(t, null, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD })).statusCode).toBe(401);

      const back = await api(t, admin, 'PATCH', `/api/v1/users/${tenant.agentId}`, { state: 'active', role: 'agent', email: null, skillIds: [] });
      expect(back.json()).toMatchObject({ role: 'agent', state: 'active', email: null, skills: [] });
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'user.update', userId: tenant.agentId, limit: 1, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', target: 'bob', result: 'success' });
    });

    it('PATCH /api/v1/users/:id refuses bad bodies (400), unknown users (404) and self-demotion, changing nothing', async () => {
      const before = await snapshot(t, tenant.accountId);
      const target = `/api/v1/users/${tenant.agentId}`;
      for (const body of [
        { role: 'owner' },
        { state: 'gone' },
        { role: 1 },
        { skillIds: 'abc' },
        { skillIds: [1, 2] },
        { email: false },
        { username: 'renamed' },
        { role: 'agent', extra: true },
        'just a string',
      ]) {
        expectJsonError(await api(t, admin, 'PATCH', target, body), 400, 'invalid_request');
      }
      const email = await api(t, admin, 'PATCH', target, { email: 'not an email' });
      expectJsonError(email, 400, 'invalid_request');
      expect((email.json<{ message: string }>()).message).toMatch(/valid email/);
      expectJsonError(
        await api(t, admin, 'PATCH', target, 'role=admin', { raw: true, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        'unsupported_media_type',
      );
      expectJsonError(await api(t, admin, 'PATCH', `/api/v1/users/${'0'.repeat(32)}`, { role: 'agent' }), 404, 'not_found');
      for (const body of [{ role: 'agent' }, { state: 'disabled' }]) {
        const self = await api(t, admin, 'PATCH', `/api/v1/users/${tenant.adminId}`, body);
        expectJsonError(self, 400, 'invalid_request');
        expect((self.json<{ message: string }>()).message).toMatch(/cannot change your own role or disable yourself/);
      }
      expect(await snapshot(t, tenant.accountId)).toEqual(before);
    });

    it('POST /api/v1/users/:id/reset-mfa revokes the authenticator and ends the sessions; 404 and 400 otherwise', async () => {
      const carol = await t.db.database.db.selectFrom('sessions').select('id').where('user_id', '=', ids.carol ?? '').execute();
      const res = await api(t, admin, 'POST', `/api/v1/users/${ids.carol}/reset-mfa`, {});
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ reset: true, sessionsEnded: carol.length });
      expect(await t.deps.store.factors.forUser(tenant.accountId, ids.carol ?? '')).toEqual([]);
      expect(await t.deps.store.recoveryCodes.countUnused(tenant.accountId, ids.carol ?? '')).toBe(0);
      expect(await t.db.database.db.selectFrom('sessions').select('id').where('user_id', '=', ids.carol ?? '').execute()).toEqual([]);
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'mfa.reset', userId: ids.carol ?? '', limit: 1, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', actorUserId: tenant.adminId, target: 'carol', result: 'success' });

      const before = await snapshot(t, tenant.accountId);
      expectJsonError(await api(t, admin, 'POST', `/api/v1/users/${'0'.repeat(32)}/reset-mfa`, {}), 404, 'not_found');
      expectJsonError(await api(t, admin, 'POST', `/api/v1/users/${ids.erin}/reset-mfa`, { force: true }), 400, 'invalid_request');
      expectJsonError(await api(t, admin, 'POST', `/api/v1/users/${ids.erin}/reset-mfa`, { code: 123456 }), 400, 'invalid_request');
      expect(await snapshot(t, tenant.accountId)).toEqual(before);
      expect(await t.deps.store.factors.forUser(tenant.accountId, ids.erin ?? '')).toHaveLength(1);
    });

    it('POST /api/v1/users/:id/reset-mfa takes a call without a body (the route declares its body optional)', async () => {
      // Only a step-up needs a body ({code}); `curl -X POST …/reset-mfa` with the session cookie is a whole request.
      const bodiless = await api(t, admin, 'POST', `/api/v1/users/${ids.carol}/reset-mfa`);
      expect(bodiless.statusCode, bodiless.body).toBe(200);
      expect(bodiless.json()).toEqual({ reset: true, sessionsEnded: 0 });
    });

    it('GET /api/v1/audit answers events newest first, filtered by user and action', async () => {
      const all = (await api(t, admin, 'GET', '/api/v1/audit')).json<{ events: Array<Record<string, unknown>>; page: number }>();
      expect(all.page).toBe(1);
      expect(all.events.length).toBeGreaterThan(10);
      expect(all.events[0]).toEqual({
        at: expect.any(String),
        actor: expect.any(String),
        action: expect.any(String),
        target: expect.anything(),
        ip: expect.anything(),
        result: expect.stringMatching(/^(success|failure)$/),
        detail: expect.anything(),
      });
      const resets = (await api(t, admin, 'GET', '/api/v1/audit?action=mfa.reset')).json<{ events: Array<{ action: string; target: string }> }>();
      const stored = await t.deps.store.audit.list(tenant.accountId, { action: 'mfa.reset', limit: 100, offset: 0 });
      expect(resets.events.length).toBe(stored.length);
      expect(resets.events.length).toBeGreaterThan(0);
      expect(resets.events.every((e) => e.action === 'mfa.reset' && e.target === 'carol')).toBe(true);
      const erin = (await api(t, admin, 'GET', `/api/v1/audit?userId=${ids.erin}`)).json<{ events: Array<{ actor: string; target: string | null; action: string }> }>();
      expect(erin.events.length).toBeGreaterThan(0);
      expect(erin.events.every((e) => e.actor === 'erin' || e.target === 'erin')).toBe(true);
      expect(erin.events.map((e) => e.action)).toContain('mfa.locked');
      const locked = (await api(t, admin, 'GET', `/api/v1/audit?userId=${ids.erin}&action=mfa.locked`)).json<{ events: unknown[] }>();
      expect(locked.events).toHaveLength(1);
      for (const qs of ['?userId=nope', '?page=0', '?page=x', `?action=${'a'.repeat(65)}`]) {
        expectJsonError(await api(t, admin, 'GET', `/api/v1/audit${qs}`), 400, 'invalid_request');
      }
    });

    it('POST /api/v1/users/:id/reset-mfa also lifts a code lock', async () => {
      expect(((await api(t, admin, 'GET', `/api/v1/users/${ids.erin}`)).json<UserJson>()).mfa.state).toBe('locked');
      expect((await api(t, admin, 'POST', `/api/v1/users/${ids.erin}/reset-mfa`, {})).statusCode).toBe(200);
      expect(((await api(t, admin, 'GET', `/api/v1/users/${ids.erin}`)).json<UserJson>()).mfa).toEqual({ state: 'not_enrolled', enrolledAt: null, lockedUntil: null, factorTypes: [] });
      expect((await list('?mfa=locked')).users).toEqual([]);
    });

    it('PUT /api/v1/account/settings refuses bad bodies and changes nothing; saving the same value is a no-op', async () => {
      const events = (await t.deps.store.audit.list(tenant.accountId, { action: 'account.mfa_enabled', limit: 10, offset: 0 })).length;
      for (const body of [{}, { mfaEnabled: 'true' }, { mfaEnabled: 1 }, { mfaEnabled: null }, { mfaEnabled: true, extra: 1 }, [true]]) {
        expectJsonError(await api(t, admin, 'PUT', '/api/v1/account/settings', body), 400, 'invalid_request');
      }
      expectJsonError(
        await api(t, admin, 'PUT', '/api/v1/account/settings', 'mfaEnabled=on', { raw: true, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        'unsupported_media_type',
      );
      expectJsonError(await api(t, admin, 'PUT', '/api/v1/account/settings'), 400, 'invalid_request');
      expect((await t.deps.store.accounts.get(tenant.accountId))?.mfaEnabled).toBe(false);
      const same = await api(t, admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: false });
      expect(same.statusCode).toBe(200);
      expect(same.json()).toEqual({ mfaEnabled: false, sessionsEnded: 0, state: 'authenticated' });
      expect((await t.deps.store.audit.list(tenant.accountId, { action: 'account.mfa_enabled', limit: 10, offset: 0 })).length).toBe(events);
      expect((await api(t, admin, 'GET', '/api/v1/account')).statusCode).toBe(200);
    });

    it('PUT {mfaEnabled:true} from an admin without a second factor answers mfa_enrollment_required, ends the old session, and set-up continues', async () => {
      const agent = await signedIn(t, tenant.accountId, 'mia');
      const res = await api(t, admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: true });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ mfaEnabled: boolean; state: string; sessionsEnded: number }>();
      expect(body).toMatchObject({ mfaEnabled: true, state: 'mfa_enrollment_required' });
      expect(body.sessionsEnded).toBeGreaterThanOrEqual(2); // the admin's own and mia's, at least
      expect((await t.deps.store.accounts.get(tenant.accountId))?.mfaEnabled).toBe(true);
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'account.mfa_enabled', limit: 1, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', actorUserId: tenant.adminId, result: 'success' });

      // The old session goes no further, nor does mia's.
      expectJsonError(await api(t, admin, 'GET', '/api/v1/account'), 401, 'unauthenticated');
      expect((await admin.get('/manage/users')).headers.location).toBe('/login');
      expectJsonError(await api(t, agent, 'GET', '/api/v1/session'), 401, 'unauthenticated');

      // The new cookie is a pending sign-in that leads to set-up.
      const next = browserWithCookieOf(t, res);
      expect((await api(t, next, 'GET', '/api/v1/session')).json()).toMatchObject({ state: 'pending', username: 'alice' });
      expectJsonError(await api(t, next, 'GET', '/api/v1/account'), 401);
      const offer = (await api(t, next, 'GET', '/api/v1/login/mfa/enrollment')).json<{ otpauthUri: string }>();
      const secret = secretOf(offer.otpauthUri);
      const done = await api(t, next, 'POST', '/api/v1/login/mfa', { code: oathCode(secret, t.clock.now()) });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.json()).toMatchObject({ state: 'authenticated', recoveryCodes: expect.any(Array) });
      const full = browserWithCookieOf(t, done);
      expect((await api(t, full, 'GET', '/api/v1/account')).json()).toMatchObject({ mfaEnabled: true });
    });

    it('lists every admin endpoint in /api/openapi.json', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json<{ paths: Record<string, Record<string, { tags?: string[]; security?: unknown[] }>> }>();
      const expected: Array<[string, string]> = [
        ['/api/v1/account', 'get'],
        ['/api/v1/account/settings', 'put'],
        ['/api/v1/users', 'get'],
        ['/api/v1/users', 'post'],
        ['/api/v1/users/{id}', 'get'],
        ['/api/v1/users/{id}', 'patch'],
        ['/api/v1/users/{id}/reset-mfa', 'post'],
        ['/api/v1/audit', 'get'],
      ];
      for (const [path, method] of expected) {
        const operation = doc.paths[path]?.[method];
        expect(operation, `${method.toUpperCase()} ${path}`).toBeDefined();
        expect(operation?.tags).toContain('admin');
        expect(operation?.security).toEqual([{ session: [] }]);
      }
    });

    it('describes what GET /api/v1/audit answers in /api/openapi.json', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{
        paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: { properties?: Record<string, { items?: { required?: string[] } }> } }> }> }>>;
      }>();
      const schema = doc.paths['/api/v1/audit']?.get?.responses?.['200']?.content?.['application/json']?.schema;
      expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(['events', 'page']);
      expect(schema?.properties?.events?.items?.required?.sort()).toEqual(['action', 'actor', 'at', 'detail', 'ip', 'result', 'target']);
    });
  });

  describe(`admin API step-up for Reset MFA (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps, 'Step Co');
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('asks for a current code when the admin verified their second factor more than 15 minutes ago', async () => {
      const { secret, browser: admin } = await enrol(t, tenant.accountId, 'alice');
      await enrol(t, tenant.accountId, 'bob');
      // Fresh: no code needed.
      t.clock.advance(MINUTE);
      await enrol(t, tenant.accountId, 'mia');
      expect((await api(t, admin, 'POST', `/api/v1/users/${tenant.managerId}/reset-mfa`, {})).statusCode).toBe(200);

      t.clock.advance(16 * MINUTE);
      expectJsonError(await api(t, admin, 'POST', `/api/v1/users/${tenant.agentId}/reset-mfa`, {}), 403, 'step_up_required');
      expectJsonError(await api(t, admin, 'POST', `/api/v1/users/${tenant.agentId}/reset-mfa`, { code: wrongCode(secret, t.clock.now()) }), 401, 'invalid_code');
      expect(await t.deps.store.factors.forUser(tenant.accountId, tenant.agentId)).toHaveLength(1);
      const ok = await api(t, admin, 'POST', `/api/v1/users/${tenant.agentId}/reset-mfa`, { code: oathCode(secret, t.clock.now()) });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(await t.deps.store.factors.forUser(tenant.accountId, tenant.agentId)).toEqual([]);
    });
  });
}
