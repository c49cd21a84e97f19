import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, api, enrol, expectJsonError, listedUsernames, signedIn, snapshot, tableRows } from './admin-support.ts';

// Who may do what (SPEC "Who may do what"): only admins reach the admin pages
// and endpoints; agents and agent-managers get 403; nobody signed in is sent
// to sign in (pages) or answered 401 (API); and nobody acts across accounts:
// a user id of another account answers exactly like one that does not exist.

const NEW_PASSWORD = 'a perfectly long passphrase';
const FORBIDDEN = 'You do not have permission to do that.';

for (const kind of await storeKinds()) {
  describe(`authorization of the admin pages and API (${kind})`, () => {
    let t: TestApp;
    /** Account A: its admin alice is enrolled; it has a distinctive user "zed-from-acme". */
    let a: Tenant;
    /** Account B: another tenant with the same usernames alice, mia, bob. */
    let b: Tenant;
    let zedId: string;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      a = await seedTenant(t.deps, 'Acme Support');
      b = await seedTenant(t.deps, 'Beta Support');
      zedId = await addUser(t, a.accountId, 'zed-from-acme', 'agent', ['Escalations']);
      // Give A's admin an authenticator (so "the authenticator is still there"
      // means something), then switch MFA off again so everyone signs in with a password.
      await t.deps.store.accounts.setMfaEnabled(a.accountId, true);
      await enrol(t, a.accountId, 'alice');
      await t.deps.store.accounts.setMfaEnabled(a.accountId, false);
    });
    afterAll(async () => {
      await t?.close();
    });

    /** Every admin page, as [method, url, form fields]. */
    function adminPages(target: string, resetTarget: string): Array<['GET' | 'POST', string, Record<string, string>]> {
      return [
        ['GET', '/manage/console', {}],
        ['GET', '/manage/console?q=mfa', {}],
        ['GET', '/manage/console/admin-secure', {}],
        ['GET', '/manage/console/account-access-control', {}],
        ['POST', '/manage/console/account-access-control', { mfaEnabled: 'on' }],
        ['GET', '/manage/users', {}],
        ['POST', '/manage/users', { username: 'mallory', role: 'admin', password: NEW_PASSWORD }],
        ['GET', `/manage/users/${target}`, {}],
        ['POST', `/manage/users/${target}`, { role: 'admin', state: 'active', email: 'owned@example.com' }],
        ['GET', `/manage/users/${resetTarget}/reset-mfa`, {}],
        ['POST', `/manage/users/${resetTarget}/reset-mfa`, {}],
        ['POST', '/manage/skills', { name: 'Backdoor' }],
        ['GET', '/manage/audit', {}],
      ];
    }

    /** Every admin endpoint, as [method, url, JSON body]. */
    function adminEndpoints(target: string, resetTarget: string): Array<['GET' | 'POST' | 'PUT' | 'PATCH', string, unknown]> {
      return [
        ['GET', '/api/v1/account', undefined],
        ['PUT', '/api/v1/account/settings', { mfaEnabled: true }],
        ['GET', '/api/v1/users', undefined],
        ['GET', '/api/v1/users?mfa=enrolled', undefined],
        ['POST', '/api/v1/users', { username: 'mallory', role: 'admin', password: NEW_PASSWORD }],
        ['GET', `/api/v1/users/${target}`, undefined],
        ['PATCH', `/api/v1/users/${target}`, { role: 'admin' }],
        ['POST', `/api/v1/users/${resetTarget}/reset-mfa`, {}],
        ['GET', '/api/v1/audit', undefined],
      ];
    }

    for (const [username, role] of [
      ['bob', 'agent'],
      ['mia', 'agent-manager'],
    ] as const) {
      it(`answers an ${role} 403 on every admin page, and nothing changes`, async () => {
        const before = await snapshot(t, a.accountId);
        const browser = await signedIn(t, a.accountId, username);
        expect((await browser.get('/')).statusCode).toBe(200); // a CSRF token of this session
        const self = username === 'bob' ? a.agentId : a.managerId;
        for (const [method, url, fields] of adminPages(self, a.adminId)) {
          const res = method === 'GET' ? await browser.get(url) : await browser.post(url, fields);
          expect(res.statusCode, `${method} ${url}`).toBe(403);
          expect(res.body, `${method} ${url}`).toContain(FORBIDDEN);
        }
        expect(await snapshot(t, a.accountId)).toEqual(before);
        expect((await t.deps.store.accounts.get(a.accountId))?.mfaEnabled).toBe(false);
        expect(await t.deps.store.factors.forUser(a.accountId, a.adminId)).toHaveLength(1);
        expect((await t.deps.store.users.get(a.accountId, self))?.role).toBe(role);
        expect(await t.deps.store.users.findByUsername(a.accountId, 'mallory')).toBeUndefined();
        // Refused, not signed out.
        expect((await browser.get('/')).statusCode).toBe(200);
      });

      it(`answers an ${role} 403 on every admin endpoint, and nothing changes`, async () => {
        const before = await snapshot(t, a.accountId);
        const browser = await signedIn(t, a.accountId, username);
        const self = username === 'bob' ? a.agentId : a.managerId;
        for (const [method, url, body] of adminEndpoints(self, a.adminId)) {
          const res = await api(t, browser, method, url, body);
          expectJsonError(res, 403, 'forbidden');
        }
        expect(await snapshot(t, a.accountId)).toEqual(before);
        expect(await t.deps.store.factors.forUser(a.accountId, a.adminId)).toHaveLength(1);
        expect((await api(t, browser, 'GET', '/api/v1/session')).json()).toMatchObject({ state: 'authenticated', role });
      });
    }

    it("applies a role change to the user's live session at once, both ways", async () => {
      const c = await seedTenant(t.deps, 'Delta Support');
      const admin = await signedIn(t, c.accountId, 'alice');
      const agent = await signedIn(t, c.accountId, 'bob');
      expect((await agent.get('/manage/users')).statusCode).toBe(403);

      expect((await api(t, admin, 'PATCH', `/api/v1/users/${c.agentId}`, { role: 'admin' })).statusCode).toBe(200);
      expect((await agent.get('/manage/users')).statusCode).toBe(200);
      expect((await api(t, agent, 'GET', '/api/v1/account')).statusCode).toBe(200);

      expect((await api(t, admin, 'PATCH', `/api/v1/users/${c.agentId}`, { role: 'agent' })).statusCode).toBe(200);
      expect((await agent.get('/manage/users')).statusCode).toBe(403);
      expectJsonError(await api(t, agent, 'GET', '/api/v1/account'), 403, 'forbidden');
    });

    it('sends an anonymous visitor of an admin page to /login, and refuses its posts', async () => {
      const before = await snapshot(t, a.accountId);
      const visitor = new TestBrowser(t.app);
      await visitor.get('/login'); // an anonymous CSRF token, as an attacker would have
      for (const [method, url, fields] of adminPages(a.agentId, a.adminId)) {
        const res = method === 'GET' ? await visitor.get(url) : await visitor.post(url, fields);
        if (method === 'GET') {
          expect(res.statusCode, url).toBe(303);
          expect(res.headers.location, url).toBe('/login');
        } else {
          const refused = res.statusCode === 401 || res.statusCode === 403 || res.headers.location === '/login';
          expect(refused, `${method} ${url}: ${res.statusCode}`).toBe(true);
        }
      }
      expect(await snapshot(t, a.accountId)).toEqual(before);
    });

    it('answers an anonymous API client 401 on every admin endpoint, and nothing changes', async () => {
      const before = await snapshot(t, a.accountId);
      for (const [method, url, body] of adminEndpoints(a.agentId, a.adminId)) {
        expectJsonError(await api(t, null, method, url, body), 401, 'unauthenticated');
      }
      expect(await snapshot(t, a.accountId)).toEqual(before);
    });

    it('does not let a pending sign-in (code outstanding) reach admin pages or endpoints', async () => {
      const c = await seedTenant(t.deps, 'Gamma Support');
      await t.deps.store.accounts.setMfaEnabled(c.accountId, true);
      const admin = new TestBrowser(t.app);
      expect((await admin.signIn(c.accountId, 'alice', PASSWORD)).headers.location).toBe('/login/mfa');
      for (const url of ['/manage/console', '/manage/users', `/manage/users/${c.agentId}`, '/manage/audit']) {
        const res = await admin.get(url);
        expect(res.statusCode, url).toBe(303);
        expect(res.headers.location, url).toBe('/login/mfa');
      }
      expectJsonError(await api(t, admin, 'GET', '/api/v1/users'), 401);
      expectJsonError(await api(t, admin, 'PUT', '/api/v1/account/settings', { mfaEnabled: false }), 401);
      expect((await t.deps.store.accounts.get(c.accountId))?.mfaEnabled).toBe(true);
    });

    describe('across accounts', () => {
      let adminB: TestBrowser;
      const unknownId = 'f'.repeat(32);

      beforeAll(async () => {
        adminB = await signedIn(t, b.accountId, 'alice');
        await adminB.get('/manage/users');
      });

      it("answers B's admin 404 on every page of A's users, exactly as for a user who does not exist, and changes nothing of A", async () => {
        const before = await snapshot(t, a.accountId);
        const bobSessions = async () => (await t.db.database.db.selectFrom('sessions').select('id').where('user_id', '=', a.agentId).execute()).length;
        const agentA = await signedIn(t, a.accountId, 'bob');
        const sessionsBefore = await bobSessions();

        const pages: Array<['GET' | 'POST', (id: string) => string, Record<string, string>]> = [
          ['GET', (id) => `/manage/users/${id}`, {}],
          ['POST', (id) => `/manage/users/${id}`, { role: 'admin', state: 'disabled', email: 'taken@example.com' }],
          ['GET', (id) => `/manage/users/${id}/reset-mfa`, {}],
          ['POST', (id) => `/manage/users/${id}/reset-mfa`, {}],
        ];
        for (const [method, path, fields] of pages) {
          for (const target of [a.agentId, a.adminId]) {
            const res = method === 'GET' ? await adminB.get(path(target)) : await adminB.post(path(target), fields);
            expect(res.statusCode, `${method} ${path(target)}`).toBe(404);
            const none = method === 'GET' ? await adminB.get(path(unknownId)) : await adminB.post(path(unknownId), fields);
            expect(none.statusCode).toBe(404);
            expect(res.body, 'no difference between "elsewhere" and "nowhere"').toBe(none.body);
            expect(res.body).not.toContain('zed-from-acme');
          }
        }
        expect(await snapshot(t, a.accountId)).toEqual(before);
        expect(await t.deps.store.factors.forUser(a.accountId, a.adminId)).toHaveLength(1);
        expect(await bobSessions()).toBe(sessionsBefore);
        expect((await agentA.get('/')).statusCode).toBe(200);
      });

      it("answers B's admin 404 on the API for A's users (get, patch, reset), and changes nothing of A", async () => {
        const before = await snapshot(t, a.accountId);
        const calls: Array<['GET' | 'PATCH' | 'POST', (id: string) => string, unknown]> = [
          ['GET', (id) => `/api/v1/users/${id}`, undefined],
          ['PATCH', (id) => `/api/v1/users/${id}`, { role: 'agent', state: 'disabled', email: 'taken@example.com' }],
          ['POST', (id) => `/api/v1/users/${id}/reset-mfa`, {}],
        ];
        for (const [method, path, body] of calls) {
          for (const target of [a.agentId, a.adminId]) {
            const res = await api(t, adminB, method, path(target), body);
            expectJsonError(res, 404, 'not_found');
            const none = await api(t, adminB, method, path(unknownId), body);
            expect(res.json()).toEqual(none.json());
          }
        }
        expect(await snapshot(t, a.accountId)).toEqual(before);
        expect(await t.deps.store.factors.forUser(a.accountId, a.adminId)).toHaveLength(1);
      });

      it("never lists A's users on B's Users & Skills page or API", async () => {
        const page = await adminB.get('/manage/users');
        expect(page.statusCode).toBe(200);
        expect(listedUsernames(page.body).sort()).toEqual(['alice', 'bob', 'mia']);
        expect(page.body).not.toContain('zed-from-acme');
        expect(page.body).not.toContain(a.agentId);
        const search = await adminB.get('/manage/users?q=zed');
        expect(listedUsernames(search.body)).toEqual([]);

        const listed = (await api(t, adminB, 'GET', '/api/v1/users')).json<{ users: Array<{ id: string }>; total: number }>();
        expect(listed.total).toBe(3);
        expect(listed.users.map((u) => u.id).sort()).toEqual([b.adminId, b.agentId, b.managerId].sort());
        expect(((await api(t, adminB, 'GET', '/api/v1/users?search=zed')).json<{ total: number }>()).total).toBe(0);
        // B's skills: A's "Escalations" is not offered.
        expect(page.body).not.toContain('Escalations');
      });

      it("never shows A's events or users on B's audit page or API, even when filtered by A's user id", async () => {
        const page = await adminB.get('/manage/audit');
        expect(page.statusCode).toBe(200);
        expect(page.body).not.toContain('zed-from-acme');
        expect(page.body).not.toContain(a.adminId);
        // Only A's alice ever enrolled, and only A has zed.
        expect(tableRows(page.body).some((cells) => cells[2] === 'Authenticator enrolled' || cells.includes('zed-from-acme'))).toBe(false);
        const filtered = await adminB.get(`/manage/audit?user=${zedId}`);
        expect(tableRows(filtered.body)).toEqual([['No events match.']]);

        const events = (await api(t, adminB, 'GET', '/api/v1/audit')).json<{ events: Array<{ actor: string; target: string | null; action: string }> }>();
        expect(events.events.length).toBeGreaterThan(0);
        expect(events.events.some((e) => e.target === 'zed-from-acme' || e.action === 'mfa.enroll')).toBe(false);
        const byA = (await api(t, adminB, 'GET', `/api/v1/audit?userId=${zedId}`)).json<{ events: unknown[] }>();
        expect(byA.events).toEqual([]);
      });

      it("does not let B's admin give a user one of A's skills", async () => {
        const skillsOfA = await t.deps.store.skills.list(a.accountId);
        const escalations = skillsOfA.find((s) => s.name === 'Escalations');
        expect(escalations).toBeDefined();
        const res = await api(t, adminB, 'PATCH', `/api/v1/users/${b.agentId}`, { skillIds: [escalations?.id ?? ''] });
        expect(res.statusCode).toBe(200);
        expect((res.json<{ skills: string[] }>()).skills).toEqual([]);
        const links = await t.db.database.db.selectFrom('user_skills').selectAll().where('user_id', '=', b.agentId).execute();
        expect(links).toEqual([]);
      });

      it("does not let B's admin add a user with one of A's skills", async () => {
        const escalations = (await t.deps.store.skills.list(a.accountId)).find((s) => s.name === 'Escalations');
        await adminB.get('/manage/users');
        const res = await adminB.post('/manage/users', { username: 'newcomer', role: 'agent', password: NEW_PASSWORD, skills: escalations?.id ?? '' });
        expect(res.statusCode).toBe(303);
        const newcomer = await t.deps.store.users.findByUsername(b.accountId, 'newcomer');
        expect(newcomer).toBeDefined();
        expect(await t.db.database.db.selectFrom('user_skills').selectAll().where('user_id', '=', newcomer?.id ?? '').execute()).toEqual([]);
        expect(await t.deps.store.skills.list(b.accountId)).toEqual([expect.objectContaining({ name: 'Billing' })]);
      });
    });

    it('answers a malformed user id 404 on the pages, and a JSON 4xx on the API', async () => {
      const admin = await signedIn(t, a.accountId, 'alice');
      await admin.get('/manage/users');
      const malformed = ['not-an-id', 'F'.repeat(32), 'f'.repeat(33), `${'f'.repeat(31)}g`, '%27%20or%201%3D1--', '..%2F..%2Fetc'];
      for (const id of malformed) {
        for (const url of [`/manage/users/${id}`, `/manage/users/${id}/reset-mfa`]) {
          const res = await admin.get(url);
          expect(res.statusCode, url).toBe(404);
        }
        const posted = await admin.post(`/manage/users/${id}/reset-mfa`, {});
        expect(posted.statusCode, `POST reset ${id}`).toBe(404);
        const edited = await admin.post(`/manage/users/${id}`, { role: 'agent', state: 'active', email: '' });
        expect(edited.statusCode, `POST edit ${id}`).toBe(404);
        for (const [method, url, body] of [
          ['GET', `/api/v1/users/${id}`, undefined],
          ['PATCH', `/api/v1/users/${id}`, { role: 'agent' }],
          ['POST', `/api/v1/users/${id}/reset-mfa`, {}],
        ] as const) {
          const res = await api(t, admin, method, url, body);
          expect([400, 404], `${method} ${url}`).toContain(res.statusCode);
          expectJsonError(res, res.statusCode);
        }
      }
      expect(await t.deps.store.factors.forUser(a.accountId, a.adminId)).toHaveLength(1);
    });
  });
}
