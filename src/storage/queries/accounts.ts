import { SqliteAdapter } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { compiledOnce } from '../compiled.ts';
import type { Account } from '../records.ts';
import type { AccountsTable, Database } from '../schema.ts';

const selectAccount = compiledOnce<{ accountId: string }, Selectable<AccountsTable>>((db, p) => db.selectFrom('accounts').selectAll().where('id', '=', p('accountId')));

export function accountQueries(db: Kysely<Database>) {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  return {
    /**
     * Inside a transaction, on PostgreSQL: locks the account's row until it
     * ends, so transactions that change who the account's admins are take
     * turns and each sees the others' outcome (two admins demoting each other
     * at once cannot both pass the "another admin remains" check). `FOR NO KEY
     * UPDATE` leaves inserts that refer to the account (sessions, audit) free.
     * On SQLite writers take turns anyway.
     */
    async lockForUpdate(accountId: string): Promise<void> {
      if (!sqlite) await db.selectFrom('accounts').select('id').where('id', '=', accountId).forNoKeyUpdate().execute();
    },

    /** Inserts unless the number is taken; answers whether it was inserted. */
    async create(account: Account): Promise<boolean> {
      const result = await db
        .insertInto('accounts')
        .values({
          id: account.id,
          name: account.name,
          mfa_enabled: account.mfaEnabled ? 1 : 0,
          created_at: account.createdAt,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    async get(accountId: string): Promise<Account | undefined> {
      const row = (await selectAccount(db, { accountId })).rows[0];
      return row && { id: row.id, name: row.name, mfaEnabled: row.mfa_enabled === 1, createdAt: row.created_at };
    },

    async setMfaEnabled(accountId: string, enabled: boolean): Promise<void> {
      await db.updateTable('accounts').set({ mfa_enabled: enabled ? 1 : 0 }).where('id', '=', accountId).execute();
    },
  };
}
