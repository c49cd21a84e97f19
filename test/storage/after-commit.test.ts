import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../src/services/audit.ts';
import { createMetrics } from '../../src/services/metrics.ts';
import { systemRandom } from '../../src/runtime.ts';
import { openTestDatabase, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';

// Effects outside the database (metrics) follow the transaction: they happen
// once it commits, and not at all for one that rolls back, so /metrics and the
// audit log agree.

for (const kind of await storeKinds()) {
  describe(`afterCommit (${kind})`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await openTestDatabase(kind);
      await t.store.accounts.create({ id: '55555555', name: 'Commit', mfaEnabled: false, createdAt: 1 });
    });
    afterAll(() => t?.close());

    it('runs at once outside a transaction, after the commit inside one, and never for a rollback', async () => {
      const seen: string[] = [];
      t.store.afterCommit(() => seen.push('outside'));
      expect(seen).toEqual(['outside']);

      await t.store.transaction(async (trx) => {
        trx.afterCommit(() => seen.push('committed'));
        await trx.accounts.create({ id: '55555556', name: 'In', mfaEnabled: false, createdAt: 1 });
        expect(seen).toEqual(['outside']);
      });
      expect(seen).toEqual(['outside', 'committed']);

      await expect(
        t.store.transaction(async (trx) => {
          trx.afterCommit(() => seen.push('rolled back'));
          throw new Error('abandoned');
        }),
      ).rejects.toThrow('abandoned');
      expect(seen).toEqual(['outside', 'committed']);
    });

    it('counts an audited outcome in /metrics only when its event is committed', async () => {
      const metrics = createMetrics();
      const deps = { clock: { now: () => 1 }, random: systemRandom, metrics };
      const resets = async () => (await metrics.registry.getSingleMetric('portcullis_mfa_resets_total')?.get())?.values[0]?.value ?? 0;
      const event = { accountId: '55555555', actor: 'admin', action: 'mfa.reset', result: 'success' } as const;
      await expect(
        t.store.transaction(async (trx) => {
          await audit({ ...deps, store: trx }, event);
          throw new Error('rolled back after the audit');
        }),
      ).rejects.toThrow();
      expect(await resets()).toBe(0);
      await t.store.transaction((trx) => audit({ ...deps, store: trx }, event));
      expect(await resets()).toBe(1);
    });
  });
}
