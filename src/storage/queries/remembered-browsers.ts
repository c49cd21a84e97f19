import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export interface RememberedBrowser {
  id: string;
  accountId: string;
  userId: string;
  /** SHA-256 of the cookie's token, hex. */
  tokenHash: string;
  device: string | null;
  ip: string | null;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
}

/** A row as the user and the admin see it: never the token's hash. */
export type RememberedBrowserView = Omit<RememberedBrowser, 'tokenHash' | 'accountId' | 'userId'>;

/**
 * The browsers users chose to remember (migration 012). Every lookup names
 * the account and the user: a token found for another user is no token.
 * live: not expired at `now`, and remembered at or after `notBefore` (the
 * account's current number of days back from now).
 */
export function rememberedBrowserQueries(db: Kysely<Database>) {
  const live = (accountId: string, userId: string, now: number, notBefore: number) =>
    db
      .selectFrom('remembered_browsers')
      .where('account_id', '=', accountId)
      .where('user_id', '=', userId)
      .where('expires_at', '>', now)
      .where('created_at', '>=', notBefore);

  return {
    async create(row: RememberedBrowser): Promise<void> {
      await db
        .insertInto('remembered_browsers')
        .values({
          id: row.id,
          account_id: row.accountId,
          user_id: row.userId,
          token_hash: row.tokenHash,
          device: row.device,
          ip: row.ip,
          created_at: row.createdAt,
          expires_at: row.expiresAt,
          last_used_at: row.lastUsedAt,
        })
        .execute();
    },

    /** The id of the user's live row with this token's hash, marked used now; undefined otherwise. */
    async use(accountId: string, userId: string, tokenHash: string, now: number, notBefore: number): Promise<string | undefined> {
      const row = await live(accountId, userId, now, notBefore).select('id').where('token_hash', '=', tokenHash).executeTakeFirst();
      if (!row) return undefined;
      await db.updateTable('remembered_browsers').set({ last_used_at: now }).where('id', '=', row.id).execute();
      return row.id;
    },

    /** The user's live rows, the most recently remembered first. */
    async listLive(accountId: string, userId: string, now: number, notBefore: number): Promise<RememberedBrowserView[]> {
      const rows = await live(accountId, userId, now, notBefore)
        .select(['id', 'device', 'ip', 'created_at', 'expires_at', 'last_used_at'])
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ id: r.id, device: r.device, ip: r.ip, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at }));
    },

    /** Deletes one of the user's rows; answers whether it existed. */
    async deleteOne(accountId: string, userId: string, id: string): Promise<boolean> {
      const result = await db.deleteFrom('remembered_browsers').where('account_id', '=', accountId).where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async deleteForUser(accountId: string, userId: string): Promise<number> {
      const result = await db.deleteFrom('remembered_browsers').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Deletes the user's rows that expired by `now` (they match nothing any more). */
    async deleteExpiredForUser(accountId: string, userId: string, now: number): Promise<number> {
      const result = await db
        .deleteFrom('remembered_browsers')
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .where('expires_at', '<=', now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async deleteForAccount(accountId: string): Promise<number> {
      const result = await db.deleteFrom('remembered_browsers').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /**
     * The account's setting was lowered: every row ends at most `lifetimeMs`
     * after it was remembered. Answers how many were shortened.
     */
    async shortenForAccount(accountId: string, lifetimeMs: number): Promise<number> {
      const result = await db
        .updateTable('remembered_browsers')
        .set((eb) => ({ expires_at: eb('created_at', '+', lifetimeMs) }))
        .where('account_id', '=', accountId)
        .where((eb) => eb('expires_at', '>', eb('created_at', '+', lifetimeMs)))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    /** Deletes the row of a token this browser held (it is being replaced), whoever's it was in the account. */
    async deleteByToken(accountId: string, tokenHash: string): Promise<number> {
      const result = await db.deleteFrom('remembered_browsers').where('account_id', '=', accountId).where('token_hash', '=', tokenHash).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
