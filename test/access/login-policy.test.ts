import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableInactiveUsers } from '../../src/services/access-rules.ts';
import { importUsers } from '../../src/services/user-import.ts';
import type { Deps } from '../../src/services/deps.ts';
import { openDatabase } from '../../src/storage/database.ts';
import type { OpenDatabase } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import { searchSettings } from '../../src/http/routes/console-pages.tsx';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, decode } from '../admin/admin-support.ts';

// Issue 15: the account's login policy (each field bounded by the service's
// own, a message per field, audited with old and new values, applied), and
// the inactivity rule run by two instances at once on both stores.

const DAY = 24 * 60 * 60_000;

function cookieOf(res: LightMyRequestResponse): string {
  const c = res.cookies.find((k) => k.name === 'portcullis');
  if (!c) throw new Error(`no session cookie: ${res.statusCode} ${res.body}`);
  return `portcullis=${c.value}`;
}

async function send(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, body: unknown, cookie?: string) {
  return app.inject({
    method,
    url,
    remoteAddress: '127.0.0.1',
    headers: { host: '127.0.0.1:3000', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(cookie ? { cookie } : {}) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

const none = { minPasswordLength: null, lockAfterFailures: null, idleTimeoutMinutes: null, absoluteTimeoutMinutes: null, inactiveDays: null };

describe.each(await storeKinds())('login policy (%s)', (kind) => {
  let t: TestApp;
  let tenant: Tenant;
  let admin = '';
  const login = (username: string, password = PASSWORD) => send(t.app, 'POST', '/api/v1/login', { accountId: tenant.accountId, username, password });
  const putPolicy = (body: unknown) => send(t.app, 'PUT', '/api/v1/account/access-rules/policy', body, admin);

  beforeAll(async () => {
    t = await buildTestApp(kind);
    tenant = await seedTenant(t.deps);
    admin = cookieOf(await login('alice'));
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses values outside the service’s bounds, a message per field, changing nothing', async () => {
    const res = await putPolicy({ minPasswordLength: 8, lockAfterFailures: 50, idleTimeoutMinutes: 9999, absoluteTimeoutMinutes: 10, inactiveDays: 0 });
    expect(res.statusCode).toBe(400);
    const { message } = res.json<{ message: string }>();
    for (const line of [
      'Minimum password length must be from 12 to 128 characters, or blank for the service’s own value.',
      'Failed passwords before a lock must be from 3 to 10 failures, or blank for the service’s own value.',
      'Session idle timeout must be from 5 to 30 minutes, or blank for the service’s own value.',
      'Session absolute timeout must be from 15 to 720 minutes, or blank for the service’s own value.',
      'Days without a sign-in before a user is deactivated must be from 1 to 3650 days.',
    ])
      expect(message).toContain(line);
    expect((await send(t.app, 'GET', '/api/v1/account/access-rules', undefined, admin)).json<{ policy: unknown }>().policy).toEqual(none);

    // The page says the same, next to each field.
    const browser = new TestBrowser(t.app);
    await browser.signIn(tenant.accountId, 'alice', PASSWORD);
    await browser.get('/manage/console/account-access-control');
    const page = await browser.post('/manage/console/account-access-control/policy', { ...none, minPasswordLength: '200', lockAfterFailures: 'ten', idleTimeoutMinutes: '', absoluteTimeoutMinutes: '', inactiveDays: '' });
    expect(page.statusCode).toBe(400);
    const text = decode(page.body);
    expect(text).toContain('Enter a whole number, or leave it blank.');
    const again = await browser.post('/manage/console/account-access-control/policy', { minPasswordLength: '200', lockAfterFailures: '', idleTimeoutMinutes: '', absoluteTimeoutMinutes: '', inactiveDays: '' });
    expect(decode(again.body)).toContain('Minimum password length must be from 12 to 128 characters');
  });

  it('applies a saved policy, audited with old and new values: password length, lock after fewer failures, shorter sessions', async () => {
    const saved = await putPolicy({ ...none, minPasswordLength: 16, lockAfterFailures: 3, idleTimeoutMinutes: 10, absoluteTimeoutMinutes: 60 });
    expect(saved.statusCode, saved.body).toBe(200);
    const events = await t.db.database.db.selectFrom('audit_events').select('detail').where('action', '=', 'account.login_policy').execute();
    expect(events.map((e) => JSON.parse(e.detail ?? '{}') as unknown)).toEqual([
      {
        changes: {
          minPasswordLength: { old: null, new: 16 },
          lockAfterFailures: { old: null, new: 3 },
          idleTimeoutMinutes: { old: null, new: 10 },
          absoluteTimeoutMinutes: { old: null, new: 60 },
        },
      },
    ]);
    // Saving the same again audits nothing.
    await putPolicy({ ...none, minPasswordLength: 16, lockAfterFailures: 3, idleTimeoutMinutes: 10, absoluteTimeoutMinutes: 60 });
    expect((await t.db.database.db.selectFrom('audit_events').select('id').where('action', '=', 'account.login_policy').execute()).length).toBe(1);

    // A new user's password of 14 characters: long enough for the service, not for this account.
    const short = await send(t.app, 'POST', '/api/v1/users', { username: 'nina', role: 'agent', password: 'fourteen chars' }, admin);
    expect(short.statusCode).toBe(400);
    expect(short.body).toContain('Password must be at least 16 characters.');
    // The same through a CSV import: the account's length, not the service's; nobody is added.
    const imported = await importUsers(t.deps, tenant.accountId, 'username,role,password\nnina,agent,fourteen chars\n', { userId: null, label: 'test', ip: null });
    expect(imported).toEqual({ ok: false, reason: 'invalid', errors: [{ line: 2, message: 'Password must be at least 16 characters.' }] });
    expect(await t.deps.store.users.findByUsername(tenant.accountId, 'nina')).toBeUndefined();

    // Three wrong passwords lock (the service alone locks after ten).
    for (let i = 0; i < 2; i++) expect((await login('mia', 'not the password, no')).statusCode).toBe(401);
    expect((await login('mia', 'not the password, no')).statusCode).toBe(429);

    // A session idle for 10 minutes ends (the service's limit is 30), and one older than 60 minutes however used.
    const bob = cookieOf(await login('bob'));
    t.clock.advance(9 * 60_000);
    expect((await send(t.app, 'GET', '/api/v1/session', undefined, bob)).statusCode).toBe(200);
    t.clock.advance(10 * 60_000);
    expect((await send(t.app, 'GET', '/api/v1/session', undefined, bob)).statusCode).toBe(401);
    const bob2 = cookieOf(await login('bob'));
    for (let i = 0; i < 7; i++) {
      t.clock.advance(8 * 60_000);
      expect((await send(t.app, 'GET', '/api/v1/session', undefined, bob2)).statusCode).toBe(200);
    }
    t.clock.advance(8 * 60_000); // 64 minutes since the sign-in
    expect((await send(t.app, 'GET', '/api/v1/session', undefined, bob2)).statusCode).toBe(401);
    await putPolicy(none);
  });

  it('is found by Search settings', () => {
    for (const q of ['IP', 'network', 'password', 'inactive', 'remember']) {
      expect(searchSettings(q).map((r) => r.title), q).toContain('Account Access Control');
    }
  });
});

describe.each(await storeKinds())('the inactivity rule, two instances at once (%s)', (kind) => {
  let t: TestApp;
  let tenant: Tenant;
  let second: OpenDatabase;
  let other: Deps;
  let admin = '';

  beforeAll(async () => {
    t = await buildTestApp(kind);
    tenant = await seedTenant(t.deps);
    // A second instance: its own connections to the same database.
    second = openDatabase(t.db.url, kind === 'postgres' && t.db.schema ? { schema: t.db.schema, poolSize: 5 } : {});
    other = { ...t.deps, store: createStore(second.db, kind) };
  });
  // On PostgreSQL both run at once, each through its own pool: the race is
  // real. Two SQLite connections in one process cannot (a writer waiting for
  // the lock blocks the thread the other needs to commit), and instances on
  // SQLite take turns anyway (one writer at a time), so there they run in turn.
  const bothInstances = async (): Promise<[number, number]> => {
    if (kind === 'postgres') return Promise.all([disableInactiveUsers(t.deps), disableInactiveUsers(other)]);
    const first = await disableInactiveUsers(t.deps);
    return [first, await disableInactiveUsers(other)];
  };
  const signInAdmin = async () => {
    admin = cookieOf(await send(t.app, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'alice', password: PASSWORD }));
  };
  afterAll(async () => {
    await second.close();
    await t.close();
  });

  it('disables exactly the users inactive for N days, each once and audited once, shown in Users & Skills', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `agent${i}`);
    for (const n of names) await addUser(t, tenant.accountId, n);
    // Off by default: nobody is disabled however long they wait.
    t.clock.advance(400 * DAY);
    expect(await disableInactiveUsers(t.deps)).toBe(0);

    await signInAdmin();
    const saved = await send(t.app, 'PUT', '/api/v1/account/access-rules/policy', { ...none, inactiveDays: 30 }, admin);
    expect(saved.statusCode, saved.body).toBe(200);
    // The rule counts from its switching on: a month later at the earliest.
    t.clock.advance(29 * DAY);
    expect(await disableInactiveUsers(t.deps)).toBe(0);
    // Half of them sign in on day 29; alice (an admin) never again.
    for (const n of names.slice(0, 6)) expect((await send(t.app, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: n, password: PASSWORD })).statusCode).toBe(200);
    t.clock.advance(2 * DAY);
    const aSession = await send(t.app, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'agent11', password: PASSWORD });
    const agent11 = cookieOf(aSession);

    const [a, b] = await bothInstances();
    // bob and mia (seeded, never signed in) and agent6..agent10: seven, between the two instances.
    expect(a + b).toBe(7);
    const events = await t.db.database.db.selectFrom('audit_events').select(['target', 'actor']).where('action', '=', 'user.deactivated_inactive').execute();
    expect(events.map((e) => e.target).sort()).toEqual(['agent10', 'agent6', 'agent7', 'agent8', 'agent9', 'bob', 'mia']);
    expect(events.every((e) => e.actor === 'system')).toBe(true);
    const states = await t.db.database.db.selectFrom('users').select(['username', 'state']).where('account_id', '=', tenant.accountId).orderBy('username').execute();
    expect(states.filter((s) => s.state === 'disabled').map((s) => s.username).sort()).toEqual(['agent10', 'agent6', 'agent7', 'agent8', 'agent9', 'bob', 'mia']);
    // Running again disables and audits nobody more.
    expect(await bothInstances()).toEqual([0, 0]);
    expect((await send(t.app, 'GET', '/api/v1/session', undefined, agent11)).statusCode).toBe(200);

    // Users & Skills says why.
    const browser = new TestBrowser(t.app);
    await browser.signIn(tenant.accountId, 'alice', PASSWORD);
    const list = decode((await browser.get('/manage/users?q=bob')).body);
    expect(list).toMatch(/Disabled — inactive since \d{4}-\d{2}-\d{2}/);

    // An admin enables bob again: he signs in, and the next run leaves him be.
    await signInAdmin();
    const detail = await send(t.app, 'GET', `/api/v1/users/${tenant.agentId}`, undefined, admin);
    expect(detail.statusCode, detail.body).toBe(200);
    // The API says it too: when the inactivity began.
    expect(detail.json<{ state: string; inactiveSince: string | null }>()).toMatchObject({ state: 'disabled', inactiveSince: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) });
    const listed = await send(t.app, 'GET', '/api/v1/users?search=bob', undefined, admin);
    expect(listed.json<{ users: Array<{ inactiveSince: string | null }> }>().users[0]?.inactiveSince).toBe(detail.json<{ inactiveSince: string }>().inactiveSince);
    const enabled = await send(t.app, 'PATCH', `/api/v1/users/${tenant.agentId}`, { state: 'active' }, admin);
    expect(enabled.statusCode, enabled.body).toBe(200);
    expect(enabled.json<{ inactiveSince: string | null }>().inactiveSince).toBeNull();
    expect((await send(t.app, 'POST', '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD })).statusCode).toBe(200);
    expect(await disableInactiveUsers(t.deps)).toBe(0);
    expect(decode((await browser.get('/manage/users?q=bob')).body)).not.toContain('inactive since');
  });
});
