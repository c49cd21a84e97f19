import type { Kysely, Selectable } from 'kysely';
import { changed, compiledOnce } from '../compiled.ts';
import type { TotpAlgorithm } from '../../domain/totp.ts';
import type { Authenticator, Sealed } from '../records.ts';
import type { AuthenticatorsTable, Database } from '../schema.ts';

function toAuthenticator(row: Selectable<AuthenticatorsTable>): Authenticator {
  return {
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    secret: { keyId: row.secret_key_id, ciphertext: row.secret_ciphertext },
    algorithm: row.algorithm as TotpAlgorithm,
    digits: row.digits,
    period: row.period,
    lastUsedStep: row.last_used_step,
    driftSteps: row.drift_steps,
    enrolledAt: row.enrolled_at,
    enrolledIp: row.enrolled_ip,
    lastUsedAt: row.last_used_at,
  };
}

type Owner = { accountId: string; userId: string };

const selectOne = compiledOnce<Owner, Selectable<AuthenticatorsTable>>((db, p) =>
  db.selectFrom('authenticators').selectAll().where('account_id', '=', p('accountId')).where('user_id', '=', p('userId')),
);
const recordStep = compiledOnce<Owner & { step: number; drift: number; now: number }, never>((db, p) =>
  db
    .updateTable('authenticators')
    .set({ last_used_step: p('step'), drift_steps: p('drift'), last_used_at: p('now') })
    .where('account_id', '=', p('accountId'))
    .where('user_id', '=', p('userId'))
    .where('last_used_step', '<', p('step')),
);

export function authenticatorQueries(db: Kysely<Database>) {
  return {
    async get(accountId: string, userId: string): Promise<Authenticator | undefined> {
      const row = (await selectOne(db, { accountId, userId })).rows[0];
      return row && toAuthenticator(row);
    },

    /** Inserts unless the user already has one (one per user); answers whether it did. */
    async create(a: Authenticator): Promise<boolean> {
      const result = await db
        .insertInto('authenticators')
        .values({
          id: a.id,
          account_id: a.accountId,
          user_id: a.userId,
          secret_key_id: a.secret.keyId,
          secret_ciphertext: a.secret.ciphertext,
          algorithm: a.algorithm,
          digits: a.digits,
          period: a.period,
          last_used_step: a.lastUsedStep,
          drift_steps: a.driftSteps,
          enrolled_at: a.enrolledAt,
          enrolled_ip: a.enrolledIp,
          last_used_at: a.lastUsedAt,
        })
        .onConflict((oc) => oc.column('user_id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    /**
     * Records an accepted step. The check that the step is newer than the last
     * accepted one is part of the same UPDATE, so of two requests racing with
     * one code exactly one changes the row (RFC 6238 §5.2, one use per code).
     */
    async recordUse(accountId: string, userId: string, step: number, driftSteps: number, now: number): Promise<boolean> {
      return changed(await recordStep(db, { accountId, userId, step, drift: driftSteps, now })) === 1;
    },

    async delete(accountId: string, userId: string): Promise<number> {
      const result = await db
        .deleteFrom('authenticators')
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Enrolment times of the given users who have an authenticator. */
    async enrolledAt(accountId: string, userIds: string[]): Promise<Map<string, number>> {
      if (userIds.length === 0) return new Map();
      const rows = await db
        .selectFrom('authenticators')
        .select(['user_id', 'enrolled_at'])
        .where('account_id', '=', accountId)
        .where('user_id', 'in', userIds)
        .execute();
      return new Map(rows.map((r) => [r.user_id, r.enrolled_at]));
    },

    /** A page of authenticators sealed under keys other than keyId, for rotation. */
    async sealedWithOtherKey(keyId: string, limit: number): Promise<Authenticator[]> {
      const rows = await db.selectFrom('authenticators').selectAll().where('secret_key_id', '!=', keyId).limit(limit).execute();
      return rows.map(toAuthenticator);
    },

    async reseal(id: string, from: Sealed, to: Sealed): Promise<boolean> {
      const result = await db
        .updateTable('authenticators')
        .set({ secret_key_id: to.keyId, secret_ciphertext: to.ciphertext })
        .where('id', '=', id)
        .where('secret_ciphertext', '=', from.ciphertext)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
