import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, decode, enrol, linkTo, listedUsernames, lockByWrongCodes, postForm, signedIn, tableRows } from './admin-support.ts';

// Users & Skills (the seed's "Reset MFA" path starts here): the list with its
// search, MFA filter and pages; adding users and skills; the Edit user page
// with its Reset MFA dialog and the confirmation page that needs no JavaScript.

const NEW_PASSWORD = 'a perfectly long passphrase';
const GENERIC = 'Incorrect account number, username or password';

function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

function query(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

for (const kind of await storeKinds()) {
  describe(`Users & Skills (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;
    const ids: Record<string, string> = {};
    /** When erin's second factor stays locked until. */
    let erinLockedUntil: number;
    let carolBrowser: TestBrowser;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      ids.alice = tenant.adminId;
      ids.bob = tenant.agentId;
      ids.mia = tenant.managerId;
      ids.carol = await addUser(t, tenant.accountId, 'carol');
      ids.Dave = await addUser(t, tenant.accountId, 'Dave', 'agent-manager', ['Returns']);
      ids.erin = await addUser(t, tenant.accountId, 'erin');
      // carol and erin enrol with the phone helpers while MFA is on; erin then
      // types 10 wrong codes and is locked. MFA goes off again, so the admin
      // (not enrolled) signs in with a password.
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
      carolBrowser = (await enrol(t, tenant.accountId, 'carol', '198.51.100.20')).browser;
      const erin = await enrol(t, tenant.accountId, 'erin');
      t.clock.advance(30_000);
      await lockByWrongCodes(t, tenant.accountId, 'erin', erin.secret);
      erinLockedUntil = (await t.deps.store.throttles.lockedUntil('totp', tenant.accountId, [ids.erin ?? ''], t.clock.now())).get(ids.erin ?? '') ?? 0;
      expect(erinLockedUntil).toBeGreaterThan(t.clock.now());
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, false);
      admin = await signedIn(t, tenant.accountId, 'alice');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** The cells of the row of this username on a Users & Skills page. */
    function row(html: string, username: string): string[] | undefined {
      return tableRows(html).find((cells) => cells[0] === username);
    }

    it('lists each user with username, role, skills, state and MFA state', async () => {
      const page = await admin.get('/manage/users');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1>Users &amp; Skills</h1>');
      for (const header of ['Username', 'Role', 'Skills', 'State', 'MFA']) expect(page.body).toContain(`<th scope="col">${header}</th>`);
      expect(listedUsernames(page.body)).toEqual(['alice', 'bob', 'carol', 'Dave', 'erin', 'mia']);
      expect(row(page.body, 'alice')).toEqual(['alice', 'Admin', '—', 'Active', 'Not enrolled']);
      expect(row(page.body, 'bob')).toEqual(['bob', 'Agent', 'Billing', 'Active', 'Not enrolled']);
      expect(row(page.body, 'Dave')).toEqual(['Dave', 'Agent manager', 'Returns', 'Active', 'Not enrolled']);
      expect(row(page.body, 'mia')).toEqual(['mia', 'Agent manager', '—', 'Active', 'Not enrolled']);
      expect(row(page.body, 'carol')).toEqual(['carol', 'Agent', '—', 'Active', `Enrolled since ${utc(t.clock.now()).slice(0, 10)} · Authenticator app`]);
      expect(row(page.body, 'erin')).toEqual(['erin', 'Agent', '—', 'Active', `Locked until ${utc(erinLockedUntil)} · Authenticator app`]);
      // Each name opens the Edit user page.
      for (const [name, id] of Object.entries(ids)) expect(linkTo(page.body, name)).toBe(`/manage/users/${id}`);
      expect(page.body).toContain('6 users · page 1 of 1');
    });

    it('finds users by any part of the username, whatever its case', async () => {
      const cases: Array<[string, string[]]> = [
        ['AR', ['carol']],
        ['ar', ['carol']],
        ['dav', ['Dave']],
        ['DAVE', ['Dave']],
        ['i', ['alice', 'erin', 'mia']],
        ['LiC', ['alice']],
        ['nobody-here', []],
        // LIKE wildcards are text, not patterns.
        ['%', []],
        ['_', []],
      ];
      for (const [q, expected] of cases) {
        const page = await admin.get(`/manage/users?${query({ q })}`);
        expect(page.statusCode).toBe(200);
        expect(listedUsernames(page.body), `search "${q}"`).toEqual(expected);
        if (expected.length === 0) expect(page.body).toContain('No users match.');
      }
    });

    it('filters by MFA state: not enrolled, enrolled, locked', async () => {
      const filtered = async (mfa: string, q = '') => listedUsernames((await admin.get(`/manage/users?${query({ q, mfa })}`)).body);
      expect(await filtered('not_enrolled')).toEqual(['alice', 'bob', 'Dave', 'mia']);
      // erin is enrolled and, for now, locked: she is both.
      expect(await filtered('enrolled')).toEqual(['carol', 'erin']);
      expect(await filtered('locked')).toEqual(['erin']);
      expect(await filtered('locked', 'car')).toEqual([]);
      expect(await filtered('enrolled', 'car')).toEqual(['carol']);
      // The select keeps the choice; an unknown filter value shows everyone.
      expect((await admin.get('/manage/users?mfa=locked')).body).toMatch(/<option value="locked" selected/);
      expect(await filtered('bogus')).toHaveLength(6);
    });

    it('stops listing a user as locked once the lock has run out', async () => {
      const now = t.clock.now();
      t.clock.set(erinLockedUntil + 1);
      try {
        const page = await admin.get('/manage/users?mfa=locked');
        expect(listedUsernames(page.body)).toEqual([]);
        expect(row((await admin.get('/manage/users')).body, 'erin')?.[4]).toMatch(/^Enrolled since /);
      } finally {
        t.clock.set(now);
      }
    });

    it('pages through more than 25 users with Next and Previous links and correct totals', async () => {
      const paging = await seedTenant(t.deps, 'Paging Co');
      const names = Array.from({ length: 27 }, (_, i) => `user-${String(i + 1).padStart(2, '0')}`);
      for (const name of names) await addUser(t, paging.accountId, name);
      const pager = await signedIn(t, paging.accountId, 'alice');

      const first = await pager.get('/manage/users');
      expect(first.body).toContain('30 users · page 1 of 2');
      const one = listedUsernames(first.body);
      expect(one).toHaveLength(25);
      expect(linkTo(first.body, 'Previous page')).toBeUndefined();
      const next = linkTo(first.body, 'Next page');
      expect(next).toBeDefined();

      const second = await pager.get(decode(next ?? ''));
      expect(second.statusCode).toBe(200);
      expect(second.body).toContain('30 users · page 2 of 2');
      const two = listedUsernames(second.body);
      expect(two).toHaveLength(5);
      expect(linkTo(second.body, 'Next page')).toBeUndefined();
      const previous = linkTo(second.body, 'Previous page');
      expect(listedUsernames((await pager.get(decode(previous ?? ''))).body)).toEqual(one);
      // Together, every user once.
      expect([...one, ...two].sort()).toEqual(['alice', 'bob', 'mia', ...names].sort());

      // Searching pages too, and the links keep the search.
      const searched = await pager.get(`/manage/users?${query({ q: 'USER-' })}`);
      expect(searched.body).toContain('27 users · page 1 of 2');
      const searchedNext = decode(linkTo(searched.body, 'Next page') ?? '');
      expect(new URL(searchedNext, 'http://x').searchParams.get('q')).toBe('USER-');
      expect(listedUsernames((await pager.get(searchedNext)).body)).toEqual(['user-26', 'user-27']);
    });

    it('adds a user through the "Add user" form, who can then sign in', async () => {
      const page = await admin.get('/manage/users');
      expect(page.body).toContain('<h2 id="add-user-title">Add user</h2>');
      const billing = (await t.deps.store.skills.list(tenant.accountId)).find((s) => s.name === 'Billing');
      const res = await postForm(t, admin, '/manage/users', [
        ['username', 'frank'],
        ['role', 'agent-manager'],
        ['email', 'frank@example.com'],
        ['password', NEW_PASSWORD],
        ['skills', billing?.id ?? ''],
      ]);
      expect(res.statusCode, res.body).toBe(303);
      const frank = await t.deps.store.users.findByUsername(tenant.accountId, 'frank');
      expect(frank).toMatchObject({ username: 'frank', role: 'agent-manager', state: 'active', email: 'frank@example.com' });
      expect(res.headers.location).toBe(`/manage/users/${frank?.id}?notice=created`);
      expect((await admin.get(res.headers.location as string)).body).toContain('User frank was created.');
      expect((await t.deps.store.skills.forUsers(tenant.accountId, [frank?.id ?? ''])).get(frank?.id ?? '')).toEqual(['Billing']);

      // The password is the admin's choice: frank signs in to the change page first (issue 15).
      const signIn = await new TestBrowser(t.app).signIn(tenant.accountId, 'frank', NEW_PASSWORD);
      expect(signIn.headers.location).toBe('/account/password');
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'user.create', userId: frank?.id ?? '', limit: 5, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', actorUserId: tenant.adminId, target: 'frank', ip: '127.0.0.1', result: 'success' });
    });

    it('refuses a weak password, a duplicate username or a bad role with a clear message (400), creating nothing', async () => {
      const count = await t.deps.store.users.count(tenant.accountId);
      const attempts: Array<[Record<string, string>, string]> = [
        [{ username: 'gina', role: 'agent', password: 'short' }, 'Password must be at least 12 characters.'],
        [{ username: 'gina', role: 'agent', password: '123456789012' }, 'This password is too common. Choose another.'],
        [{ username: 'BOB', role: 'agent', password: NEW_PASSWORD }, 'Username &quot;BOB&quot; is already taken in this account.'],
        [{ username: 'gina', role: 'superuser', password: NEW_PASSWORD }, 'Role must be one of admin, agent-manager, agent.'],
        [{ username: 'gi na', role: 'agent', password: NEW_PASSWORD }, 'Username must be 1–64 letters, digits or . _ @ + - characters.'],
      ];
      for (const [fields, message] of attempts) {
        await admin.get('/manage/users');
        const res = await admin.post('/manage/users', fields);
        expect(res.statusCode, JSON.stringify(fields)).toBe(400);
        expect(res.body).toContain('role="alert"');
        expect(res.body, JSON.stringify(fields)).toContain(message);
        // The page is still the Users & Skills page, with its form.
        expect(res.body).toContain('<h2 id="add-user-title">Add user</h2>');
      }
      expect(await t.deps.store.users.count(tenant.accountId)).toBe(count);
      expect(await t.deps.store.users.findByUsername(tenant.accountId, 'gina')).toBeUndefined();
      expect((await t.deps.store.users.get(tenant.accountId, tenant.agentId))?.role).toBe('agent');
    });

    it('creates a skill, offers it in the forms, and refuses a duplicate whatever its case', async () => {
      await admin.get('/manage/users');
      const res = await admin.post('/manage/skills', { name: 'Returns Desk' });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/manage/users?notice=skill');
      const page = await admin.get('/manage/users?notice=skill');
      expect(page.body).toContain('Skill created.');
      expect(page.body).toContain('<li>Returns Desk</li>');
      const skill = (await t.deps.store.skills.list(tenant.accountId)).find((s) => s.name === 'Returns Desk');
      expect(page.body).toContain(`name="skills" value="${skill?.id}"`);
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'skill.create', limit: 5, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', result: 'success', detail: { name: 'Returns Desk' } });

      const before = await t.deps.store.skills.list(tenant.accountId);
      for (const name of ['returns desk', 'RETURNS DESK', ' Returns   Desk ']) {
        const again = await admin.post('/manage/skills', { name });
        expect(again.statusCode, name).toBe(400);
        expect(again.body).toContain('role="alert"');
        expect(decode(again.body)).toContain('already exists');
      }
      const bad = await admin.post('/manage/skills', { name: '<script>' });
      expect(bad.statusCode).toBe(400);
      expect(bad.body).not.toContain('<script>');
      expect(await t.deps.store.skills.list(tenant.accountId)).toEqual(before);
    });

    it('saves role, state, email and skills on the Edit user page', async () => {
      const edit = await admin.get(`/manage/users/${ids.bob}`);
      expect(edit.statusCode).toBe(200);
      expect(edit.body).toContain('<h1>Edit user</h1>');
      for (const label of ['<label for="role">Role</label>', '<label for="state">State</label>', '<label for="email">Email</label>', '<legend>Skills</legend>']) {
        expect(edit.body).toContain(label);
      }
      const skills = await t.deps.store.skills.list(tenant.accountId);
      const id = (name: string) => skills.find((s) => s.name === name)?.id ?? '';
      expect(edit.body).toMatch(new RegExp(`value="${id('Billing')}" checked`));

      const res = await postForm(t, admin, `/manage/users/${ids.bob}`, [
        ['role', 'agent-manager'],
        ['state', 'active'],
        ['email', 'bob@example.com'],
        ['skills', id('Returns')],
        ['skills', id('Returns Desk')],
      ]);
      expect(res.statusCode, res.body).toBe(303);
      expect(res.headers.location).toBe(`/manage/users/${ids.bob}?notice=saved`);
      expect(await t.deps.store.users.get(tenant.accountId, ids.bob ?? '')).toMatchObject({ role: 'agent-manager', state: 'active', email: 'bob@example.com' });
      expect((await t.deps.store.skills.forUsers(tenant.accountId, [ids.bob ?? ''])).get(ids.bob ?? '')).toEqual(['Returns', 'Returns Desk']);

      const saved = await admin.get(res.headers.location as string);
      expect(saved.body).toContain('Saved.');
      expect(saved.body).toMatch(/<option value="agent-manager" selected/);
      expect(saved.body).toContain('value="bob@example.com"');
      expect(saved.body).not.toMatch(new RegExp(`value="${id('Billing')}" checked`));
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'user.update', userId: ids.bob ?? '', limit: 5, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', target: 'bob', result: 'success' });

      // A bad email is refused with a message and changes nothing.
      const bad = await postForm(t, admin, `/manage/users/${ids.bob}`, [
        ['role', 'agent'],
        ['state', 'active'],
        ['email', 'not an email'],
      ]);
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('Enter a valid email address, or leave it empty.');
      expect(await t.deps.store.users.get(tenant.accountId, ids.bob ?? '')).toMatchObject({ role: 'agent-manager', email: 'bob@example.com' });
      expect((await t.deps.store.skills.forUsers(tenant.accountId, [ids.bob ?? ''])).get(ids.bob ?? '')).toEqual(['Returns', 'Returns Desk']);
    });

    it("disabling a user ends their sessions, and their sign-in then fails with the generic message", async () => {
      const bob = await signedIn(t, tenant.accountId, 'bob');
      expect((await bob.get('/')).statusCode).toBe(200);
      await admin.get(`/manage/users/${ids.bob}`);
      const res = await admin.post(`/manage/users/${ids.bob}`, { role: 'agent', state: 'disabled', email: '' });
      expect(res.statusCode).toBe(303);
      expect((await t.deps.store.users.get(tenant.accountId, ids.bob ?? ''))?.state).toBe('disabled');
      expect(await t.db.database.db.selectFrom('sessions').select('id').where('user_id', '=', ids.bob ?? '').execute()).toEqual([]);
      const after = await bob.get('/');
      expect(after.statusCode).toBe(303);
      expect(after.headers.location).toBe('/login');
      expect(row((await admin.get('/manage/users')).body, 'bob')?.[3]).toBe('Disabled');

      const disabled = await new TestBrowser(t.app).signIn(tenant.accountId, 'bob', PASSWORD);
      const wrong = await new TestBrowser(t.app).signIn(tenant.accountId, 'mia', 'not the password at all');
      expect(disabled.statusCode).toBe(401);
      expect(disabled.statusCode).toBe(wrong.statusCode);
      expect(disabled.body).toContain(GENERIC);
      expect(disabled.body).not.toMatch(/disabled/i);
      expect(disabled.headers.location).toBeUndefined();
      const api = await t.app.inject({ method: 'POST', url: '/api/v1/login', payload: { accountId: tenant.accountId, username: 'bob', password: PASSWORD } });
      expect(api.statusCode).toBe(401);
      expect(api.json()).toMatchObject({ error: 'invalid_credentials' });

      // Enabled again, bob signs in.
      await admin.get(`/manage/users/${ids.bob}`);
      expect((await admin.post(`/manage/users/${ids.bob}`, { role: 'agent', state: 'active', email: '' })).statusCode).toBe(303);
      expect((await new TestBrowser(t.app).signIn(tenant.accountId, 'bob', PASSWORD)).headers.location).toBe('/');
    });

    it('does not let an admin demote or disable themselves', async () => {
      const edit = `/manage/users/${ids.alice}`;
      for (const fields of [
        { role: 'agent', state: 'active', email: '' },
        { role: 'agent-manager', state: 'active', email: '' },
        { role: 'admin', state: 'disabled', email: '' },
      ]) {
        await admin.get(edit);
        const res = await admin.post(edit, fields);
        expect(res.statusCode, JSON.stringify(fields)).toBe(400);
        expect(decode(res.body)).toContain('You cannot change your own role or disable yourself; ask another admin.');
      }
      expect(await t.deps.store.users.get(tenant.accountId, ids.alice ?? '')).toMatchObject({ role: 'admin', state: 'active' });
      expect((await admin.get('/manage/users')).statusCode).toBe(200);
      // Changing only their own email is fine.
      await admin.get(edit);
      expect((await admin.post(edit, { role: 'admin', state: 'active', email: 'alice@example.com' })).statusCode).toBe(303);
      expect((await t.deps.store.users.get(tenant.accountId, ids.alice ?? ''))?.email).toBe('alice@example.com');
    });

    it('has a "Reset MFA" button on the Edit user page that opens a "Reset MFA" dialog with Delete and Cancel', async () => {
      const edit = await admin.get(`/manage/users/${ids.carol}`);
      expect(edit.statusCode).toBe(200);
      expect(edit.body).toContain('Enrolled from</dt><dd>198.51.100.20</dd>');
      expect(edit.body).toContain('Recovery codes left</dt><dd>10</dd>');
      const button = /<a[^>]*href="([^"]+)"[^>]*data-dialog="([^"]+)"[^>]*>Reset MFA<\/a>/.exec(edit.body);
      expect(button?.[1]).toBe(`/manage/users/${ids.carol}/reset-mfa`);
      const dialog = new RegExp(`<dialog id="${button?.[2]}"[^>]*aria-labelledby="([^"]+)"[^>]*>([\\s\\S]*?)</dialog>`).exec(edit.body);
      expect(dialog).not.toBeNull();
      const inside = dialog?.[2] ?? '';
      expect(inside).toContain(`<h2 id="${dialog?.[1]}">Reset MFA</h2>`);
      expect(inside).toMatch(new RegExp(`<form method="post" action="/manage/users/${ids.carol}/reset-mfa">`));
      expect(inside).toMatch(/<button type="submit" class="danger">Delete<\/button>/);
      expect(inside).toMatch(/<form method="dialog"><button[^>]*>Cancel<\/button>/);
      expect(inside).toContain('name="_csrf"');
    });

    it('resets MFA without JavaScript through the confirmation page: authenticator gone, sessions ended, audited, user told', async () => {
      expect((await carolBrowser.get('/')).statusCode).toBe(200);
      const confirm = await admin.get(`/manage/users/${ids.carol}/reset-mfa`);
      expect(confirm.statusCode).toBe(200);
      expect(confirm.body).toContain('<h1 id="reset-title">Reset MFA</h1>');
      expect(confirm.body).toContain(`<form method="post" action="/manage/users/${ids.carol}/reset-mfa">`);
      expect(confirm.body).toMatch(/<button type="submit" class="danger">Delete<\/button>/);
      expect(linkTo(confirm.body, 'Cancel')).toBe(`/manage/users/${ids.carol}`);

      const res = await admin.post(`/manage/users/${ids.carol}/reset-mfa`, {});
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe(`/manage/users/${ids.carol}?notice=reset`);
      expect((await admin.get(res.headers.location as string)).body).toContain('MFA was reset for carol.');
      expect(await t.deps.store.factors.forUser(tenant.accountId, ids.carol ?? '')).toEqual([]);
      expect(await t.deps.store.recoveryCodes.countUnused(tenant.accountId, ids.carol ?? '')).toBe(0);
      expect((await carolBrowser.get('/')).headers.location).toBe('/login');
      expect(row((await admin.get('/manage/users')).body, 'carol')?.[4]).toBe('Not enrolled');
      const [event] = await t.deps.store.audit.list(tenant.accountId, { action: 'mfa.reset', userId: ids.carol ?? '', limit: 5, offset: 0 });
      expect(event).toMatchObject({ actor: 'alice', actorUserId: tenant.adminId, target: 'carol', targetUserId: ids.carol, ip: '127.0.0.1', result: 'success' });
      expect(t.notices.some((n) => n.to.username === 'carol' && /reset/i.test(n.subject))).toBe(true);
    });
  });
}

