import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noAccessRules } from '../../src/domain/access-rules.ts';
import { migrateToLatest } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import type { Account, AuditEvent, Session, ThrottleKey, PasskeyChallenge, TotpFactor, WebAuthnChallenge, WebAuthnFactor } from '../../src/storage/records.ts';
import type { Store } from '../../src/storage/store.ts';
import type { NewUser } from '../../src/storage/queries/users.ts';
import { openTestDatabase, openUnmigrated, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';

// One contract, every backend: the same tests run against a SQLite file and a
// fresh schema on the real PostgreSQL server, so a service written against the
// Store interface behaves the same on both.

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);
const MINUTE = 60_000;

const id = () => randomBytes(16).toString('hex');

let accountCounter = 0;
/** A fresh account number per test, so tests sharing a database do not see each other's rows. */
const nextAccountId = () => String(10_000_000 + ++accountCounter);

function account(overrides: Partial<Account> = {}): Account {
  return { id: nextAccountId(), name: 'Acme Support', mfaEnabled: false, createdAt: NOW, ...overrides };
}

function user(accountId: string, username: string, overrides: Partial<NewUser> = {}): NewUser {
  return {
    id: id(),
    accountId,
    username,
    usernameKey: username.normalize('NFKC').toLowerCase(),
    role: 'agent',
    passwordHash: '$argon2id$placeholder',
    state: 'active',
    email: null,
    createdAt: NOW,
    passwordChangeRequired: false,
    ...overrides,
  };
}

function session(accountId: string, userId: string, overrides: Partial<Session> = {}): Session {
  return {
    id: id(),
    accountId,
    userId,
    state: 'full',
    createdAt: NOW,
    lastSeenAt: NOW,
    expiresAt: NOW + 30 * MINUTE,
    methods: [{ kind: 'password', at: NOW }],
    codeFailures: 0,
    enrolment: null,
    client: { ip: '192.0.2.1', agent: 'Firefox on Linux' },
    ...overrides,
  };
}

function event(accountId: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: id(),
    accountId,
    at: NOW,
    actorUserId: null,
    actor: 'cli',
    action: 'user.create',
    targetUserId: null,
    target: null,
    ip: null,
    result: 'success',
    detail: null,
    ...overrides,
  };
}

