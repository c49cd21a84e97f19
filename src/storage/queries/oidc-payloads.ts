import type { Kysely, Selectable } from 'kysely';
import type { OidcPayload } from '../records.ts';
import type { Database, OidcPayloadsTable } from '../schema.ts';

// oidc-provider's storage (its adapter interface: upsert, find, findByUid,
// findByUserCode, consume, destroy, revokeByGrantId), one table for every
// model. A row past its expiry is not found; deleteExpired only keeps the
// table small. consume is a conditional update, so of two instances
// redeeming one authorization code at once exactly one consumes it.

export interface PayloadIndex {
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  /** The signed-in user (the provider's accountId, our user id). */
  userId: string | null;
  expiresAt: number | null;
}

function toPayload(row: Pick<Selectable<OidcPayloadsTable>, 'payload' | 'consumed_at'>): OidcPayload {
  return { payload: JSON.parse(row.payload) as Record<string, unknown>, consumedAt: row.consumed_at === null ? null : Number(row.consumed_at) };
}

export function oidcPayloadQueries(db: Kysely<Database>) {
  const live = (now: number) =>
    db
      .selectFrom('oidc_payloads')
      .select(['payload', 'consumed_at'])
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
  return {
    async upsert(model: string, id: string, payload: string, index: PayloadIndex): Promise<void> {
      const values = {
        payload,
        grant_id: index.grantId,
        uid: index.uid,
        user_code: index.userCode,
        user_id: index.userId,
        expires_at: index.expiresAt,
      };
      await db
        .insertInto('oidc_payloads')
        .values({ model, id, ...values, consumed_at: null })
        .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values))
        .execute();
    },
    async find(model: string, id: string, now: number): Promise<OidcPayload | undefined> {
      const row = await live(now).where('model', '=', model).where('id', '=', id).executeTakeFirst();
      return row ? toPayload(row) : undefined;
    },
    async findByUid(model: string, uid: string, now: number): Promise<OidcPayload | undefined> {
      const row = await live(now).where('model', '=', model).where('uid', '=', uid).executeTakeFirst();
      return row ? toPayload(row) : undefined;
    },
    async findByUserCode(model: string, userCode: string, now: number): Promise<OidcPayload | undefined> {
      const row = await live(now).where('model', '=', model).where('user_code', '=', userCode).executeTakeFirst();
      return row ? toPayload(row) : undefined;
    },
    /** Marks the row consumed; false when it was consumed already (or is gone). */
    async consume(model: string, id: string, now: number): Promise<boolean> {
      const result = await db
        .updateTable('oidc_payloads')
        .set({ consumed_at: now })
        .where('model', '=', model)
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    /** The grant id a row carries, if any (to revoke what a replayed code issued). */
    async grantOf(model: string, id: string): Promise<string | null> {
      const row = await db.selectFrom('oidc_payloads').select('grant_id').where('model', '=', model).where('id', '=', id).executeTakeFirst();
      return row?.grant_id ?? null;
    },
    async destroy(model: string, id: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute();
    },
    /** Every token and code issued under a grant, and the grant itself. */
    async revokeGrant(grantId: string): Promise<number> {
      const result = await db
        .deleteFrom('oidc_payloads')
        .where((eb) => eb.or([eb('grant_id', '=', grantId), eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)])]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    /** The user's provider sessions, for the back-channel logout their end sends. */
    async sessionsOf(userId: string, now: number): Promise<Array<Record<string, unknown>>> {
      const rows = await live(now).select('id').where('model', '=', 'Session').where('user_id', '=', userId).execute();
      return rows.map((row) => ({ jti: row.id, ...toPayload(row).payload }));
    },
    /** The provider sessions of an account's users. */
    async sessionsOfAccount(accountId: string, now: number): Promise<Array<Record<string, unknown>>> {
      const rows = await db
        .selectFrom('oidc_payloads')
        .innerJoin('users', 'users.id', 'oidc_payloads.user_id')
        .select(['oidc_payloads.id', 'oidc_payloads.payload', 'oidc_payloads.consumed_at'])
        .where('users.account_id', '=', accountId)
        .where('oidc_payloads.model', '=', 'Session')
        .where((eb) => eb.or([eb('oidc_payloads.expires_at', 'is', null), eb('oidc_payloads.expires_at', '>', now)]))
        .execute();
      return rows.map((row) => ({ jti: row.id, ...toPayload(row).payload }));
    },
    /** Everything of the user the provider holds: sessions, grants, codes and tokens. */
    async deleteForUser(userId: string): Promise<number> {
      const result = await db.deleteFrom('oidc_payloads').where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    /**
     * Everything of the user but one provider session and what its grants
     * issued ("sign out all other sessions" from the browser that holds it).
     */
    async deleteForUserExcept(userId: string, keep: { sessionId: string; grantIds: string[] }): Promise<number> {
      const result = await db
        .deleteFrom('oidc_payloads')
        .where('user_id', '=', userId)
        .where((eb) => eb.not(eb.and([eb('model', '=', 'Session'), eb('id', '=', keep.sessionId)])))
        .$if(keep.grantIds.length > 0, (q) =>
          q
            .where((eb) => eb.or([eb('grant_id', 'is', null), eb('grant_id', 'not in', keep.grantIds)]))
            .where((eb) => eb.not(eb.and([eb('model', '=', 'Grant'), eb('id', 'in', keep.grantIds)]))),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
