import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCode } from '../../src/services/mfa-challenge.ts';
import { resetMfa } from '../../src/services/mfa-reset.ts';
import { hashToken } from '../../src/services/sessions.ts';
import type { Store } from '../../src/storage/store.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { STEP, addUser, apiPending, codeNow, enrolByApi, mfaTenant, sessionsOf } from './support.ts';

// Reset MFA landing while a sign-in's code is being checked: the code was
// right when checked, but the reset has ended the user's sessions by the time
// the new one is made. That session must be given up, not outlive the reset.
// The interleaving is forced: the reset runs just before the session is written.

for (const kind of await storeKinds()) {
  describe(`Reset MFA racing a sign-in (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
    });
    afterAll(() => t.close());

    it('gives up a session made after a concurrent reset, and answers "sign in again"', async () => {
      const userId = await addUser(t, tenant, 'racer');
      const { secret } = await enrolByApi(t, tenant, 'racer');
      t.clock.advance(STEP);
      const { client } = await apiPending(t, tenant, 'racer');
      const token = client.cookies.get('portcullis') as string;
      const view = await t.deps.store.sessions.view(hashToken(token));
      if (!view) throw new Error('no pending session');

      const store = t.deps.store;
      const racing: Store = {
        ...store,
        sessions: {
          ...store.sessions,
          create: async (session) => {
            await resetMfa(t.deps, tenant.accountId, userId, { userId: tenant.adminId, label: 'alice', ip: null });
            return store.sessions.create(session);
          },
        },
      };
      const result = await submitCode({ ...t.deps, store: racing }, view, codeNow(t, secret), '127.0.0.1');

      expect(result.kind).toBe('restart');
      expect(await t.deps.store.authenticators.get(tenant.accountId, userId)).toBeUndefined();
      expect((await sessionsOf(t, userId)).filter((s) => s.state === 'full')).toEqual([]);
    });
  });
}