for (const kind of await storeKinds()) {
  describe(`store contract (${kind})`, () => {
    let t: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      t = await openTestDatabase(kind);
      store = t.store;
    });
    afterAll(() => t.close());

    /** An account with the given usernames; answers the account id and the user ids by username. */
    async function tenant(...usernames: string[]) {
      const a = account();
      expect(await store.accounts.create(a)).toBe(true);
      const ids = new Map<string, string>();
      for (const name of usernames) {
        const u = user(a.id, name);
        expect(await store.users.create(u)).toBe(true);
        ids.set(name, u.id);
      }
      const userId = (name: string) => {
        const found = ids.get(name);
        if (!found) throw new Error(`no user ${name}`);
        return found;
      };
      return { accountId: a.id, userId };
    }

    describe('accounts', () => {
      it('creates an account and reads it back', async () => {
        const a = account({ name: 'Globex Care' });
        expect(await store.accounts.create(a)).toBe(true);
        expect(await store.accounts.get(a.id)).toEqual({ id: a.id, name: 'Globex Care', mfaEnabled: false, createdAt: NOW });
      });

      it('answers false for an account number already taken, and keeps the first account', async () => {
        const a = account({ name: 'First' });
        expect(await store.accounts.create(a)).toBe(true);
        expect(await store.accounts.create({ ...a, name: 'Second', mfaEnabled: true })).toBe(false);
        expect(await store.accounts.get(a.id)).toMatchObject({ name: 'First', mfaEnabled: false });
      });

      it('answers undefined for an unknown account', async () => {
        expect(await store.accounts.get('99999999999')).toBeUndefined();
      });

      it('switches MFA on and off for one account only', async () => {
        const a = account();
        const b = account();
        await store.accounts.create(a);
        await store.accounts.create(b);
        await store.accounts.setMfaEnabled(a.id, true);
        expect((await store.accounts.get(a.id))?.mfaEnabled).toBe(true);
        expect((await store.accounts.get(b.id))?.mfaEnabled).toBe(false);
        await store.accounts.setMfaEnabled(a.id, false);
        expect((await store.accounts.get(a.id))?.mfaEnabled).toBe(false);
      });
    });

    describe('users', () => {
      it('creates a user and finds it by username key and by id', async () => {
        const { accountId } = await tenant();
        const u = user(accountId, 'Alice', { role: 'admin', email: 'alice@example.com' });
        expect(await store.users.create(u)).toBe(true);
        const expected = {
          id: u.id,
          accountId,
          username: 'Alice',
          role: 'admin',
          passwordHash: u.passwordHash,
          state: 'active',
          email: 'alice@example.com',
          createdAt: NOW,
          passwordChangeRequired: false,
          inactiveSince: null,
        };
        expect(await store.users.findByUsername(accountId, 'alice')).toEqual(expected);
        expect(await store.users.get(accountId, u.id)).toEqual(expected);
      });

      it('disables inactive users other than admins once, with when their inactivity began (migration 010)', async () => {
        const { accountId } = await tenant();
        const old = user(accountId, 'Dormant');
        const admin = user(accountId, 'Boss', { role: 'admin' });
        const recent = user(accountId, 'Recent');
        for (const u of [old, admin, recent]) await store.users.create(u);
        await store.users.markActive(accountId, recent.id, NOW + 5000);
        const cutoff = NOW + 1000;
        expect(await store.users.disableInactive(accountId, cutoff, NOW + 9000)).toEqual([{ id: old.id, username: 'Dormant', inactiveSince: NOW }]);
        expect(await store.users.disableInactive(accountId, cutoff, NOW + 9000)).toEqual([]);
        expect(await store.users.get(accountId, old.id)).toMatchObject({ state: 'disabled', inactiveSince: NOW });
        await store.users.markActive(accountId, old.id, NOW + 10_000);
        expect((await store.users.get(accountId, old.id))?.inactiveSince).toBeNull();
      });

      it('keeps an account’s access rules, each section saved without touching the other (migration 010)', async () => {
        const { accountId } = await tenant();
        expect(await store.accessRules.get(accountId)).toMatchObject({ ranges: [], appliesTo: 'everyone', inactiveFrom: null });
        await store.accessRules.putRestriction(accountId, { ranges: [{ cidr: '2001:db8::/32', label: 'HQ' }], appliesTo: 'everyone_but_admins' }, NOW);
        const policy = { minPasswordLength: 14, lockAfterFailures: 5, idleTimeoutMs: 600_000, absoluteTimeoutMs: 3_600_000, inactiveDays: 30 };
        await store.accessRules.putPolicy(accountId, policy, NOW, NOW);
        expect(await store.accessRules.get(accountId)).toEqual({ ranges: [{ cidr: '2001:db8::/32', label: 'HQ' }], appliesTo: 'everyone_but_admins', policy, inactiveFrom: NOW, factors: { allowed: ['totp', 'webauthn'], adminsNeedKey: false }, rememberBrowserDays: 0 });
        expect(await store.accessRules.withInactivityRule()).toContainEqual({ accountId, inactiveDays: 30, inactiveFrom: NOW });
        // Remember this browser's days (migration 012), saved without touching the rest.
        await store.accessRules.putRememberBrowserDays(accountId, 14, NOW);
        expect(await store.accessRules.get(accountId)).toEqual({ ranges: [{ cidr: '2001:db8::/32', label: 'HQ' }], appliesTo: 'everyone_but_admins', policy, inactiveFrom: NOW, factors: { allowed: ['totp', 'webauthn'], adminsNeedKey: false }, rememberBrowserDays: 14 });
      });

      it('finds a remembered browser by its token’s hash for its own user only, while live, and shortens, forgets and lists them (migration 012)', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const DAY = 24 * 60 * 60_000;
        const row = (id: string, who: string, hash: string, createdAt: number, days: number) => ({
          id,
          accountId,
          userId: userId(who),
          tokenHash: hash,
          device: 'Firefox on Linux',
          ip: '192.0.2.1',
          createdAt,
          expiresAt: createdAt + days * DAY,
          lastUsedAt: null,
        });
        const ids = { a: 'a'.repeat(32), b: 'b'.repeat(32), c: 'c'.repeat(32) };
        await store.rememberedBrowsers.create(row(ids.a, 'alice', 'hash-a', NOW, 7));
        await store.rememberedBrowsers.create(row(ids.b, 'alice', 'hash-b', NOW - 3 * DAY, 7));
        await store.rememberedBrowsers.create(row(ids.c, 'bob', 'hash-c', NOW, 7));
        // Bob's token is nothing for alice; a live one is marked used.
        expect(await store.rememberedBrowsers.use(accountId, userId('alice'), 'hash-c', NOW, NOW - 7 * DAY)).toBeUndefined();
        expect(await store.rememberedBrowsers.use(accountId, userId('alice'), 'hash-a', NOW + DAY, NOW - 7 * DAY)).toBe(ids.a);
        // Expired, or remembered before the account's current days: nothing.
        expect(await store.rememberedBrowsers.use(accountId, userId('alice'), 'hash-a', NOW + 7 * DAY, NOW)).toBeUndefined();
        expect(await store.rememberedBrowsers.use(accountId, userId('alice'), 'hash-b', NOW, NOW - 2 * DAY)).toBeUndefined();
        const listed = await store.rememberedBrowsers.listLive(accountId, userId('alice'), NOW, NOW - 7 * DAY);
        expect(listed.map((b) => b.id)).toEqual([ids.a, ids.b]);
        expect(listed[0]).toEqual({ id: ids.a, device: 'Firefox on Linux', ip: '192.0.2.1', createdAt: NOW, expiresAt: NOW + 7 * DAY, lastUsedAt: NOW + DAY });
        expect(JSON.stringify(listed)).not.toContain('hash-');
        // Lowered to 2 days: the one remembered 3 days ago ends at once; the others at 2 days.
        expect(await store.rememberedBrowsers.shortenForAccount(accountId, 2 * DAY)).toBe(3);
        expect((await store.rememberedBrowsers.listLive(accountId, userId('alice'), NOW, 0)).map((b) => [b.id, b.expiresAt])).toEqual([[ids.a, NOW + 2 * DAY]]);
        // Only the user's expired ones: b (ended at NOW - 1 day) goes, a stays.
        expect(await store.rememberedBrowsers.deleteExpiredForUser(accountId, userId('alice'), NOW)).toBe(1);
        expect(await store.rememberedBrowsers.deleteExpiredForUser(accountId, userId('bob'), NOW)).toBe(0);
        expect(await store.rememberedBrowsers.deleteOne(accountId, userId('bob'), ids.a)).toBe(false);
        expect(await store.rememberedBrowsers.deleteOne(accountId, userId('alice'), ids.a)).toBe(true);
        expect(await store.rememberedBrowsers.deleteForUser(accountId, userId('alice'))).toBe(0);
        expect(await store.rememberedBrowsers.deleteByToken(accountId, 'hash-c')).toBe(1);
        expect(await store.rememberedBrowsers.deleteForAccount(accountId)).toBe(0);
      });

      it('refuses a second user with the same username key in one account', async () => {
        const { accountId, userId } = await tenant('alice');
        const clash = user(accountId, 'ALICE');
        expect(await store.users.create(clash)).toBe(false);
        expect(await store.users.get(accountId, clash.id)).toBeUndefined();
        expect((await store.users.findByUsername(accountId, 'alice'))?.id).toBe(userId('alice'));
        expect(await store.users.count(accountId)).toBe(1);
      });

      it('allows the same username in another account', async () => {
        const one = await tenant('alice');
        const two = await tenant('alice');
        expect(one.userId('alice')).not.toBe(two.userId('alice'));
        expect((await store.users.findByUsername(one.accountId, 'alice'))?.id).toBe(one.userId('alice'));
        expect((await store.users.findByUsername(two.accountId, 'alice'))?.id).toBe(two.userId('alice'));
      });

      it("answers undefined for a user id of another account", async () => {
        const one = await tenant('alice');
        const two = await tenant('bob');
        expect(await store.users.get(two.accountId, one.userId('alice'))).toBeUndefined();
        expect(await store.users.findByUsername(two.accountId, 'alice')).toBeUndefined();
        expect(await store.users.get(one.accountId, one.userId('alice'))).toBeDefined();
      });

      it('reports which username keys are already taken in the account', async () => {
        const one = await tenant('alice', 'bob');
        await tenant('carol');
        expect(await store.users.existingKeys(one.accountId, ['alice', 'carol', 'dave', 'bob'])).toEqual(new Set(['alice', 'bob']));
        expect(await store.users.existingKeys(one.accountId, [])).toEqual(new Set());
      });

      it("updates a user's role, state and email, in its own account only", async () => {
        const one = await tenant('alice');
        const two = await tenant();
        const changes = { role: 'admin' as const, state: 'disabled' as const, email: 'a@example.com' };
        expect(await store.users.update(two.accountId, one.userId('alice'), changes, NOW + 1)).toBe(false);
        expect(await store.users.get(one.accountId, one.userId('alice'))).toMatchObject({ role: 'agent', state: 'active', email: null });
        expect(await store.users.update(one.accountId, one.userId('alice'), changes, NOW + 1)).toBe(true);
        expect(await store.users.get(one.accountId, one.userId('alice'))).toMatchObject(changes);
      });

      it('counts the users of one account', async () => {
        const one = await tenant('a1', 'a2', 'a3');
        const two = await tenant('b1');
        expect(await store.users.count(one.accountId)).toBe(3);
        expect(await store.users.count(two.accountId)).toBe(1);
        expect(await store.users.count(nextAccountId())).toBe(0);
      });

      it('lists users in username order, a page at a time, with the total', async () => {
        const { accountId } = await tenant('eve', 'Bob', 'dave', 'alice', 'carol');
        await tenant('aaron');
        const page1 = await store.users.list(accountId, { limit: 2, offset: 0 });
        const page2 = await store.users.list(accountId, { limit: 2, offset: 2 });
        const page3 = await store.users.list(accountId, { limit: 2, offset: 4 });
        expect(page1.users.map((u) => u.username)).toEqual(['alice', 'Bob']);
        expect(page2.users.map((u) => u.username)).toEqual(['carol', 'dave']);
        expect(page3.users.map((u) => u.username)).toEqual(['eve']);
        for (const page of [page1, page2, page3]) expect(page.total).toBe(5);
      });

      it('searches usernames case-insensitively, with the total of matches', async () => {
        const { accountId } = await tenant('Maria.Lopez', 'mario', 'amari', 'bob');
        const found = await store.users.list(accountId, { search: 'MARI', limit: 2, offset: 0 });
        expect(found.total).toBe(3);
        expect(found.users.map((u) => u.username)).toEqual(['amari', 'Maria.Lopez']);
        const rest = await store.users.list(accountId, { search: 'mari', limit: 2, offset: 2 });
        expect(rest.users.map((u) => u.username)).toEqual(['mario']);
      });

      it('takes % and _ (and the escape character) in a search literally', async () => {
        const { accountId } = await tenant('a_c', 'abc', 'axxc', '50%off', '500ff', 'back\\slash', 'backslash');
        const names = async (search: string) => (await store.users.list(accountId, { search, limit: 50, offset: 0 })).users.map((u) => u.username);
        expect(await names('a_c')).toEqual(['a_c']);
        expect(await names('A_C')).toEqual(['a_c']);
        expect(await names('_')).toEqual(['a_c']);
        expect(await names('%')).toEqual(['50%off']);
        expect(await names('0%o')).toEqual(['50%off']);
        expect(await names('a%c')).toEqual([]);
        expect(await names('\\')).toEqual(['back\\slash']);
        expect((await store.users.list(accountId, { search: '%', limit: 50, offset: 0 })).total).toBe(1);
      });

      it('lists only the users of the account asked for', async () => {
        const one = await tenant('alice');
        await tenant('alina');
        const found = await store.users.list(one.accountId, { search: 'ali', limit: 50, offset: 0 });
        expect(found.users.map((u) => u.id)).toEqual([one.userId('alice')]);
        expect(found.total).toBe(1);
      });
    });

    describe('skills', () => {
      it('creates missing skills once and answers existing ones by key', async () => {
        const { accountId } = await tenant();
        const first = await store.skills.ensure(accountId, [{ id: id(), name: 'Billing', key: 'billing' }], NOW);
        const billing = first.get('billing');
        expect(billing).toMatchObject({ name: 'Billing' });
        const second = await store.skills.ensure(
          accountId,
          [
            { id: id(), name: 'BILLING', key: 'billing' },
            { id: id(), name: 'Returns', key: 'returns' },
          ],
          NOW,
        );
        expect(second.get('billing')).toEqual(billing);
        expect(second.get('returns')).toMatchObject({ name: 'Returns' });
        expect((await store.skills.list(accountId)).map((s) => s.name)).toEqual(['Billing', 'Returns']);
      });

      it('keeps skills of the same name apart in two accounts', async () => {
        const one = await tenant();
        const two = await tenant();
        const a = await store.skills.ensure(one.accountId, [{ id: id(), name: 'Billing', key: 'billing' }], NOW);
        const b = await store.skills.ensure(two.accountId, [{ id: id(), name: 'Billing', key: 'billing' }], NOW);
        expect(a.get('billing')?.id).toBeDefined();
        expect(b.get('billing')?.id).toBeDefined();
        expect(a.get('billing')?.id).not.toBe(b.get('billing')?.id);
      });

      it("assigns skills to users (twice is harmless) and lists each user's skill names", async () => {
        const { accountId, userId } = await tenant('alice', 'bob', 'carol');
        const skills = await store.skills.ensure(
          accountId,
          [
            { id: id(), name: 'Returns', key: 'returns' },
            { id: id(), name: 'Billing', key: 'billing' },
          ],
          NOW,
        );
        const all = [...skills.values()].map((s) => s.id);
        await store.skills.assign(accountId, userId('alice'), all);
        await store.skills.assign(accountId, userId('alice'), all);
        const billingId = skills.get('billing')?.id as string;
        await store.skills.assign(accountId, userId('bob'), [billingId]);
        const byUser = await store.skills.forUsers(accountId, [userId('alice'), userId('bob'), userId('carol')]);
        expect(byUser).toEqual(
          new Map([
            [userId('alice'), ['Billing', 'Returns']],
            [userId('bob'), ['Billing']],
            [userId('carol'), []],
          ]),
        );
      });

      it("does not show another account's assignments", async () => {
        const one = await tenant('alice');
        const two = await tenant();
        const skills = await store.skills.ensure(one.accountId, [{ id: id(), name: 'Billing', key: 'billing' }], NOW);
        await store.skills.assign(one.accountId, one.userId('alice'), [...skills.values()].map((s) => s.id));
        const seen = await store.skills.forUsers(two.accountId, [one.userId('alice')]);
        expect(seen.get(one.userId('alice'))).toEqual([]);
      });
    });

    describe('sessions', () => {
      it('shows a session with its user and account', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = session(accountId, userId('alice'), { state: 'pending', codeFailures: 2 });
        await store.sessions.create(s);
        const view = await store.sessions.view(s.id);
        expect(view).toEqual({
          session: s,
          user: { id: userId('alice'), username: 'alice', role: 'agent', state: 'active', passwordChangeRequired: false },
          account: { id: accountId, name: 'Acme Support', mfaEnabled: false },
          rules: noAccessRules,
        });
      });

      it('reads the account’s saved access rules with the session, and no other account’s', async () => {
        const one = await tenant('alice');
        const two = await tenant('bob');
        const s = session(one.accountId, one.userId('alice'));
        const t = session(two.accountId, two.userId('bob'));
        await store.sessions.create(s);
        await store.sessions.create(t);
        await store.accessRules.putRestriction(one.accountId, { ranges: [{ cidr: '192.0.2.0/24', label: 'Office' }], appliesTo: 'everyone_but_admins' }, NOW);
        const policy = { minPasswordLength: 14, lockAfterFailures: 5, idleTimeoutMs: 600_000, absoluteTimeoutMs: 3_600_000, inactiveDays: 30 };
        await store.accessRules.putPolicy(one.accountId, policy, NOW, NOW);
        await store.accessRules.putFactorPolicy(one.accountId, { allowed: ['webauthn'], adminsNeedKey: true }, NOW);
        await store.accessRules.putRememberBrowserDays(one.accountId, 7, NOW);
        const saved = await store.accessRules.get(one.accountId);
        expect(saved).toMatchObject({ policy, factors: { allowed: ['webauthn'], adminsNeedKey: true }, rememberBrowserDays: 7 });
        expect((await store.sessions.view(s.id))?.rules).toEqual(saved);
        expect((await store.sessions.view(t.id))?.rules).toEqual(noAccessRules);
      });

      it('reflects the account MFA setting in the view', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = session(accountId, userId('alice'));
        await store.sessions.create(s);
        await store.accounts.setMfaEnabled(accountId, true);
        expect((await store.sessions.view(s.id))?.account.mfaEnabled).toBe(true);
      });

      it('answers undefined for an unknown session id', async () => {
        expect(await store.sessions.view(id())).toBeUndefined();
      });

      it('records when a session was last seen', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = session(accountId, userId('alice'));
        await store.sessions.create(s);
        await store.sessions.touch(s.id, NOW + 5 * MINUTE);
        const view = await store.sessions.view(s.id);
        expect(view?.session.lastSeenAt).toBe(NOW + 5 * MINUTE);
        expect(view?.session.createdAt).toBe(NOW);
      });

      it('keeps the first enrolment state of a pending sign-in, with its factor type', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = session(accountId, userId('alice'), { state: 'pending' });
        await store.sessions.create(s);
        await store.sessions.setEnrolment(s.id, { type: 'totp', state: { keyId: 'k1', ciphertext: 'first' } });
        await store.sessions.setEnrolment(s.id, { type: 'totp', state: { keyId: 'k1', ciphertext: 'second' } });
        expect((await store.sessions.view(s.id))?.session.enrolment).toEqual({ type: 'totp', state: { keyId: 'k1', ciphertext: 'first' } });
      });

      it('keeps how a session was authenticated, in order, and reads a damaged record as no steps', async () => {
        const { accountId, userId } = await tenant('alice');
        const methods = [
          { kind: 'password' as const, at: NOW },
          { kind: 'recovery_code' as const, at: NOW + 1 },
        ];
        const s = session(accountId, userId('alice'), { methods });
        await store.sessions.create(s);
        expect((await store.sessions.view(s.id))?.session.methods).toEqual(methods);
        for (const damaged of ['not json', '{"kind":"totp"}', '[{"kind":"root","at":1}]']) {
          await sql`update sessions set auth_steps = ${damaged} where id = ${s.id}`.execute(t.database.db);
          expect((await store.sessions.view(s.id))?.session.methods).toEqual([]);
        }
      });

      it('counts every wrong code of a pending sign-in, also when they arrive together', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = session(accountId, userId('alice'), { state: 'pending' });
        await store.sessions.create(s);
        const counts = await Promise.all(Array.from({ length: 5 }, () => store.sessions.addCodeFailure(s.id)));
        expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
        expect((await store.sessions.view(s.id))?.session.codeFailures).toBe(5);
      });

      it('ends the full sessions without a second factor when MFA is switched on, except the one given', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const other = await tenant('carol');
        const admins = session(accountId, userId('alice'));
        const bobs = session(accountId, userId('bob'));
        const verified = session(accountId, userId('bob'), { methods: [{ kind: 'password', at: NOW }, { kind: 'totp', at: NOW }] });
        const pending = session(accountId, userId('bob'), { state: 'pending' });
        const elsewhere = session(other.accountId, other.userId('carol'));
        for (const x of [admins, bobs, verified, pending, elsewhere]) await store.sessions.create(x);
        expect(await store.sessions.deleteWithoutSecondFactor(accountId, admins.id)).toBe(1);
        expect(await store.sessions.view(bobs.id)).toBeUndefined();
        for (const kept of [admins, verified, pending, elsewhere]) expect(await store.sessions.view(kept.id)).toBeDefined();
      });

      it('records a second factor verified now: the session then counts as having one when MFA is switched on', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = session(accountId, userId('alice'));
        await store.sessions.create(s);
        const methods = [...s.methods, { kind: 'totp' as const, at: NOW + MINUTE }];
        await store.sessions.setMethods(s.id, methods, NOW + MINUTE);
        expect((await store.sessions.view(s.id))?.session).toMatchObject({ methods, lastSeenAt: NOW + MINUTE });
        expect(await store.sessions.deleteWithoutSecondFactor(accountId, null)).toBe(0);
      });

      it('deletes one session', async () => {
        const { accountId, userId } = await tenant('alice');
        const a = session(accountId, userId('alice'));
        const b = session(accountId, userId('alice'));
        await store.sessions.create(a);
        await store.sessions.create(b);
        await store.sessions.delete(a.id);
        expect(await store.sessions.view(a.id)).toBeUndefined();
        expect(await store.sessions.view(b.id)).toBeDefined();
      });

      it("ends every session of one user and no one else's", async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const other = await tenant('alice');
        const mine = [session(accountId, userId('alice')), session(accountId, userId('alice'))];
        const bobs = session(accountId, userId('bob'));
        const namesake = session(other.accountId, other.userId('alice'));
        for (const s of [...mine, bobs, namesake]) await store.sessions.create(s);
        expect(await store.sessions.deleteForUser(accountId, userId('alice'))).toBe(2);
        for (const s of mine) expect(await store.sessions.view(s.id)).toBeUndefined();
        expect(await store.sessions.view(bobs.id)).toBeDefined();
        expect(await store.sessions.view(namesake.id)).toBeDefined();
        // A user id under the wrong account ends nothing.
        expect(await store.sessions.deleteForUser(accountId, other.userId('alice'))).toBe(0);
        expect(await store.sessions.view(namesake.id)).toBeDefined();
      });

      it('deletes the sessions that expired by now, and only those', async () => {
        const { accountId, userId } = await tenant('alice');
        const later = NOW + 1000 * MINUTE;
        const expired = session(accountId, userId('alice'), { expiresAt: later - 1 });
        const expiringNow = session(accountId, userId('alice'), { expiresAt: later });
        const alive = session(accountId, userId('alice'), { expiresAt: later + 1 });
        for (const s of [expired, expiringNow, alive]) await store.sessions.create(s);
        expect(await store.sessions.deleteExpired(later)).toBeGreaterThanOrEqual(2);
        expect(await store.sessions.view(expired.id)).toBeUndefined();
        expect(await store.sessions.view(expiringNow.id)).toBeUndefined();
        expect(await store.sessions.view(alive.id)).toBeDefined();
      });
    });

    describe('throttles', () => {
      const key = (subject: string): ThrottleKey => ({ scope: 'totp', accountId: nextAccountId(), subject });

      it('counts consecutive failures', async () => {
        const k = key('u1');
        expect(await store.throttles.get(k)).toBeUndefined();
        expect(await store.throttles.addFailure(k, NOW)).toEqual({ failures: 1, lockCount: 0, lockedUntil: null });
        expect(await store.throttles.addFailure(k, NOW)).toEqual({ failures: 2, lockCount: 0, lockedUntil: null });
        expect(await store.throttles.get(k)).toEqual({ failures: 2, lockCount: 0, lockedUntil: null });
      });

      it('keeps counters of different scopes, accounts and subjects apart', async () => {
        const k = key('u1');
        await store.throttles.addFailure(k, NOW);
        await store.throttles.addFailure(k, NOW);
        expect((await store.throttles.addFailure({ ...k, scope: 'password' }, NOW)).failures).toBe(1);
        expect((await store.throttles.addFailure({ ...k, accountId: nextAccountId() }, NOW)).failures).toBe(1);
        expect((await store.throttles.addFailure({ ...k, subject: 'u2' }, NOW)).failures).toBe(1);
        expect((await store.throttles.addFailure({ scope: 'address', accountId: '', subject: '203.0.113.9' }, NOW)).failures).toBe(1);
        expect((await store.throttles.get(k))?.failures).toBe(2);
      });

      it('counts every one of 10 failures made at the same time', async () => {
        const k = key('parallel');
        const states = await Promise.all(Array.from({ length: 10 }, () => store.throttles.addFailure(k, NOW)));
        expect((await store.throttles.get(k))?.failures).toBe(10);
        // Each call saw its own failure counted: the answers are 1..10, none repeated.
        expect(states.map((s) => s.failures).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });

      it('locks only when the count reached the limit', async () => {
        const k = key('u1');
        for (let i = 0; i < 4; i++) await store.throttles.addFailure(k, NOW);
        expect(await store.throttles.lock(k, 5, 1, NOW + 15 * MINUTE, NOW)).toBe(false);
        expect(await store.throttles.get(k)).toEqual({ failures: 4, lockCount: 0, lockedUntil: null });
        await store.throttles.addFailure(k, NOW);
        expect(await store.throttles.lock(k, 5, 1, NOW + 15 * MINUTE, NOW)).toBe(true);
        expect(await store.throttles.get(k)).toEqual({ failures: 0, lockCount: 1, lockedUntil: NOW + 15 * MINUTE });
      });

      it('counts and writes nothing while locked, and answers the lock', async () => {
        const k = key('flooded');
        for (let i = 0; i < 3; i++) await store.throttles.addFailure(k, NOW);
        expect(await store.throttles.lock(k, 3, 1, NOW + 15 * MINUTE, NOW)).toBe(true);
        const row = () => t.database.db.selectFrom('throttles').selectAll().where('subject', '=', 'flooded').executeTakeFirstOrThrow();
        const locked = await row();
        for (let i = 1; i <= 5; i++) {
          expect(await store.throttles.addFailure(k, NOW + i * MINUTE)).toEqual({ failures: 0, lockCount: 1, lockedUntil: NOW + 15 * MINUTE });
          expect(await store.throttles.addFailure(k, NOW + i * MINUTE, NOW)).toEqual({ failures: 0, lockCount: 1, lockedUntil: NOW + 15 * MINUTE });
        }
        expect(await row()).toEqual(locked); // updated_at too: no write
        // Once the lock is over, counting starts again.
        expect(await store.throttles.addFailure(k, NOW + 15 * MINUTE)).toEqual({ failures: 1, lockCount: 1, lockedUntil: NOW + 15 * MINUTE });
      });

      it('lets exactly one of two racing lock calls lock', async () => {
        const k = key('race');
        for (let i = 0; i < 10; i++) await store.throttles.addFailure(k, NOW);
        const results = await Promise.all([
          store.throttles.lock(k, 10, 1, NOW + 15 * MINUTE, NOW),
          store.throttles.lock(k, 10, 1, NOW + 15 * MINUTE, NOW),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.throttles.get(k)).toEqual({ failures: 0, lockCount: 1, lockedUntil: NOW + 15 * MINUTE });
      });

      it('refuses a lock whose number does not follow the last one', async () => {
        const k = key('u1');
        for (let i = 0; i < 3; i++) await store.throttles.addFailure(k, NOW);
        expect(await store.throttles.lock(k, 3, 1, NOW + 15 * MINUTE, NOW)).toBe(true);
        for (let i = 0; i < 3; i++) await store.throttles.addFailure(k, NOW + 20 * MINUTE);
        expect(await store.throttles.lock(k, 3, 1, NOW + 35 * MINUTE, NOW + 20 * MINUTE)).toBe(false);
        expect(await store.throttles.lock(k, 3, 2, NOW + 50 * MINUTE, NOW + 20 * MINUTE)).toBe(true);
        expect(await store.throttles.get(k)).toEqual({ failures: 0, lockCount: 2, lockedUntil: NOW + 50 * MINUTE });
      });

      it('starts a windowed count again when its last failure is older than the window', async () => {
        const k = key('203.0.113.5');
        const window = 15 * MINUTE;
        for (let i = 0; i < 3; i++) await store.throttles.addFailure(k, NOW, NOW - window);
        expect((await store.throttles.get(k))?.failures).toBe(3);
        const later = NOW + 20 * MINUTE;
        expect((await store.throttles.addFailure(k, later, later - window)).failures).toBe(1);
        expect((await store.throttles.addFailure(k, later + MINUTE, later + MINUTE - window)).failures).toBe(2);
      });

      it('answers which subjects are locked now, with the end of their lock', async () => {
        const accountId = nextAccountId();
        const at = (subject: string, scope: ThrottleKey['scope'] = 'totp'): ThrottleKey => ({ scope, accountId, subject });
        const lockNow = async (k: ThrottleKey, until: number) => {
          await store.throttles.addFailure(k, NOW);
          expect(await store.throttles.lock(k, 1, 1, until, NOW)).toBe(true);
        };
        await lockNow(at('locked'), NOW + 15 * MINUTE);
        await lockNow(at('expired'), NOW - 1);
        await lockNow(at('password-only', 'password'), NOW + 15 * MINUTE);
        await store.throttles.addFailure(at('counting'), NOW);
        const locked = await store.throttles.lockedUntil('totp', accountId, ['locked', 'expired', 'password-only', 'counting', 'unknown'], NOW);
        expect(locked).toEqual(new Map([['locked', NOW + 15 * MINUTE]]));
        expect(await store.throttles.lockedUntil('totp', nextAccountId(), ['locked'], NOW)).toEqual(new Map());
      });

      it('clears a counter and its lock', async () => {
        const k = key('u1');
        const other = { ...k, subject: 'u2' };
        for (let i = 0; i < 3; i++) await store.throttles.addFailure(k, NOW);
        await store.throttles.addFailure(other, NOW);
        await store.throttles.lock(k, 3, 1, NOW + 15 * MINUTE, NOW);
        await store.throttles.clear(k);
        expect(await store.throttles.get(k)).toBeUndefined();
        expect((await store.throttles.addFailure(k, NOW)).failures).toBe(1);
        expect((await store.throttles.get(other))?.failures).toBe(1);
      });
    });

    describe('factors', () => {
      function totpFactor(accountId: string, userId: string, overrides: Partial<TotpFactor> = {}): TotpFactor {
        return {
          id: id(),
          accountId,
          userId,
          type: 'totp',
          name: 'Authenticator app',
          secret: { keyId: 'k1', ciphertext: 'sealed-secret' },
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
          lastUsedStep: 1000,
          driftSteps: 0,
          createdAt: NOW,
          createdIp: '203.0.113.7',
          lastUsedAt: null,
          ...overrides,
        };
      }

      it('keeps any number of factors per user, the oldest first, readable in their account only', async () => {
        const { accountId, userId } = await tenant('alice');
        const other = await tenant();
        const first = totpFactor(accountId, userId('alice'));
        const second = totpFactor(accountId, userId('alice'), { name: 'Work phone', createdAt: NOW + MINUTE, secret: { keyId: 'k1', ciphertext: 'other' } });
        await store.factors.createTotp(second);
        await store.factors.createTotp(first);
        expect(await store.factors.forUser(accountId, userId('alice'))).toEqual([first, second]);
        expect(await store.factors.forUser(other.accountId, userId('alice'))).toEqual([]);
        expect(await store.factors.firstCreatedAt(accountId, [userId('alice'), id()])).toEqual(new Map([[userId('alice'), NOW]]));
        expect(await store.factors.firstCreatedAt(other.accountId, [userId('alice')])).toEqual(new Map());
      });

      it('accepts each time step of an app once: a step not newer than its last is refused, also under a race', async () => {
        const { accountId, userId } = await tenant('alice');
        const app = totpFactor(accountId, userId('alice'), { lastUsedStep: 1000 });
        const otherApp = totpFactor(accountId, userId('alice'), { lastUsedStep: 1000 });
        await store.factors.createTotp(app);
        await store.factors.createTotp(otherApp);
        expect(await store.factors.recordTotpUse(accountId, userId('alice'), app.id, 1000, 0, NOW)).toBe(false);
        const race = await Promise.all([
          store.factors.recordTotpUse(accountId, userId('alice'), app.id, 1001, 1, NOW),
          store.factors.recordTotpUse(accountId, userId('alice'), app.id, 1001, 1, NOW),
        ]);
        expect(race.filter(Boolean)).toHaveLength(1);
        expect(await store.factors.recordTotpUse(accountId, userId('alice'), app.id, 999, 0, NOW)).toBe(false);
        const [a, b] = await store.factors.forUser(accountId, userId('alice'));
        expect([a, b].find((f) => f?.id === app.id)).toMatchObject({ lastUsedStep: 1001, driftSteps: 1, lastUsedAt: NOW });
        // Each app keeps its own last step.
        expect([a, b].find((f) => f?.id === otherApp.id)).toMatchObject({ lastUsedStep: 1000, lastUsedAt: null });
      });

      it('records a step only for the factor\'s own user and account', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const other = await tenant();
        const app = totpFactor(accountId, userId('alice'));
        await store.factors.createTotp(app);
        expect(await store.factors.recordTotpUse(accountId, userId('bob'), app.id, 2000, 0, NOW)).toBe(false);
        expect(await store.factors.recordTotpUse(other.accountId, userId('alice'), app.id, 2000, 0, NOW)).toBe(false);
        expect((await store.factors.forUser(accountId, userId('alice')))[0]).toMatchObject({ lastUsedStep: 1000 });
      });

      it('deletes all of a user\'s factors, only in their own account', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const other = await tenant();
        await store.factors.createTotp(totpFactor(accountId, userId('alice')));
        await store.factors.createTotp(totpFactor(accountId, userId('alice')));
        await store.factors.createTotp(totpFactor(accountId, userId('bob')));
        expect(await store.factors.deleteForUser(other.accountId, userId('alice'))).toBe(0);
        expect(await store.factors.deleteForUser(accountId, userId('alice'))).toBe(2);
        expect(await store.factors.forUser(accountId, userId('alice'))).toEqual([]);
        expect(await store.factors.forUser(accountId, userId('bob'))).toHaveLength(1);
      });

      it('reseals a secret only if it is still the ciphertext it was read as', async () => {
        const { accountId, userId } = await tenant('alice');
        const a = totpFactor(accountId, userId('alice'), { secret: { keyId: 'old', ciphertext: 'c-old' } });
        await store.factors.createTotp(a);
        expect((await store.factors.sealedWithOtherKey('new', 100)).map((x) => x.id)).toContain(a.id);
        expect(await store.factors.reseal(a.id, { keyId: 'old', ciphertext: 'stale' }, { keyId: 'new', ciphertext: 'c-new' })).toBe(false);
        expect(await store.factors.reseal(a.id, a.secret, { keyId: 'new', ciphertext: 'c-new' })).toBe(true);
        expect((await store.factors.forUser(accountId, userId('alice'))).find((f) => f.type === 'totp')).toMatchObject({ secret: { keyId: 'new', ciphertext: 'c-new' } });
        expect((await store.factors.sealedWithOtherKey('new', 100)).map((x) => x.id)).not.toContain(a.id);
      });

      it('leaves out a row of a type this version does not know', async () => {
        const { accountId, userId } = await tenant('alice');
        await store.factors.createTotp(totpFactor(accountId, userId('alice')));
        await t.database.db
          .insertInto('factors')
          .values({ id: id(), account_id: accountId, user_id: userId('alice'), type: 'future-kind', name: 'Something new', created_at: NOW, created_ip: null, last_used_at: null, secret_key_id: null, secret_ciphertext: null, algorithm: null, digits: null, period: null, last_used_step: null, drift_steps: null })
          .execute();
        expect((await store.factors.forUser(accountId, userId('alice'))).map((f) => f.type)).toEqual(['totp']);
      });
    });

    describe('security keys (webauthn factors and their challenges)', () => {
      function keyFactor(accountId: string, userId: string, overrides: Partial<WebAuthnFactor> = {}): WebAuthnFactor {
        return {
          id: id(),
          accountId,
          userId,
          type: 'webauthn',
          name: 'Security key',
          credentialId: randomBytes(32).toString('base64url'),
          publicKey: randomBytes(77).toString('base64url'),
          signCount: 5,
          transports: ['usb', 'nfc'],
          createdAt: NOW,
          createdIp: '203.0.113.7',
          lastUsedAt: null,
          ...overrides,
        };
      }

      const totpFactorOf = (accountId: string, userId: string): TotpFactor => ({
        id: id(),
        accountId,
        userId,
        type: 'totp',
        name: 'Authenticator app',
        secret: { keyId: 'k1', ciphertext: 'sealed-secret' },
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        lastUsedStep: 1000,
        driftSteps: 0,
        createdAt: NOW,
        createdIp: null,
        lastUsedAt: null,
      });

      async function pendingSession(accountId: string, userId: string): Promise<Session> {
        const s = session(accountId, userId, { state: 'pending' });
        await store.sessions.create(s);
        return s;
      }

      function challengeFor(s: Session, overrides: Partial<WebAuthnChallenge> = {}): WebAuthnChallenge {
        return {
          id: id(),
          sessionId: s.id,
          accountId: s.accountId,
          userId: s.userId,
          purpose: 'authenticate',
          challenge: randomBytes(32).toString('base64url'),
          createdAt: NOW,
          expiresAt: NOW + 5 * MINUTE,
          ...overrides,
        };
      }

      it('keeps a key with its credential id, public key, counter and transports beside the user’s apps', async () => {
        const { accountId, userId } = await tenant('alice');
        const app = totpFactorOf(accountId, userId('alice'));
        const key = keyFactor(accountId, userId('alice'), { createdAt: NOW + 1 });
        await store.factors.createTotp(app);
        await store.factors.createWebAuthn(key);
        expect(await store.factors.forUser(accountId, userId('alice'))).toEqual([app, key]);
        expect(await store.factors.credentialTaken(accountId, key.credentialId)).toBe(true);
        const other = await tenant();
        expect(await store.factors.credentialTaken(other.accountId, key.credentialId)).toBe(false);
      });

      it('refuses the same credential id twice in one account, takes it in another', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const key = keyFactor(accountId, userId('alice'));
        await store.factors.createWebAuthn(key);
        await expect(store.factors.createWebAuthn(keyFactor(accountId, userId('bob'), { credentialId: key.credentialId }))).rejects.toThrow();
        const other = await tenant('carol');
        await store.factors.createWebAuthn(keyFactor(other.accountId, other.userId('carol'), { credentialId: key.credentialId }));
        expect(await store.factors.forUser(accountId, userId('bob'))).toEqual([]);
      });

      it('records a new counter only against the counter it was checked with: of two racing assertions one wins', async () => {
        const { accountId, userId } = await tenant('alice');
        const key = keyFactor(accountId, userId('alice'), { signCount: 5 });
        await store.factors.createWebAuthn(key);
        const results = await Promise.all([
          store.factors.recordWebAuthnUse(accountId, userId('alice'), key.id, 5, 6, NOW + 1),
          store.factors.recordWebAuthnUse(accountId, userId('alice'), key.id, 5, 7, NOW + 2),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const after = (await store.factors.forUser(accountId, userId('alice')))[0];
        expect(after?.type === 'webauthn' && [6, 7].includes(after.signCount)).toBe(true);
        // Another account's or another user's name for the key reaches nothing.
        const other = await tenant('mallory');
        expect(await store.factors.recordWebAuthnUse(other.accountId, other.userId('mallory'), key.id, after?.type === 'webauthn' ? after.signCount : 0, 99, NOW)).toBe(false);
      });

      it('finds a challenge for its own session, purpose and value only, while it lives', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        const mine = await pendingSession(accountId, userId('alice'));
        const theirs = await pendingSession(accountId, userId('bob'));
        const c = challengeFor(mine);
        await store.webauthnChallenges.issue(c);
        expect(await store.webauthnChallenges.find(mine.id, 'authenticate', c.challenge, NOW)).toEqual(c);
        expect(await store.webauthnChallenges.find(theirs.id, 'authenticate', c.challenge, NOW)).toBeUndefined();
        expect(await store.webauthnChallenges.find(mine.id, 'register', c.challenge, NOW)).toBeUndefined();
        expect(await store.webauthnChallenges.find(mine.id, 'authenticate', `${c.challenge}x`, NOW)).toBeUndefined();
        expect(await store.webauthnChallenges.find(mine.id, 'authenticate', c.challenge, c.expiresAt)).toBeUndefined();
        expect(await store.webauthnChallenges.spend(mine.id, c.id, c.expiresAt)).toBe(false);
      });

      it('uses a challenge once, also when two requests race with it', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = await pendingSession(accountId, userId('alice'));
        const c = challengeFor(s);
        await store.webauthnChallenges.issue(c);
        const results = await Promise.all([store.webauthnChallenges.spend(s.id, c.id, NOW), store.webauthnChallenges.spend(s.id, c.id, NOW)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.webauthnChallenges.spend(s.id, c.id, NOW)).toBe(false);
        expect(await store.webauthnChallenges.find(s.id, 'authenticate', c.challenge, NOW)).toBeUndefined();
      });

      it('keeps one challenge per session and purpose (a new one replaces it), and none once the session ends', async () => {
        const { accountId, userId } = await tenant('alice');
        const s = await pendingSession(accountId, userId('alice'));
        const first = challengeFor(s);
        const second = challengeFor(s);
        const registering = challengeFor(s, { purpose: 'register' });
        await store.webauthnChallenges.issue(first);
        await store.webauthnChallenges.issue(second);
        await store.webauthnChallenges.issue(registering);
        expect(await store.webauthnChallenges.find(s.id, 'authenticate', first.challenge, NOW)).toBeUndefined();
        expect(await store.webauthnChallenges.find(s.id, 'authenticate', second.challenge, NOW)).toEqual(second);
        expect(await store.webauthnChallenges.find(s.id, 'register', registering.challenge, NOW)).toEqual(registering);
        await store.sessions.delete(s.id);
        expect(await store.webauthnChallenges.find(s.id, 'register', registering.challenge, NOW)).toBeUndefined();
        expect(await store.webauthnChallenges.spend(s.id, second.id, NOW)).toBe(false);
      });

      it('finds a key by its credential id within its account only (passkey sign-in), never another type of factor', async () => {
        const { accountId, userId } = await tenant('alice');
        const key = keyFactor(accountId, userId('alice'));
        await store.factors.createWebAuthn(key);
        await store.factors.createTotp(totpFactorOf(accountId, userId('alice')));
        expect(await store.factors.byCredential(accountId, key.credentialId)).toEqual(key);
        const other = await tenant();
        expect(await store.factors.byCredential(other.accountId, key.credentialId)).toBeUndefined();
        expect(await store.factors.byCredential(accountId, `${key.credentialId}x`)).toBeUndefined();
      });

      it('answers the factor types each user holds, within the account, in a fixed order', async () => {
        const { accountId, userId } = await tenant('alice', 'bob', 'carol');
        await store.factors.createWebAuthn(keyFactor(accountId, userId('alice')));
        await store.factors.createTotp(totpFactorOf(accountId, userId('alice')));
        await store.factors.createWebAuthn(keyFactor(accountId, userId('alice')));
        await store.factors.createTotp(totpFactorOf(accountId, userId('bob')));
        const types = await store.factors.typesOf(accountId, [userId('alice'), userId('bob'), userId('carol')]);
        expect(types).toEqual(new Map([[userId('alice'), ['totp', 'webauthn']], [userId('bob'), ['totp']]]));
        expect(await store.factors.typesOf(accountId, [])).toEqual(new Map());
        const other = await tenant();
        expect(await store.factors.typesOf(other.accountId, [userId('alice')])).toEqual(new Map());
      });
    });

    describe('passkey challenges (migration 013)', () => {
      function passkeyChallenge(accountId: string, overrides: Partial<PasskeyChallenge> = {}): PasskeyChallenge {
        return { id: id(), binding: randomBytes(32).toString('hex'), accountId, challenge: randomBytes(32).toString('base64url'), createdAt: NOW, expiresAt: NOW + 5 * MINUTE, ...overrides };
      }

      it("finds a challenge for its own browser's binding and value only, while it lives", async () => {
        const { accountId } = await tenant();
        const c = passkeyChallenge(accountId);
        await store.passkeyChallenges.issue(c);
        expect(await store.passkeyChallenges.find(c.binding, c.challenge, NOW)).toEqual(c);
        expect(await store.passkeyChallenges.find(`${c.binding.slice(1)}0`, c.challenge, NOW)).toBeUndefined();
        expect(await store.passkeyChallenges.find(c.binding, `${c.challenge}x`, NOW)).toBeUndefined();
        expect(await store.passkeyChallenges.find(c.binding, c.challenge, c.expiresAt)).toBeUndefined();
        expect(await store.passkeyChallenges.spend(c.binding, c.id, c.expiresAt)).toBe(false);
        expect(await store.passkeyChallenges.spend('another browser', c.id, NOW)).toBe(false);
      });

      it('uses a challenge once, also when two requests race with it; a new one replaces the browser’s last; expired ones are swept', async () => {
        const { accountId } = await tenant();
        const c = passkeyChallenge(accountId);
        await store.passkeyChallenges.issue(c);
        const results = await Promise.all([store.passkeyChallenges.spend(c.binding, c.id, NOW), store.passkeyChallenges.spend(c.binding, c.id, NOW)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.passkeyChallenges.find(c.binding, c.challenge, NOW)).toBeUndefined();

        const first = passkeyChallenge(accountId);
        const second = passkeyChallenge(accountId, { binding: first.binding });
        await store.passkeyChallenges.issue(first);
        await store.passkeyChallenges.issue(second);
        expect(await store.passkeyChallenges.find(first.binding, first.challenge, NOW)).toBeUndefined();
        expect(await store.passkeyChallenges.find(first.binding, second.challenge, NOW)).toEqual(second);
        expect(await store.passkeyChallenges.deleteExpired(second.expiresAt)).toBeGreaterThanOrEqual(1);
        expect(await store.passkeyChallenges.find(first.binding, second.challenge, NOW)).toBeUndefined();
      });
    });

    describe('recovery codes', () => {
      it('uses a code once, also when two requests race with it', async () => {
        const { accountId, userId } = await tenant('alice');
        await store.recoveryCodes.replace(accountId, userId('alice'), [
          { id: id(), hash: 'h1' },
          { id: id(), hash: 'h2' },
        ]);
        expect(await store.recoveryCodes.countUnused(accountId, userId('alice'))).toBe(2);
        const race = await Promise.all([
          store.recoveryCodes.use(accountId, userId('alice'), 'h1', NOW),
          store.recoveryCodes.use(accountId, userId('alice'), 'h1', NOW),
        ]);
        expect(race.filter(Boolean)).toHaveLength(1);
        expect(await store.recoveryCodes.use(accountId, userId('alice'), 'h1', NOW)).toBe(false);
        expect(await store.recoveryCodes.use(accountId, userId('alice'), 'unknown', NOW)).toBe(false);
        expect(await store.recoveryCodes.countUnused(accountId, userId('alice'))).toBe(1);
      });

      it("replaces a user's codes, and deletes them, in its own account only", async () => {
        const { accountId, userId } = await tenant('alice');
        const other = await tenant();
        await store.recoveryCodes.replace(accountId, userId('alice'), [{ id: id(), hash: 'old' }]);
        await store.recoveryCodes.replace(accountId, userId('alice'), [
          { id: id(), hash: 'n1' },
          { id: id(), hash: 'n2' },
        ]);
        expect(await store.recoveryCodes.use(accountId, userId('alice'), 'old', NOW)).toBe(false);
        expect(await store.recoveryCodes.use(other.accountId, userId('alice'), 'n1', NOW)).toBe(false);
        expect(await store.recoveryCodes.countUnused(accountId, userId('alice'))).toBe(2);
        expect(await store.recoveryCodes.deleteForUser(other.accountId, userId('alice'))).toBe(0);
        expect(await store.recoveryCodes.deleteForUser(accountId, userId('alice'))).toBe(2);
        expect(await store.recoveryCodes.countUnused(accountId, userId('alice'))).toBe(0);
      });
    });

    describe('password resets (migration 009)', () => {
      const reset = (accountId: string, userId: string, tokenHash: string, expiresAt = NOW + 1_000) => ({ accountId, userId, tokenHash, createdAt: NOW, expiresAt, createdBy: 'alice' });

      it('keeps one live link per user: a new one replaces the old, which then matches nothing', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        await store.passwordResets.issue(reset(accountId, userId('alice'), 'first'));
        await store.passwordResets.issue(reset(accountId, userId('alice'), 'second'));
        await store.passwordResets.issue(reset(accountId, userId('bob'), 'bobs'));
        expect(await store.passwordResets.find('first', NOW)).toBeUndefined();
        expect(await store.passwordResets.find('second', NOW)).toEqual({ accountId, userId: userId('alice') });
        expect(await store.passwordResets.find('bobs', NOW)).toEqual({ accountId, userId: userId('bob') });
      });

      it('uses a link once, also when two requests race with it, and never after it expires', async () => {
        const { accountId, userId } = await tenant('alice', 'bob');
        await store.passwordResets.issue(reset(accountId, userId('alice'), 'race'));
        const race = await Promise.all([store.passwordResets.consume('race', NOW), store.passwordResets.consume('race', NOW)]);
        expect(race.filter(Boolean)).toEqual([{ accountId, userId: userId('alice') }]);
        expect(await store.passwordResets.consume('race', NOW)).toBeUndefined();
        await store.passwordResets.issue(reset(accountId, userId('bob'), 'late', NOW + 10));
        expect(await store.passwordResets.find('late', NOW + 10)).toBeUndefined();
        expect(await store.passwordResets.consume('late', NOW + 10)).toBeUndefined();
        expect(await store.passwordResets.consume('late', NOW + 9)).toEqual({ accountId, userId: userId('bob') });
      });

      it('a password the user sets clears the admin-set flag; deleting a user’s link is scoped to its account', async () => {
        const a = account();
        expect(await store.accounts.create(a)).toBe(true);
        const u = user(a.id, 'given', { passwordChangeRequired: true });
        expect(await store.users.create(u)).toBe(true);
        expect((await store.users.get(a.id, u.id))?.passwordChangeRequired).toBe(true);
        expect(await store.users.setPassword(a.id, u.id, '$argon2id$new', NOW, u.passwordHash)).toBe(true);
        expect((await store.users.get(a.id, u.id))?.passwordChangeRequired).toBe(false);
        await store.passwordResets.issue(reset(a.id, u.id, 'scoped'));
        const other = await tenant();
        expect(await store.passwordResets.deleteForUser(other.accountId, u.id)).toBe(0);
        expect(await store.passwordResets.deleteForUser(a.id, u.id)).toBe(1);
        expect(await store.passwordResets.find('scoped', NOW)).toBeUndefined();
      });

      it('lists the active admins of one account only', async () => {
        const a = account();
        expect(await store.accounts.create(a)).toBe(true);
        const admin = user(a.id, 'boss', { role: 'admin' });
        const gone = user(a.id, 'former', { role: 'admin', state: 'disabled' });
        for (const u of [admin, gone, user(a.id, 'agent')]) expect(await store.users.create(u)).toBe(true);
        expect(await store.users.activeAdmins(a.id)).toEqual([admin.id]);
        expect(await store.users.activeAdmins((await tenant()).accountId)).toEqual([]);
      });
    });

    describe('audit', () => {
      it('lists events newest first, with their details', async () => {
        const { accountId, userId } = await tenant('alice');
        const oldest = event(accountId, { at: NOW, action: 'account.create', detail: { name: 'Acme' } });
        const newest = event(accountId, {
          at: NOW + 2 * MINUTE,
          action: 'mfa.reset',
          actorUserId: userId('alice'),
          actor: 'alice',
          target: 'bob',
          ip: '203.0.113.7',
          result: 'failure',
          detail: { reason: 'step-up', nested: { n: 1 } },
        });
        const middle = event(accountId, { at: NOW + MINUTE });
        for (const e of [oldest, newest, middle]) await store.audit.record(e);
        const listed = await store.audit.list(accountId, { limit: 10, offset: 0 });
        expect(listed.map((e) => e.id)).toEqual([newest.id, middle.id, oldest.id]);
        expect(listed[0]).toEqual(newest);
        expect(listed[2]).toEqual(oldest);
        expect((await store.audit.list(accountId, { limit: 1, offset: 1 })).map((e) => e.id)).toEqual([middle.id]);
      });

      it('filters by action', async () => {
        const { accountId } = await tenant();
        const a = event(accountId, { action: 'mfa.reset', at: NOW });
        const b = event(accountId, { action: 'user.create', at: NOW + 1 });
        const c = event(accountId, { action: 'mfa.reset', at: NOW + 2 });
        for (const e of [a, b, c]) await store.audit.record(e);
        expect((await store.audit.list(accountId, { action: 'mfa.reset', limit: 10, offset: 0 })).map((e) => e.id)).toEqual([c.id, a.id]);
      });

      it('filters by user, as actor or as target', async () => {
        const { accountId, userId } = await tenant('alice', 'bob', 'carol');
        const byAlice = event(accountId, { at: NOW, actorUserId: userId('alice'), actor: 'alice', targetUserId: userId('bob') });
        const onAlice = event(accountId, { at: NOW + 1, actorUserId: userId('carol'), actor: 'carol', targetUserId: userId('alice') });
        const unrelated = event(accountId, { at: NOW + 2, actorUserId: userId('carol'), actor: 'carol', targetUserId: userId('bob') });
        for (const e of [byAlice, onAlice, unrelated]) await store.audit.record(e);
        expect((await store.audit.list(accountId, { userId: userId('alice'), limit: 10, offset: 0 })).map((e) => e.id)).toEqual([
          onAlice.id,
          byAlice.id,
        ]);
        expect(
          (await store.audit.list(accountId, { userId: userId('alice'), action: 'mfa.reset', limit: 10, offset: 0 })).map((e) => e.id),
        ).toEqual([]);
      });

      it("never lists another account's events", async () => {
        const one = await tenant();
        const two = await tenant();
        await store.audit.record(event(one.accountId));
        expect(await store.audit.list(two.accountId, { limit: 10, offset: 0 })).toEqual([]);
      });
    });

    describe('transactions', () => {
      it('writes nothing when the function throws, and passes the error on', async () => {
        const a = account();
        const u = user(a.id, 'alice');
        const failure = new Error('boom');
        await expect(
          store.transaction(async (trx) => {
            expect(await trx.accounts.create(a)).toBe(true);
            expect(await trx.users.create(u)).toBe(true);
            await trx.audit.record(event(a.id));
            // Inside the transaction its own writes are visible.
            expect((await trx.users.get(a.id, u.id))?.username).toBe('alice');
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.accounts.get(a.id)).toBeUndefined();
        expect(await store.users.get(a.id, u.id)).toBeUndefined();
        expect(await store.audit.list(a.id, { limit: 10, offset: 0 })).toEqual([]);
      });

      it('writes everything when the function returns, and answers its value', async () => {
        const a = account();
        const u = user(a.id, 'alice');
        const result = await store.transaction(async (trx) => {
          await trx.accounts.create(a);
          await trx.users.create(u);
          return 'done';
        });
        expect(result).toBe('done');
        expect(await store.accounts.get(a.id)).toBeDefined();
        expect(await store.users.get(a.id, u.id)).toBeDefined();
      });

      // The writes that answer nothing (an audit event, a new session, a throttle
      // cleared) wait inside a PostgreSQL transaction for its next statement:
      // src/storage/compiled.ts, deferrableWrite. What a caller sees must not change.
      describe('writes that answer nothing', () => {
        const throttleKey = (accountId: string): ThrottleKey => ({ scope: 'totp', accountId, subject: 'alice' });

        it('are seen by the next statement of the transaction, and land at its commit', async () => {
          const { accountId, userId } = await tenant('alice');
          await store.throttles.addFailure(throttleKey(accountId), NOW);
          const s = session(accountId, userId('alice'));
          const e = event(accountId, { action: 'mfa.verify' });
          await store.transaction(async (trx) => {
            await trx.throttles.clear(throttleKey(accountId));
            await trx.sessions.create(s);
            await trx.audit.record(e);
            expect(await trx.throttles.get(throttleKey(accountId))).toBeUndefined();
            expect((await trx.sessions.view(s.id))?.session).toEqual(s);
            expect(await trx.audit.list(accountId, { limit: 10, offset: 0 })).toEqual([e]);
          });
          expect(await store.throttles.get(throttleKey(accountId))).toBeUndefined();
          expect((await store.sessions.view(s.id))?.session).toEqual(s);
          expect(await store.audit.list(accountId, { limit: 10, offset: 0 })).toEqual([e]);
        });

        it('land when nothing follows them but the commit, two to one table included', async () => {
          const { accountId, userId } = await tenant('alice');
          await store.throttles.addFailure(throttleKey(accountId), NOW);
          const s = session(accountId, userId('alice'));
          const first = event(accountId, { action: 'mfa.enroll', at: NOW });
          const second = event(accountId, { action: 'mfa.verify', at: NOW + 1 });
          await store.transaction(async (trx) => {
            await trx.audit.record(first);
            await trx.throttles.clear(throttleKey(accountId));
            await trx.sessions.create(s);
            await trx.audit.record(second);
          });
          expect(await store.throttles.get(throttleKey(accountId))).toBeUndefined();
          expect((await store.sessions.view(s.id))?.session).toEqual(s);
          expect(await store.audit.list(accountId, { limit: 10, offset: 0 })).toEqual([second, first]);
        });

        it('are dropped with a transaction that throws', async () => {
          const { accountId, userId } = await tenant('alice');
          await store.throttles.addFailure(throttleKey(accountId), NOW);
          const s = session(accountId, userId('alice'));
          const failure = new Error('boom');
          await expect(
            store.transaction(async (trx) => {
              await trx.throttles.clear(throttleKey(accountId));
              await trx.sessions.create(s);
              await trx.audit.record(event(accountId));
              throw failure;
            }),
          ).rejects.toBe(failure);
          expect(await store.throttles.get(throttleKey(accountId))).toMatchObject({ failures: 1 });
          expect(await store.sessions.view(s.id)).toBeUndefined();
          expect(await store.audit.list(accountId, { limit: 10, offset: 0 })).toEqual([]);
        });

        it('that fails before another statement, fails that statement and its transaction, and nothing of it lands', async () => {
          const { accountId, userId } = await tenant('alice');
          const s = session(accountId, userId('alice'));
          let failedAt: string | undefined;
          await expect(
            store.transaction(async (trx) => {
              await trx.audit.record(event(accountId));
              await trx.sessions.create(s);
              failedAt = 'create';
              await trx.sessions.create(session(accountId, 'no-such-user'));
              failedAt = 'read';
              await trx.audit.list(accountId, { limit: 10, offset: 0 });
              failedAt = undefined;
            }),
          ).rejects.toThrow(/foreign key/i);
          // SQLite answers at the insert; PostgreSQL with the statement after it.
          expect(failedAt).toBe(kind === 'sqlite' ? 'create' : 'read');
          expect(await store.sessions.view(s.id)).toBeUndefined();
          expect(await store.audit.list(accountId, { limit: 10, offset: 0 })).toEqual([]);
        });

        it('that fails, fails its transaction, and nothing of it lands', async () => {
          const { accountId, userId } = await tenant('alice');
          await store.throttles.addFailure(throttleKey(accountId), NOW);
          const s = session(accountId, userId('alice'));
          // A session of a user that does not exist breaks the foreign key: on
          // PostgreSQL the error comes with the commit, on SQLite at the insert.
          const orphan = session(accountId, 'no-such-user');
          await expect(
            store.transaction(async (trx) => {
              await trx.throttles.clear(throttleKey(accountId));
              await trx.sessions.create(s);
              await trx.audit.record(event(accountId));
              await trx.sessions.create(orphan);
            }),
          ).rejects.toThrow(/foreign key/i);
          expect(await store.throttles.get(throttleKey(accountId))).toMatchObject({ failures: 1 });
          expect(await store.sessions.view(s.id)).toBeUndefined();
          expect(await store.audit.list(accountId, { limit: 10, offset: 0 })).toEqual([]);
        });
      });
    });

    describe('schema', () => {
      it('applies every migration to a new database once, and none on a second run', async () => {
        const fresh = await openUnmigrated(kind);
        try {
          expect(await migrateToLatest(fresh.database.db)).toEqual({
            applied: ['001-foundation', '002-mfa', '003-user-search', '004-name-suffixes', '005-session-client', '006-factors', '007-oidc', '008-webauthn', '009-password-resets', '010-access-rules', '011-factor-policy', '012-remembered-browsers', '013-passkey-challenges'],
          });
          expect(await migrateToLatest(fresh.database.db)).toEqual({ applied: [] });
          // The tables are in this database (on PostgreSQL: in this schema, although
          // the suite's own schema on the same server already has them).
          const created = createStore(fresh.database.db, kind);
          const a = account();
          expect(await created.accounts.create(a)).toBe(true);
          expect(await store.accounts.get(a.id)).toBeUndefined();
        } finally {
          await fresh.close();
        }
      });

      it('applies no migration a second time', async () => {
        const { accountId } = await tenant('alice');
        expect(await migrateToLatest(t.database.db)).toEqual({ applied: [] });
        expect(await store.users.count(accountId)).toBe(1);
      });

      it('answers a ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      if (kind === 'sqlite') {
        it('keeps the SQLite file in WAL journal mode', async () => {
          const { rows } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(t.database.db);
          expect(rows[0]?.journal_mode).toBe('wal');
        });
      }
    });
  });
}
