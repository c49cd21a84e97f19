import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changed, compiledOnce } from '../../src/storage/compiled.ts';
import { openTestDatabase, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';

// A query compiled once runs with each call's values, keeps the constants it
// was built with, and is compiled anew for each dialect (one function here
// serves both stores, as the query modules do).

const namedWithMfa = compiledOnce<{ name: string }, { id: string }>((db, p) =>
  db.selectFrom('accounts').select('id').where('name', '=', p('name')).where('mfa_enabled', '=', 1).orderBy('id'),
);
const rename = compiledOnce<{ id: string; name: string }, never>((db, p) => db.updateTable('accounts').set({ name: p('name') }).where('id', '=', p('id')));

const kinds = await storeKinds();
const opened: TestDatabase[] = [];
beforeAll(async () => {
  for (const kind of kinds) {
    const t = await openTestDatabase(kind);
    opened.push(t);
    for (const [id, name, mfa] of [['10000001', 'Acme', true], ['10000002', 'Acme', false], ['10000003', 'Globex', true]] as const) {
      await t.store.accounts.create({ id, name, mfaEnabled: mfa, createdAt: 1 });
    }
  }
});
afterAll(async () => {
  for (const t of opened) await t.close();
});

describe('queries compiled once', () => {
  it('answer with the values of each call and the constants of the build, on every store', async () => {
    expect(opened.map((t) => t.name)).toEqual(kinds);
    for (const t of opened) {
      const db = t.database.db;
      expect((await namedWithMfa(db, { name: 'Acme' })).rows).toEqual([{ id: '10000001' }]);
      expect((await namedWithMfa(db, { name: 'Globex' })).rows).toEqual([{ id: '10000003' }]);
      expect((await namedWithMfa(db, { name: "Acme' or '1'='1" })).rows).toEqual([]);
    }
  });

  it('count the rows they change, and run inside a transaction', async () => {
    for (const t of opened) {
      const db = t.database.db;
      expect(changed(await rename(db, { id: '10000002', name: 'Initech' }))).toBe(1);
      expect(changed(await rename(db, { id: '99999999', name: 'Nobody' }))).toBe(0);
      await expect(
        db.transaction().execute(async (trx) => {
          await rename(trx, { id: '10000003', name: 'Umbrella' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await t.store.accounts.get('10000002'))?.name).toBe('Initech');
      expect((await t.store.accounts.get('10000003'))?.name).toBe('Globex');
    }
  });
});
