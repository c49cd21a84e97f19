import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';

// A contact centre behind one NAT address: a shift signing in at once must not
// lock the address, because successes in flight are not failures.

for (const kind of await storeKinds()) {
  describe(`many people behind one address (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      for (let i = 0; i < 30; i++) {
        const made = await createUser(t.deps, tenant.accountId, { username: `shift${i}`, role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null });
        if (!made.ok) throw new Error(made.errors.join('; '));
      }
    });
    afterAll(() => t.close());

    it('signs in 30 agents at once from one address, and the next one too', async () => {
      const nat = '198.51.100.200';
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => new TestBrowser(t.app, undefined, nat).json('POST', '/api/v1/login', { accountId: tenant.accountId, username: `shift${i}`, password: PASSWORD })),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(30).fill(200));
      const next = await new TestBrowser(t.app, undefined, nat).json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'bob', password: PASSWORD });
      expect(next.statusCode).toBe(200);
    });
  });
}
