import type { Kysely, Selectable } from 'kysely';
import { changed, compiledOnce } from '../compiled.ts';
import { factorTypes } from '../../domain/auth-methods.ts';
import type { FactorType } from '../../domain/auth-methods.ts';
import type { TotpAlgorithm } from '../../domain/totp.ts';
import type { Factor, Sealed, TotpFactor, WebAuthnFactor } from '../records.ts';
import type { Database, FactorsTable } from '../schema.ts';

// A user's factors, any number of each type. Every statement names the
// account and the user: a factor id alone reaches nothing.

/** A row as a factor; undefined for a type this version does not know or a row missing its type's columns. */
function toFactor(row: Selectable<FactorsTable>): Factor | undefined {
  const base = {
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    name: row.name,
    createdAt: row.created_at,
    createdIp: row.created_ip,
    lastUsedAt: row.last_used_at,
  };
  if (row.type === 'totp') {
    if (row.secret_key_id === null || row.secret_ciphertext === null || row.algorithm === null || row.digits === null || row.period === null) return undefined;
    return {
      ...base,
      type: 'totp',
      secret: { keyId: row.secret_key_id, ciphertext: row.secret_ciphertext },
      algorithm: row.algorithm as TotpAlgorithm,
      digits: row.digits,
      period: row.period,
      lastUsedStep: row.last_used_step ?? -1,
      driftSteps: row.drift_steps ?? 0,
    };
  }
  if (row.type === 'webauthn') {
    if (row.credential_id === null || row.public_key === null) return undefined;
    return {
      ...base,
      type: 'webauthn',
      credentialId: row.credential_id,
      publicKey: row.public_key,
      signCount: row.sign_count ?? 0,
      transports: parseTransports(row.transports),
    };
  }
  return undefined;
}

