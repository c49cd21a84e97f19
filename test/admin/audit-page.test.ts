import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import { decode, enrol, linkTo, tableRows } from './admin-support.ts';

// The audit page (/manage/audit): who did what to whom, when, from where and
// with what result, for sign-ins, enrolment and resets; narrowed by user and
// by action.

const ADMIN_IP = '192.0.2.10';
const AGENT_IP = '203.0.113.9';

function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

interface Row {
  when: string;
  who: string;
  what: string;
  whom: string;
  from: string;
  result: string;
  details: string;
}

function rows(html: string): Row[] {
  return tableRows(html)
    .filter((cells) => cells.length === 7)
    .map(([when = '', who = '', what = '', whom = '', from = '', result = '', details = '']) => ({ when, who, what, whom, from, result, details }));
}

for (const kind of await storeKinds()) {
  describe(`audit page (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;
    const at: Record<string, number> = {};

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);

      t.clock.advance(60_000);
      at.wrongPassword = t.clock.now();
      expect((await new TestBrowser(t.app, undefined, AGENT_IP).signIn(tenant.accountId, 'bob', 'not the password at all')).statusCode).toBe(401);

      t.clock.advance(60_000);
      at.adminSignIn = t.clock.now();
      admin = new TestBrowser(t.app, undefined, ADMIN_IP);
      expect((await admin.signIn(tenant.accountId, 'alice', PASSWORD)).headers.location).toBe('/');
      await admin.get('/manage/console/account-access-control');

      t.clock.advance(60_000);
      at.mfaOn = t.clock.now();
      expect((await admin.post('/manage/console/account-access-control', { mfaEnabled: 'on' })).headers.location).toBe('/login/mfa');
      const setup = await admin.get('/login/mfa');
      const adminSecret = secretOf(scanQr(setup.body));
      expect((await admin.post('/login/mfa', { code: oathCode(adminSecret, t.clock.now()) })).statusCode).toBe(200);

      t.clock.advance(60_000);
      at.agentEnrol = t.clock.now();
      await enrol(t, tenant.accountId, 'bob', AGENT_IP);

      t.clock.advance(60_000);
      at.reset = t.clock.now();
      await admin.get(`/manage/users/${tenant.agentId}`);
      expect((await admin.post(`/manage/users/${tenant.agentId}/reset-mfa`, {})).statusCode).toBe(303);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('shows who, what, whom, when, from where and the result of sign-ins, enrolment and reset', async () => {
      const page = await admin.get('/manage/audit');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<h1>Audit log</h1>');
      for (const header of ['When', 'Who', 'What', 'Whom', 'From', 'Result']) expect(page.body).toContain(`<th scope="col">${header}</th>`);
      const all = rows(page.body);

      expect(all).toContainEqual(expect.objectContaining({ when: utc(at.wrongPassword ?? 0), who: 'bob', what: 'Password sign-in', whom: 'bob', from: AGENT_IP, result: 'Failure' }));
      expect(all).toContainEqual(expect.objectContaining({ when: utc(at.adminSignIn ?? 0), who: 'alice', what: 'Password sign-in', whom: 'alice', from: ADMIN_IP, result: 'Success' }));
      expect(all).toContainEqual(expect.objectContaining({ when: utc(at.mfaOn ?? 0), who: 'alice', what: 'MFA switched on', from: ADMIN_IP, result: 'Success' }));
      expect(all).toContainEqual(expect.objectContaining({ when: utc(at.mfaOn ?? 0), who: 'alice', what: 'Authenticator enrolled', whom: 'alice', from: ADMIN_IP, result: 'Success' }));
      expect(all).toContainEqual(expect.objectContaining({ when: utc(at.agentEnrol ?? 0), who: 'bob', what: 'Authenticator enrolled', whom: 'bob', from: AGENT_IP, result: 'Success' }));
      expect(all).toContainEqual(expect.objectContaining({ when: utc(at.agentEnrol ?? 0), who: 'bob', what: 'Code verification', whom: 'bob', from: AGENT_IP, result: 'Success' }));
      const reset = all.find((r) => r.what === 'Reset MFA');
      expect(reset).toMatchObject({ when: utc(at.reset ?? 0), who: 'alice', whom: 'bob', from: ADMIN_IP, result: 'Success' });
      expect(reset?.details).toContain('authenticatorRevoked: true');

      // Newest first.
      const times = all.map((r) => r.when);
      expect([...times].sort().reverse()).toEqual(times);
      expect(all[0]?.what).toBe('Reset MFA');
    });

    it('names every action in words, account creation included, and offers each as a filter', async () => {
      const page = await admin.get('/manage/audit');
      const codes = rows(page.body).filter((r) => /^[a-z_]+\.[a-z_]+$/.test(r.what));
      expect(codes, 'actions shown as raw codes').toEqual([]);
      const stored = await t.deps.store.audit.list(tenant.accountId, { limit: 1000, offset: 0 });
      for (const action of new Set(stored.map((e) => e.action))) {
        expect(page.body, `a filter option for ${action}`).toContain(`<option value="${action}"`);
      }
    });

    it('narrows the list to one user, as actor or as target', async () => {
      const page = await admin.get(`/manage/audit?user=${tenant.agentId}`);
      expect(page.statusCode).toBe(200);
      expect(page.body).toMatch(new RegExp(`<option value="${tenant.agentId}" selected`));
      const bob = rows(page.body);
      expect(bob.length).toBeGreaterThanOrEqual(5);
      for (const row of bob) expect(row.who === 'bob' || row.whom === 'bob', JSON.stringify(row)).toBe(true);
      expect(bob.map((r) => r.what)).toEqual(expect.arrayContaining(['Password sign-in', 'Authenticator enrolled', 'Reset MFA', 'User created']));
      expect(bob.some((r) => r.what === 'MFA switched on')).toBe(false);

      const alice = rows((await admin.get(`/manage/audit?user=${tenant.adminId}`)).body);
      for (const row of alice) expect(row.who === 'alice' || row.whom === 'alice', JSON.stringify(row)).toBe(true);
      expect(alice.some((r) => r.what === 'MFA switched on')).toBe(true);
      expect(alice.some((r) => r.what === 'Authenticator enrolled' && r.whom === 'bob')).toBe(false);
    });

    it('narrows the list to one action, and to one action of one user', async () => {
      const resets = rows((await admin.get('/manage/audit?action=mfa.reset')).body);
      expect(resets).toHaveLength(1);
      expect(resets[0]).toMatchObject({ what: 'Reset MFA', who: 'alice', whom: 'bob' });

      const enrolments = rows((await admin.get('/manage/audit?action=mfa.enroll')).body);
      expect(enrolments.map((r) => r.whom).sort()).toEqual(['alice', 'bob']);
      const page = await admin.get(`/manage/audit?${new URLSearchParams({ user: tenant.agentId, action: 'mfa.enroll' }).toString()}`);
      expect(page.body).toMatch(/<option value="mfa.enroll" selected/);
      expect(rows(page.body)).toEqual([expect.objectContaining({ who: 'bob', what: 'Authenticator enrolled' })]);

      const none = await admin.get(`/manage/audit?${new URLSearchParams({ user: tenant.managerId, action: 'mfa.reset' }).toString()}`);
      expect(tableRows(none.body)).toEqual([['No events match.']]);
    });

    it('shows a typed username as text, never as markup', async () => {
      const evil = '<img src=x onerror=alert(1)>';
      await new TestBrowser(t.app, undefined, AGENT_IP).signIn(tenant.accountId, evil, 'whatever password');
      const page = await admin.get('/manage/audit?action=sign_in.password');
      expect(page.body).not.toContain('<img src=x');
      expect(rows(page.body).some((r) => r.who === `unknown user “${evil}”`)).toBe(true);
    });

    it('pages through older events', async () => {
      // 60 more events, written straight to the store: paging is about the page, not about sign-ins.
      for (let i = 0; i < 60; i++) {
        t.clock.advance(1_000);
        await t.deps.store.audit.record({
          id: randomUUID().replaceAll('-', ''),
          accountId: tenant.accountId,
          at: t.clock.now(),
          actorUserId: null,
          actor: `ghost-${i}`,
          action: 'sign_in.password',
          targetUserId: null,
          target: `ghost-${i}`,
          ip: '10.9.0.1',
          result: 'failure',
          detail: { cause: 'unknown user' },
        });
      }
      const first = await admin.get('/manage/audit');
      expect(rows(first.body)).toHaveLength(50);
      const older = linkTo(first.body, 'Older events');
      expect(older).toBeDefined();
      const second = await admin.get(decode(older ?? ''));
      expect(second.body).toContain('Page 2');
      expect(linkTo(second.body, 'Newer events')).toBeDefined();
      expect(rows(second.body).some((r) => r.what === 'Reset MFA')).toBe(true);
    });
  });
}
