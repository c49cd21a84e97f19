import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { addUser, api, expectJsonError, signedIn } from '../admin/admin-support.ts';

// Issue 16, finding 8: a client that always sends Content-Type:
// application/json got 400 "The JSON body is empty." from the routes that take
// no body, and stayed signed in after POST /api/v1/logout.

const json = { headers: { 'content-type': 'application/json' } };

for (const kind of await storeKinds()) {
  describe(`a body-less POST that says it is JSON (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
    });
    afterAll(() => t.close());

    it('signs out with POST /api/v1/logout', async () => {
      const bob = await signedIn(t, tenant.accountId, 'bob');
      expect((await api(t, bob, 'GET', '/api/v1/session')).statusCode).toBe(200);
      const res = await api(t, bob, 'POST', '/api/v1/logout', undefined, json);
      expect(res.statusCode, res.body).toBe(200);
      expect((await api(t, bob, 'GET', '/api/v1/session')).statusCode).toBe(401);
    });

    it('resets MFA with POST /api/v1/users/:id/reset-mfa', async () => {
      const zed = await addUser(t, tenant.accountId, 'zed');
      const alice = await signedIn(t, tenant.accountId, 'alice');
      const res = await api(t, alice, 'POST', `/api/v1/users/${zed}/reset-mfa`, undefined, json);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ reset: true });
    });

    it('still refuses a sign-in with no body, naming what is missing, and one with a poisoned body', async () => {
      expectJsonError(await api(t, null, 'POST', '/api/v1/login', undefined, json), 400, 'invalid_request');
      const poisoned = await api(t, null, 'POST', '/api/v1/login', `{"accountId":"${tenant.accountId}","username":"bob","password":"${PASSWORD}","__proto__":{"x":1}}`, { raw: true });
      expectJsonError(poisoned, 400);
    });
  });
}