/** The stored JSON list of transports; anything else reads as none (the browser then tries them all). */
function parseTransports(text: string | null): string[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

function known(rows: Array<Selectable<FactorsTable>>): Factor[] {
  return rows.map(toFactor).filter((f): f is Factor => f !== undefined);
}

type Owner = { accountId: string; userId: string };

const selectForUser = compiledOnce<Owner, Selectable<FactorsTable>>((db, p) =>
  db
    .selectFrom('factors')
    .selectAll()
    .where('account_id', '=', p('accountId'))
    .where('user_id', '=', p('userId'))
    .orderBy('created_at')
    .orderBy('id'),
);
const recordStep = compiledOnce<Owner & { id: string; step: number; drift: number; now: number }, never>((db, p) =>
  db
    .updateTable('factors')
    .set({ last_used_step: p('step'), drift_steps: p('drift'), last_used_at: p('now') })
    .where('id', '=', p('id'))
    .where('account_id', '=', p('accountId'))
    .where('user_id', '=', p('userId'))
    .where('type', '=', 'totp')
    .where('last_used_step', '<', p('step')),
);

export function factorQueries(db: Kysely<Database>) {
  return {
    /** The user's factors, the oldest first. */
    async forUser(accountId: string, userId: string): Promise<Factor[]> {
      return known((await selectForUser(db, { accountId, userId })).rows);
    },

    async createTotp(f: TotpFactor): Promise<void> {
      await db
        .insertInto('factors')
        .values({
          id: f.id,
          account_id: f.accountId,
          user_id: f.userId,
          type: 'totp',
          name: f.name,
          created_at: f.createdAt,
          created_ip: f.createdIp,
          last_used_at: f.lastUsedAt,
          secret_key_id: f.secret.keyId,
          secret_ciphertext: f.secret.ciphertext,
          algorithm: f.algorithm,
          digits: f.digits,
          period: f.period,
          last_used_step: f.lastUsedStep,
          drift_steps: f.driftSteps,
        })
        .execute();
    },

    async createWebAuthn(f: WebAuthnFactor): Promise<void> {
      await db
        .insertInto('factors')
        .values({
          id: f.id,
          account_id: f.accountId,
          user_id: f.userId,
          type: 'webauthn',
          name: f.name,
          created_at: f.createdAt,
          created_ip: f.createdIp,
          last_used_at: f.lastUsedAt,
          secret_key_id: null,
          secret_ciphertext: null,
          algorithm: null,
          digits: null,
          period: null,
          last_used_step: null,
          drift_steps: null,
          credential_id: f.credentialId,
          public_key: f.publicKey,
          sign_count: f.signCount,
          transports: JSON.stringify(f.transports),
        })
        .execute();
    },

    /** The security key or passkey of the account with this credential id, whoever holds it; undefined when none. */
    async byCredential(accountId: string, credentialId: string): Promise<WebAuthnFactor | undefined> {
      const row = await db.selectFrom('factors').selectAll().where('account_id', '=', accountId).where('credential_id', '=', credentialId).where('type', '=', 'webauthn').executeTakeFirst();
      const factor = row ? toFactor(row) : undefined;
      return factor?.type === 'webauthn' ? factor : undefined;
    },

    /** Whether a credential id is registered to anyone in the account (a credential id is unique within one). */
    async credentialTaken(accountId: string, credentialId: string): Promise<boolean> {
      const row = await db.selectFrom('factors').select('id').where('account_id', '=', accountId).where('credential_id', '=', credentialId).executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Records an accepted assertion of a security key: its new signature
     * counter, on condition that the counter is still the one the assertion
     * was checked against, so of two assertions racing only one is recorded
     * (the other was checked against a counter that is gone).
     */
    async recordWebAuthnUse(accountId: string, userId: string, id: string, checkedCount: number, newCount: number, now: number): Promise<boolean> {
      const result = await db
        .updateTable('factors')
        .set({ sign_count: newCount, last_used_at: now })
        .where('id', '=', id)
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .where('type', '=', 'webauthn')
        .where('sign_count', '=', checkedCount)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * Records an accepted step of one authenticator app. The check that the
     * step is newer than its last accepted one is part of the same UPDATE, so
     * of two requests racing with one code exactly one changes the row
     * (RFC 6238 §5.2, one use per code).
     */
    async recordTotpUse(accountId: string, userId: string, id: string, step: number, driftSteps: number, now: number): Promise<boolean> {
      return changed(await recordStep(db, { accountId, userId, id, step, drift: driftSteps, now })) === 1;
    },

    /** Renames one of the user's factors; false when the user has no factor of that id. */
    async rename(accountId: string, userId: string, id: string, name: string): Promise<boolean> {
      const result = await db
        .updateTable('factors')
        .set({ name })
        .where('id', '=', id)
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Revokes one of the user's factors; false when the user has no factor of that id (gone already, or someone else's). */
    async deleteOne(accountId: string, userId: string, id: string): Promise<boolean> {
      const result = await db.deleteFrom('factors').where('id', '=', id).where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    /** Revokes every factor of the user; answers how many. */
    async deleteForUser(accountId: string, userId: string): Promise<number> {
      const result = await db.deleteFrom('factors').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** When each of the given users set up their first factor (users without one are absent). */
    async firstCreatedAt(accountId: string, userIds: string[]): Promise<Map<string, number>> {
      if (userIds.length === 0) return new Map();
      const rows = await db
        .selectFrom('factors')
        .select(['user_id', (eb) => eb.fn.min<number>('created_at').as('first')])
        .where('account_id', '=', accountId)
        .where('user_id', 'in', userIds)
        .groupBy('user_id')
        .execute();
      return new Map(rows.map((r) => [r.user_id, Number(r.first)]));
    },

    /** The types of factor each of the given users holds, in a fixed order (users without one are absent). */
    async typesOf(accountId: string, userIds: string[]): Promise<Map<string, FactorType[]>> {
      if (userIds.length === 0) return new Map();
      const rows = await db
        .selectFrom('factors')
        .select(['user_id', 'type'])
        .distinct()
        .where('account_id', '=', accountId)
        .where('user_id', 'in', userIds)
        .execute();
      const types = new Map<string, FactorType[]>();
      for (const type of factorTypes) {
        for (const row of rows) if (row.type === type) types.set(row.user_id, [...(types.get(row.user_id) ?? []), type]);
      }
      return types;
    },

    /** A page of factors with a secret sealed under a key other than keyId, for rotation. */
    async sealedWithOtherKey(keyId: string, limit: number): Promise<TotpFactor[]> {
      const rows = await db
        .selectFrom('factors')
        .selectAll()
        .where('secret_key_id', 'is not', null)
        .where('secret_key_id', '!=', keyId)
        .orderBy('id')
        .limit(limit)
        .execute();
      return known(rows).filter((f): f is TotpFactor => f.type === 'totp');
    },

    async reseal(id: string, from: Sealed, to: Sealed): Promise<boolean> {
      const result = await db
        .updateTable('factors')
        .set({ secret_key_id: to.keyId, secret_ciphertext: to.ciphertext })
        .where('id', '=', id)
        .where('secret_ciphertext', '=', from.ciphertext)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
