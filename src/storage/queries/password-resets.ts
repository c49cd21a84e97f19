import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export interface PasswordReset {
  accountId: string;
  userId: string;
  /** SHA-256 of the link's token, hex. */
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
  createdBy: string;
}

/** The user a live link names. */
export interface ResetTarget {
  accountId: string;
  userId: string;
}

// Reset password links: one live link per user (the primary key), found by
// the hash of its token only.
export function passwordResetQueries(db: Kysely<Database>) {
  return {
    /** Stores the user's link, replacing any earlier one: that one then matches nothing. */
    async issue(reset: PasswordReset): Promise<void> {
      const values = { token_hash: reset.tokenHash, created_at: reset.createdAt, expires_at: reset.expiresAt, created_by: reset.createdBy };
      await db
        .insertInto('password_resets')
        .values({ account_id: reset.accountId, user_id: reset.userId, ...values })
        .onConflict((oc) => oc.columns(['account_id', 'user_id']).doUpdateSet(values))
        .execute();
    },

    /** The user a link names while it is live (before now's expiry), without using it. */
    async find(tokenHash: string, now: number): Promise<ResetTarget | undefined> {
      const row = await db
        .selectFrom('password_resets')
        .select(['account_id', 'user_id'])
        .where('token_hash', '=', tokenHash)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row && { accountId: row.account_id, userId: row.user_id };
    },

    /**
     * Uses a live link: deletes it in the statement that checks it, so of two
     * requests racing with one link, one gets its user and the other nothing.
     */
    async consume(tokenHash: string, now: number): Promise<ResetTarget | undefined> {
      const row = await db
        .deleteFrom('password_resets')
        .where('token_hash', '=', tokenHash)
        .where('expires_at', '>', now)
        .returning(['account_id', 'user_id'])
        .executeTakeFirst();
      return row && { accountId: row.account_id, userId: row.user_id };
    },

    /** Ends the user's link, if any (their password was changed another way). */
    async deleteForUser(accountId: string, userId: string): Promise<number> {
      const result = await db.deleteFrom('password_resets').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
