import type { Kysely, Selectable } from 'kysely';
import type { Sealed, SigningKey } from '../records.ts';
import type { Database, SigningKeysTable } from '../schema.ts';

// The provider's signing keys, newest first.

function row(key: SigningKey) {
  return {
    id: key.id,
    alg: key.alg,
    secret_key_id: key.privateJwk.keyId,
    private_jwk: key.privateJwk.ciphertext,
    created_at: key.createdAt,
    signs_from: key.signsFrom,
    retired_at: key.retiredAt,
  };
}

function toKey(row: Selectable<SigningKeysTable>): SigningKey {
  return {
    id: row.id,
    alg: row.alg === 'ES256' ? 'ES256' : 'RS256',
    privateJwk: { keyId: row.secret_key_id, ciphertext: row.private_jwk },
    createdAt: Number(row.created_at),
    signsFrom: Number(row.signs_from),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
  };
}

export function signingKeyQueries(db: Kysely<Database>) {
  return {
    async all(): Promise<SigningKey[]> {
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
      return rows.map(toKey);
    },
    async add(key: SigningKey): Promise<void> {
      await db.insertInto('signing_keys').values(row(key)).execute();
    },
    /** Inserts unless a key of that id exists (two instances making the first keys at once). */
    async addIfAbsent(key: SigningKey): Promise<void> {
      await db
        .insertInto('signing_keys')
        .values(row(key))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },
    /** Sets when a key leaves the key set, unless it was set earlier already. */
    async retire(id: string, at: number): Promise<void> {
      await db
        .updateTable('signing_keys')
        .set({ retired_at: at })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', at)]))
        .execute();
    },
    /** Replaces a key's sealed private JWK, only if it still holds the one read (keys rotate). */
    async reseal(id: string, from: Sealed, to: Sealed): Promise<boolean> {
      const result = await db
        .updateTable('signing_keys')
        .set({ secret_key_id: to.keyId, private_jwk: to.ciphertext })
        .where('id', '=', id)
        .where('secret_key_id', '=', from.keyId)
        .where('private_jwk', '=', from.ciphertext)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async deleteRetired(now: number): Promise<number> {
      const result = await db.deleteFrom('signing_keys').where('retired_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
