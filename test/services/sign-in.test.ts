import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../src/domain/errors.ts';
import { usernameKey } from '../../src/domain/names.ts';
import { resolveSession } from '../../src/services/sessions.ts';
import { signIn } from '../../src/services/sign-in.ts';
import type { SignInInput } from '../../src/services/sign-in.ts';
import { updateUser } from '../../src/services/user-directory.ts';
import { createUser } from '../../src/services/users.ts';
import { buildTestApp, withHasher } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { enrolByApi, mfaTenant } from '../mfa/support.ts';

// The password step as a service (src/services/sign-in.ts), without HTTP: what
// it answers, what it writes, and what it spends. The HTTP tests
// (test/http/api-login.test.ts, lockout.security.test.ts, hashing-lost.test.ts)
// check how those answers look on the wire; these check the contract the
// routes rely on, on both stores. The clock is set, never slept on.

const WRONG = 'not the password at all';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';

for (const kind of await storeKinds()) {
  describe(`the password step (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let mfa: Tenant;
    let address = 0;
    let users = 0;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      mfa = await mfaTenant(t, 'Second Factor Ltd');
    });
    afterAll(async () => {
      await t?.close();
    });

    /** An address of its own for each attempt, so only the per-user count can lock. */
    const nextIp = () => `10.80.${(++address >> 8) & 255}.${address & 255}`;

    /** A user of its own for each test, so one test's counts never meet another's. */
    async function newUser(of: Tenant = tenant): Promise<{ userId: string; username: string }> {
      const username = `user${++users}`;
      const made = await createUser(t.deps, of.accountId, { username, role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
      if (!made.ok) throw new Error(made.errors.join('; '));
      return { userId: made.userId, username };
    }

    const attempt = (username: string, password: string, extra: Partial<SignInInput> = {}) =>
      signIn(t.deps, { accountId: tenant.accountId, username, password, ip: nextIp(), ...extra });

    const throttleOf = (username: string, accountId = tenant.accountId) =>
      t.deps.store.throttles.get({ scope: 'password', accountId, subject: usernameKey(username) });

    const sessionCount = async () => Number((await t.db.database.db.selectFrom('sessions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    /** The password step's audit events about a username (or user id), oldest first. */
    async function auditOf(target: string) {
      const rows = await t.db.database.db
        .selectFrom('audit_events')
        .select(['action', 'result', 'detail', 'target_user_id'])
        .where('action', 'like', 'sign_in.%')
        .where('target', '=', target)
        .orderBy('at')
        .orderBy('id')
        .execute();
      return rows.map((row) => ({ ...row, detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown) }));
    }

    /** Runs fn with a hasher that counts the verifications it is asked for (real and dummy). */
    async function counting<T>(fn: () => Promise<T>): Promise<{ result: T; verify: number; dummy: number }> {
      const calls = { verify: 0, dummy: 0 };
      const result = await withHasher(t, fn, (working) => ({
        ...working,
        verify: (hash, password) => {
          calls.verify++;
          return working.verify(hash, password);
        },
        verifyDummy: (password) => {
          calls.dummy++;
          return working.verifyDummy(password);
        },
      }));
      return { result, ...calls };
    }

    it('signs a user in with the right password when MFA is off: a full session for that user, from that client', async () => {
      const { userId, username } = await newUser();
      const ip = '192.0.2.10';
      const result = await signIn(t.deps, { accountId: tenant.accountId, username, password: PASSWORD, ip, userAgent: FIREFOX });

      expect(result).toEqual({ ok: true, token: expect.any(String), passwordChangeRequired: false, state: 'full', mfaEnrolled: false });
      if (!result.ok) throw new Error('unreachable');
      const view = await resolveSession(t.deps, result.token);
      expect(view?.user).toMatchObject({ id: userId, username });
      expect(view?.session).toMatchObject({
        state: 'full',
        expiresAt: t.clock.now() + t.settings.session.absoluteTimeoutMs,
        client: { ip, agent: 'Firefox on Linux' },
      });
      expect(await auditOf(username)).toEqual([
        { action: 'sign_in.password', result: 'success', detail: { session: 'full' }, target_user_id: userId },
      ]);
    });

    it('signs a user in with any case of the username, and answers a fresh token each time', async () => {
      const { userId, username } = await newUser();
      const first = await attempt(username.toUpperCase(), PASSWORD);
      const second = await attempt(` ${username} `, PASSWORD);
      expect(first).toMatchObject({ ok: true, state: 'full' });
      expect(second).toMatchObject({ ok: true, state: 'full' });
      if (!first.ok || !second.ok) throw new Error('unreachable');
      expect(second.token).not.toBe(first.token);
      expect((await resolveSession(t.deps, first.token))?.user.id).toBe(userId);
      expect((await resolveSession(t.deps, second.token))?.user.id).toBe(userId);
    });

    it('with MFA on, opens only a pending session for a user who has no authenticator yet, and says enrolment is needed', async () => {
      const { userId, username } = await newUser(mfa);
      const result = await signIn(t.deps, { accountId: mfa.accountId, username, password: PASSWORD, ip: nextIp() });

      expect(result).toEqual({ ok: true, token: expect.any(String), passwordChangeRequired: false, state: 'pending', mfaEnrolled: false });
      if (!result.ok) throw new Error('unreachable');
      const view = await resolveSession(t.deps, result.token);
      expect(view?.user.id).toBe(userId);
      expect(view?.session).toMatchObject({ state: 'pending', methods: [{ kind: 'password', at: t.clock.now() }], expiresAt: t.clock.now() + t.settings.session.pendingTimeoutMs });
    });

    it('with MFA on, opens only a pending session for an enrolled user, and says a code is wanted', async () => {
      const { userId, username } = await newUser(mfa);
      await enrolByApi(t, mfa, username);
      const result = await signIn(t.deps, { accountId: mfa.accountId, username, password: PASSWORD, ip: nextIp() });

      expect(result).toEqual({ ok: true, token: expect.any(String), passwordChangeRequired: false, state: 'pending', mfaEnrolled: true });
      if (!result.ok) throw new Error('unreachable');
      const view = await resolveSession(t.deps, result.token);
      expect(view?.user.id).toBe(userId);
      expect(view?.session).toMatchObject({ state: 'pending', methods: [{ kind: 'password', at: t.clock.now() }] });
    });

    it('refuses a wrong password, an unknown user and an unknown or malformed account with the same answer, each after one argon2 verification', async () => {
      const { username } = await newUser();
      const sessionsBefore = await sessionCount();
      const tries = [
        { accountId: tenant.accountId, username, password: WRONG, spends: 'verify' },
        { accountId: tenant.accountId, username: 'nobody-here', password: PASSWORD, spends: 'dummy' },
        { accountId: '99999999', username, password: PASSWORD, spends: 'dummy' },
        { accountId: 'not-a-number', username, password: PASSWORD, spends: 'dummy' },
      ] as const;
      for (const { spends, ...input } of tries) {
        const { result, verify, dummy } = await counting(() => signIn(t.deps, { ...input, ip: nextIp() }));
        expect(result, JSON.stringify(input)).toEqual({ ok: false, reason: 'invalid' });
        // The time a refusal takes tells nothing: every one pays for one hash.
        expect({ verify, dummy }, JSON.stringify(input)).toEqual(spends === 'verify' ? { verify: 1, dummy: 0 } : { verify: 0, dummy: 1 });
      }
      expect(await sessionCount()).toBe(sessionsBefore);
      // The cause is kept for the account's admins only.
      expect((await auditOf(username)).map((e) => [e.action, e.result, e.detail])).toEqual([['sign_in.password', 'failure', { cause: 'wrong password' }]]);
      expect((await auditOf('nobody-here')).map((e) => [e.action, e.result, e.detail, e.target_user_id])).toEqual([
        ['sign_in.password', 'failure', { cause: 'unknown user' }, null],
      ]);
      expect(t.logs.text).toContain('"cause":"unknown account"');
    });

    it('refuses a disabled user with the right password exactly like a wrong password, and opens no session', async () => {
      const { userId, username } = await newUser();
      const disabled = await updateUser(t.deps, tenant.accountId, userId, { role: 'agent', state: 'disabled', email: '', skillIds: [] }, { userId: tenant.adminId, label: 'alice', ip: null });
      expect(disabled).toEqual({ ok: true });
      const sessionsBefore = await sessionCount();

      const { result, verify } = await counting(() => attempt(username, PASSWORD));
      expect(result).toEqual({ ok: false, reason: 'invalid' });
      expect(verify).toBe(1);
      expect(await sessionCount()).toBe(sessionsBefore);
      expect((await auditOf(username)).filter((e) => e.action === 'sign_in.password').map((e) => e.detail)).toEqual([{ cause: 'user disabled' }]);
    });

    it('locks the username at the configured failure, refuses even the right password until the lock ends without checking it, then lets it in', async () => {
      const { username } = await newUser();
      const limit = t.settings.throttle.maxConsecutiveFailures;
      for (let i = 1; i < limit; i++) expect(await attempt(username, WRONG)).toEqual({ ok: false, reason: 'invalid' });
      expect(await throttleOf(username)).toMatchObject({ failures: limit - 1, lockedUntil: null });

      // The last failure allowed is still checked, and locks.
      const lockedUntil = t.clock.now() + t.settings.throttle.firstLockMs;
      expect(await attempt(username, WRONG)).toEqual({ ok: false, reason: 'locked', lockedUntil });
      expect((await auditOf(username)).filter((e) => e.action === 'sign_in.locked').map((e) => e.detail)).toEqual([{ scope: 'password', lockedUntil }]);

      // Locked: the right password gets the same answer, and no hash is spent on it.
      t.clock.advance(t.settings.throttle.firstLockMs - 1);
      const during = await counting(() => attempt(username, PASSWORD));
      expect(during).toEqual({ result: { ok: false, reason: 'locked', lockedUntil }, verify: 0, dummy: 0 });

      t.clock.advance(1);
      expect(await attempt(username, PASSWORD)).toMatchObject({ ok: true, state: 'full' });
      // Success starts the count over (the row may be gone: no count, no lock).
      const after = await throttleOf(username);
      expect({ failures: after?.failures ?? 0, lockedUntil: after?.lockedUntil ?? null }).toEqual({ failures: 0, lockedUntil: null });
    });

    it('a right password clears the failures before it, so the next lock needs the full count again', async () => {
      const { username } = await newUser();
      const limit = t.settings.throttle.maxConsecutiveFailures;
      for (let i = 1; i < limit; i++) await attempt(username, WRONG);
      expect(await attempt(username, PASSWORD)).toMatchObject({ ok: true });
      for (let i = 1; i < limit; i++) expect(await attempt(username, WRONG)).toEqual({ ok: false, reason: 'invalid' });
      expect(await attempt(username, WRONG)).toMatchObject({ ok: false, reason: 'locked' });
    });

    it('locks an unknown username after the same count, so a lock tells nothing about who exists', async () => {
      const limit = t.settings.throttle.maxConsecutiveFailures;
      const ghost = 'ghost-of-a-user';
      for (let i = 1; i < limit; i++) expect(await attempt(ghost, WRONG)).toEqual({ ok: false, reason: 'invalid' });
      expect(await attempt(ghost, WRONG)).toEqual({ ok: false, reason: 'locked', lockedUntil: t.clock.now() + t.settings.throttle.firstLockMs });
    });

    it('when no hashing thread answers, throws TemporarilyUnavailable for a known and an unknown user alike, and counts nothing', async () => {
      const { username } = await newUser();
      const sessionsBefore = await sessionCount();
      const ip = nextIp();
      await withHasher(t, async () => {
        for (const name of [username, 'nobody-by-this-name']) {
          // More tries than the lock allows: none of them was checked, so none counts.
          for (let i = 0; i <= t.settings.throttle.maxConsecutiveFailures; i++) {
            await expect(attempt(name, PASSWORD, { ip })).rejects.toBeInstanceOf(TemporarilyUnavailable);
          }
        }
      });
      expect(await throttleOf(username)).toMatchObject({ failures: 0, lockedUntil: null });
      expect(await throttleOf('nobody-by-this-name')).toMatchObject({ failures: 0, lockedUntil: null });
      // Not against the address either, and not audited as a failed password.
      expect(await t.deps.store.throttles.get({ scope: 'address', accountId: '', subject: ip })).toBeUndefined();
      expect(await auditOf(username)).toEqual([]);
      expect(await sessionCount()).toBe(sessionsBefore);
      // Once hashing is back, the same user signs in at once.
      expect(await attempt(username, PASSWORD, { ip })).toMatchObject({ ok: true });
    });

    it('takes back the lock an unchecked last attempt set, and keeps the real failures before it', async () => {
      const { username } = await newUser();
      const limit = t.settings.throttle.maxConsecutiveFailures;
      for (let i = 1; i < limit; i++) await attempt(username, WRONG);
      await withHasher(t, async () => {
        await expect(attempt(username, PASSWORD)).rejects.toBeInstanceOf(TemporarilyUnavailable);
      });
      expect(await throttleOf(username)).toMatchObject({ failures: limit - 1, lockedUntil: null });
      // The real failures still count: the next wrong one locks.
      expect(await attempt(username, WRONG)).toMatchObject({ ok: false, reason: 'locked' });
    });
  });
}
