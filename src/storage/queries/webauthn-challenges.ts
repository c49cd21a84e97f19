import type { Kysely, Selectable } from 'kysely';
import type { PasskeyChallenge, WebAuthnChallenge, WebAuthnPurpose } from '../records.ts';
import type { Database, PasskeyChallengesTable, WebAuthnChallengesTable } from '../schema.ts';

// WebAuthn challenges, kept server-side for the session that asked for one
// (W3C WebAuthn Level 3 §13.4.3: the relying party must check that the
// signed challenge is one it issued, and use each once). A session holds at
// most one of each purpose: asking again replaces it.

function toChallenge(row: Selectable<WebAuthnChallengesTable>): WebAuthnChallenge {
  return {
    id: row.id,
    sessionId: row.session_id,
    accountId: row.account_id,
    userId: row.user_id,
    purpose: row.purpose as WebAuthnPurpose,
    challenge: row.challenge,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export function webauthnChallengeQueries(db: Kysely<Database>) {
  return {
    /** Issues a challenge for a session, replacing any earlier one of the same purpose. */
    async issue(c: WebAuthnChallenge): Promise<void> {
      await db.deleteFrom('webauthn_challenges').where('session_id', '=', c.sessionId).where('purpose', '=', c.purpose).execute();
      await db
        .insertInto('webauthn_challenges')
        .values({
          id: c.id,
          session_id: c.sessionId,
          account_id: c.accountId,
          user_id: c.userId,
          purpose: c.purpose,
          challenge: c.challenge,
          created_at: c.createdAt,
          expires_at: c.expiresAt,
        })
        .execute();
    },

    /** The session's live challenge of this purpose and value, or undefined (unknown, another session's, expired or spent). */
    async find(sessionId: string, purpose: WebAuthnPurpose, challenge: string, now: number): Promise<WebAuthnChallenge | undefined> {
      const row = await db
        .selectFrom('webauthn_challenges')
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('purpose', '=', purpose)
        .where('challenge', '=', challenge)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row ? toChallenge(row) : undefined;
    },

    /**
     * Spends a challenge: deletes it if it is still there and live. The check
     * and the use are one statement, so of two requests racing with one
     * challenge exactly one gets true.
     */
    async spend(sessionId: string, id: string, now: number): Promise<boolean> {
      const result = await db
        .deleteFrom('webauthn_challenges')
        .where('id', '=', id)
        .where('session_id', '=', sessionId)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

function toPasskeyChallenge(row: Selectable<PasskeyChallengesTable>): PasskeyChallenge {
  return { id: row.id, binding: row.binding, accountId: row.account_id, challenge: row.challenge, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) };
}

/**
 * A passkey sign-in's challenges (migration 013): no session exists yet, so
 * each is bound to the browser that asked (the hash of its cookie's token) and
 * to the account it was asked for. A browser holds at most one: asking again
 * replaces it.
 */
export function passkeyChallengeQueries(db: Kysely<Database>) {
  return {
    async issue(c: PasskeyChallenge): Promise<void> {
      await db.deleteFrom('passkey_challenges').where('binding', '=', c.binding).execute();
      await db
        .insertInto('passkey_challenges')
        .values({ id: c.id, binding: c.binding, account_id: c.accountId, challenge: c.challenge, created_at: c.createdAt, expires_at: c.expiresAt })
        .execute();
    },

    /** This browser's live challenge of this value, or undefined (unknown, another browser's, expired or spent). */
    async find(binding: string, challenge: string, now: number): Promise<PasskeyChallenge | undefined> {
      const row = await db
        .selectFrom('passkey_challenges')
        .selectAll()
        .where('binding', '=', binding)
        .where('challenge', '=', challenge)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row ? toPasskeyChallenge(row) : undefined;
    },

    /** Spends a challenge: the check and the use are one statement, so of two racing requests exactly one gets true. */
    async spend(binding: string, id: string, now: number): Promise<boolean> {
      const result = await db.deleteFrom('passkey_challenges').where('id', '=', id).where('binding', '=', binding).where('expires_at', '>', now).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('passkey_challenges').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
