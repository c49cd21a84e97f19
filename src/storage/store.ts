import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Dialect } from './database.ts';
import { accountQueries } from './queries/accounts.ts';
import { applicationQueries } from './queries/applications.ts';
import { oidcPayloadQueries } from './queries/oidc-payloads.ts';
import { signingKeyQueries } from './queries/signing-keys.ts';
import { passwordResetQueries } from './queries/password-resets.ts';
import { accessRuleQueries } from './queries/access-rules.ts';
import { recoveryCodeQueries } from './queries/recovery-codes.ts';
import { rememberedBrowserQueries } from './queries/remembered-browsers.ts';
import { auditQueries } from './queries/audit.ts';
import { factorQueries } from './queries/factors.ts';
import { sessionQueries } from './queries/sessions.ts';
import { skillQueries } from './queries/skills.ts';
import { throttleQueries } from './queries/throttles.ts';
import { userQueries } from './queries/users.ts';
import { passkeyChallengeQueries, webauthnChallengeQueries } from './queries/webauthn-challenges.ts';
import type { Database } from './schema.ts';

/**
 * The narrow port services use to reach storage. One implementation over
 * Kysely serves SQLite and PostgreSQL; the contract tests run on both.
 */
export interface Store {
  readonly dialect: Dialect;
  readonly accounts: ReturnType<typeof accountQueries>;
  readonly users: ReturnType<typeof userQueries>;
  readonly skills: ReturnType<typeof skillQueries>;
  readonly sessions: ReturnType<typeof sessionQueries>;
  readonly throttles: ReturnType<typeof throttleQueries>;
  readonly audit: ReturnType<typeof auditQueries>;
  readonly factors: ReturnType<typeof factorQueries>;
  readonly recoveryCodes: ReturnType<typeof recoveryCodeQueries>;
  readonly applications: ReturnType<typeof applicationQueries>;
  readonly oidcPayloads: ReturnType<typeof oidcPayloadQueries>;
  readonly signingKeys: ReturnType<typeof signingKeyQueries>;
  readonly passwordResets: ReturnType<typeof passwordResetQueries>;
  readonly webauthnChallenges: ReturnType<typeof webauthnChallengeQueries>;
  readonly passkeyChallenges: ReturnType<typeof passkeyChallengeQueries>;
  readonly accessRules: ReturnType<typeof accessRuleQueries>;
  readonly rememberedBrowsers: ReturnType<typeof rememberedBrowserQueries>;
  /** Answers when the database does; throws when it is unreachable. */
  ping(): Promise<void>;
  /**
   * Runs fn in one transaction: all of its writes land, or none. On PostgreSQL
   * a transaction that meets a prepared `select *` made stale by another
   * instance's migration (0A000, marked by postgres-connection.ts) runs again: the failed
   * try changed nothing, and that statement now goes unnamed on every
   * connection, so each try gets further. fn may therefore run more than once
   * and must keep its effects in the transaction (metrics that audit() counts
   * inside one may count a failed try too: a rolling upgrade's rare case).
   */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  /**
   * Runs fn once what this store wrote is committed: at once outside a
   * transaction; inside one, after it commits, and never if it rolls back (or
   * for a try that is run again). For effects outside the database, such as metrics.
   */
  afterCommit(fn: () => void): void;
}

/** Tries of a transaction that keeps meeting stale prepared statements (one more is unnamed each time). */
export const STALE_PLAN_TRIES = 8;

/** committed: the callbacks of the transaction this store belongs to, or undefined outside one. */
export function createStore(db: Kysely<Database>, dialect: Dialect, committed?: Array<() => void>): Store {
  return {
    dialect,
    accounts: accountQueries(db),
    users: userQueries(db),
    skills: skillQueries(db),
    sessions: sessionQueries(db),
    throttles: throttleQueries(db),
    audit: auditQueries(db),
    factors: factorQueries(db),
    recoveryCodes: recoveryCodeQueries(db),
    applications: applicationQueries(db),
    oidcPayloads: oidcPayloadQueries(db),
    signingKeys: signingKeyQueries(db),
    passwordResets: passwordResetQueries(db),
    webauthnChallenges: webauthnChallengeQueries(db),
    passkeyChallenges: passkeyChallengeQueries(db),
    accessRules: accessRuleQueries(db),
    rememberedBrowsers: rememberedBrowserQueries(db),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    afterCommit(fn) {
      if (committed) committed.push(fn);
      else fn();
    },
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        try {
          const committed: Array<() => void> = [];
          const result = await db.transaction().execute((trx) => fn(createStore(trx, dialect, committed)));
          for (const callback of committed) callback();
          return result;
        } catch (error) {
          if (attempt >= STALE_PLAN_TRIES || (error as { staleStatement?: boolean }).staleStatement !== true) throw error;
        }
      }
    },
  };
}
