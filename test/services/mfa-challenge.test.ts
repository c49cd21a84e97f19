import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amrOf } from '../../src/domain/auth-methods.ts';
import { base32Encode } from '../../src/domain/base32.ts';
import { timeStep } from '../../src/domain/totp.ts';
import { totpOffer } from '../../src/services/factors/totp.ts';
import { submitCode } from '../../src/services/mfa-challenge.ts';
import { totpContext } from '../../src/services/secret-box.ts';
import { hashToken } from '../../src/services/sessions.ts';
import { signIn } from '../../src/services/sign-in.ts';
import type { SessionView } from '../../src/storage/queries/sessions.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { STEP, addUser, codeNow, enrolByApi, mfaTenant } from '../mfa/support.ts';

// The code step as a service (no HTTP): the client names the kind of second
// factor it sends, each kind is checked by its own module, and the full
// session records how it was authenticated.

for (const kind of await storeKinds()) {
  describe(`the code step (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
    });
    afterAll(() => t.close());

    /** The password step through the service: a pending sign-in's view. */
    async function pending(username: string): Promise<SessionView> {
      const result = await signIn(t.deps, { accountId: tenant.accountId, username, password: PASSWORD, ip: '198.51.100.20' });
      if (!result.ok || result.state !== 'pending') throw new Error(`no pending sign-in: ${result.ok ? result.state : result.reason}`);
      const view = await t.deps.store.sessions.view(hashToken(result.token));
      if (!view) throw new Error('pending session not stored');
      return view;
    }

    async function fullSession(token: string): Promise<SessionView> {
      const view = await t.deps.store.sessions.view(hashToken(token));
      if (!view) throw new Error('no full session');
      return view;
    }

    /** A second authenticator app for the user, written through the store as the set-up of a further app will. */
    async function addApp(userId: string, name: string): Promise<{ id: string; secret: string }> {
      const secret = new Uint8Array(randomBytes(20));
      const id = randomBytes(16).toString('hex');
      const now = t.clock.now();
      await t.deps.store.factors.createTotp({
        id,
        accountId: tenant.accountId,
        userId,
        type: 'totp',
        name,
        secret: t.deps.secrets.seal(secret, totpContext(tenant.accountId, userId)),
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        lastUsedStep: timeStep(now, 30) - 10,
        driftSteps: 0,
        createdAt: now,
        createdIp: null,
        lastUsedAt: null,
      });
      return { id, secret: base32Encode(secret) };
    }

    it('sets up the first factor from the secret it offered, and records password then authenticator app', async () => {
      const userId = await addUser(t, tenant, 'sam');
      const { secret } = await enrolByApi(t, tenant, 'sam');
      const [factor, ...more] = await t.deps.store.factors.forUser(tenant.accountId, userId);
      expect(more).toEqual([]);
      expect(factor).toMatchObject({ type: 'totp', name: 'Authenticator app', createdIp: '127.0.0.1' });

      t.clock.advance(STEP);
      const view = await pending('sam');
      expect(view.session.methods).toEqual([{ kind: 'password', at: t.clock.now() }]);
      const result = await submitCode(t.deps, view, { method: 'totp', code: codeNow(t, secret) }, '198.51.100.21');
      if (!result.ok) throw new Error(`not signed in: ${result.reason}`);
      expect(result.method).toBe('totp');
      const full = await fullSession(result.token);
      expect(full.session.methods.map((m) => m.kind)).toEqual(['password', 'totp']);
      expect(amrOf(full.session.methods)).toEqual(['pwd', 'otp', 'mfa']);
    });

    it('takes a recovery code only when the client says it sends one, and then does not spend it as a wrong code', async () => {
      await addUser(t, tenant, 'rosa');
      const { recoveryCodes } = await enrolByApi(t, tenant, 'rosa');
      const code = recoveryCodes[0] ?? '';
      const asTotp = await submitCode(t.deps, await pending('rosa'), { method: 'totp', code }, '198.51.100.22');
      expect(asTotp).toMatchObject({ ok: false, reason: 'invalid' });
      const asRecovery = await submitCode(t.deps, await pending('rosa'), { method: 'recovery_code', code }, '198.51.100.22');
      expect(asRecovery).toMatchObject({ ok: true, method: 'recovery_code', recoveryCodesLeft: 9 });
      if (!asRecovery.ok) return;
      expect((await fullSession(asRecovery.token)).session.methods.map((m) => m.kind)).toEqual(['password', 'recovery_code']);
    });

    it('does not take an authenticator app\'s code sent as a recovery code', async () => {
      await addUser(t, tenant, 'rick');
      const { secret } = await enrolByApi(t, tenant, 'rick');
      t.clock.advance(STEP);
      const refused = await submitCode(t.deps, await pending('rick'), { method: 'recovery_code', code: codeNow(t, secret) }, '198.51.100.23');
      expect(refused).toMatchObject({ ok: false, reason: 'invalid' });
      // The code was not spent by the refusal: as what it is, it signs in.
      const accepted = await submitCode(t.deps, await pending('rick'), { method: 'totp', code: codeNow(t, secret) }, '198.51.100.23');
      expect(accepted.ok).toBe(true);
    });

    it('refuses a recovery code from a user still setting up (there is no factor for it to stand in for)', async () => {
      await addUser(t, tenant, 'una');
      const view = await pending('una');
      const result = await submitCode(t.deps, view, { method: 'recovery_code', code: 'AAAA-BBBB-CCCC' }, '198.51.100.24');
      expect(result).toMatchObject({ ok: false, reason: 'invalid' });
    });

    it('signs in with any of several authenticator apps, and records the step on the app that gave the code', async () => {
      const userId = await addUser(t, tenant, 'dana');
      const { secret: first } = await enrolByApi(t, tenant, 'dana');
      const second = await addApp(userId, 'Work phone');
      t.clock.advance(STEP);

      const viaSecond = await submitCode(t.deps, await pending('dana'), { method: 'totp', code: codeNow(t, second.secret) }, '198.51.100.25');
      expect(viaSecond.ok).toBe(true);
      const factors = await t.deps.store.factors.forUser(tenant.accountId, userId);
      expect(factors.find((f) => f.id === second.id)).toMatchObject({ lastUsedStep: timeStep(t.clock.now(), 30), lastUsedAt: t.clock.now() });
      // The same code again: refused, though the other app has not used this step.
      const replay = await submitCode(t.deps, await pending('dana'), { method: 'totp', code: codeNow(t, second.secret) }, '198.51.100.25');
      expect(replay).toMatchObject({ ok: false, reason: 'invalid' });
      // The first app's code of the same step still works: each app keeps its own last step.
      const viaFirst = await submitCode(t.deps, await pending('dana'), { method: 'totp', code: codeNow(t, first) }, '198.51.100.25');
      expect(viaFirst.ok).toBe(true);
    });

    it('refuses the offered secret\'s code once another factor was set up for the user meanwhile (no second set-up)', async () => {
      const userId = await addUser(t, tenant, 'vic');
      const view = await pending('vic');
      const offer = await totpOffer(t.deps, view);
      if (!offer) throw new Error('no offer');
      const withOffer = await t.deps.store.sessions.view(view.session.id);
      if (!withOffer) throw new Error('pending sign-in gone');
      await addApp(userId, 'Set up elsewhere');
      const secret = new URL(offer.uri).searchParams.get('secret') ?? '';
      const result = await submitCode(t.deps, withOffer, { method: 'totp', code: codeNow(t, secret) }, '198.51.100.26');
      expect(result.ok).toBe(false);
      expect(await t.deps.store.factors.forUser(tenant.accountId, userId)).toHaveLength(1);
    });
  });
}
