import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export function recoveryCodeQueries(db: Kysely<Database>) {
  return {
    async replace(accountId: string, userId: string, codes: Array<{ id: string; hash: string }>): Promise<void> {
      await db.deleteFrom('recovery_codes').where('account_id', '=', accountId).where('user_id', '=', userId).execute();
      if (codes.length === 0) return;
      await db
        .insertInto('recovery_codes')
        .values(codes.map((c) => ({ id: c.id, account_id: accountId, user_id: userId, code_hash: c.hash, used_at: null })))
        .execute();
    },

    /** Marks an unused code used, in one conditional statement: a code works once even under races. */
    async use(accountId: string, userId: string, hash: string, now: number): Promise<boolean> {
      const result = await db
        .updateTable('recovery_codes')
        .set({ used_at: now })
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .where('code_hash', '=', hash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async countUnused(accountId: string, userId: string): Promise<number> {
      const row = await db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async deleteForUser(accountId: string, userId: string): Promise<number> {
      const result = await db.deleteFrom('recovery_codes').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
