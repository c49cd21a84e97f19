import type { Insertable, Kysely, Selectable } from 'kysely';
import { changed, compiledOnce, deferrableWrite } from '../compiled.ts';
import { parseSteps, secondFactorVerifiedAt } from '../../domain/auth-methods.ts';
import type { AuthStep, FactorType } from '../../domain/auth-methods.ts';
import type { AccessRules } from '../../domain/access-rules.ts';
import type { Role } from '../../domain/roles.ts';
import type { Enrolment, Session, SessionState, UserState } from '../records.ts';
import type { Database, SessionsTable } from '../schema.ts';
import { rulesFromRow } from './access-rules.ts';
import type { RulesColumns } from './access-rules.ts';

/** A session with what every request needs to know about its user and account. */
export interface SessionView {
  session: Session;
  user: { id: string; username: string; role: Role; state: UserState; passwordChangeRequired: boolean };
  account: { id: string; name: string; mfaEnabled: boolean };
  /** The account's access rules, read with the session (view()), for the rest of that request. */
  rules: AccessRules;
}

function toSession(row: Selectable<SessionsTable>): Session {
  return {
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    state: row.state as SessionState,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    methods: parseSteps(row.auth_steps ?? null),
    codeFailures: row.code_failures,
    enrolment:
      row.enrolment_type && row.enrolment_key_id && row.enrolment_state
        ? { type: row.enrolment_type as FactorType, state: { keyId: row.enrolment_key_id, ciphertext: row.enrolment_state } }
        : null,
    client: { ip: row.client_ip ?? null, agent: row.client_agent ?? null },
  };
}

const insertSession = deferrableWrite<Insertable<SessionsTable>>((db, p) =>
  db.insertInto('sessions').values({
    id: p('id'),
    account_id: p('account_id'),
    user_id: p('user_id'),
    state: p('state'),
    created_at: p('created_at'),
    last_seen_at: p('last_seen_at'),
    expires_at: p('expires_at'),
    mfa_verified_at: p('mfa_verified_at'),
    code_failures: p('code_failures'),
    enrolment_type: p('enrolment_type'),
    enrolment_key_id: p('enrolment_key_id'),
    enrolment_state: p('enrolment_state'),
    auth_steps: p('auth_steps'),
    client_ip: p('client_ip'),
    client_agent: p('client_agent'),
  }),
);

/** The account's access-rule columns the session view reads with it (left join: an account may have saved none). */
const RULE_COLUMNS = [
  'ranges',
  'applies_to',
  'min_password_length',
  'lock_after_failures',
  'idle_timeout_ms',
  'absolute_timeout_ms',
  'inactive_days',
  'inactive_from',
  'remember_browser_days',
  'allowed_factors',
  'admins_need_key',
] as const satisfies ReadonlyArray<keyof RulesColumns>;
/** Fails to compile when a rule column is missing from RULE_COLUMNS (the view would read it as undefined). */
const everyRuleColumn: Exclude<keyof RulesColumns, (typeof RULE_COLUMNS)[number]> extends never ? true : never = true;
void everyRuleColumn;

type ViewRow = Selectable<SessionsTable> & { u_username: string; u_role: string; u_state: string; u_pcr: number; a_name: string; a_mfa: number; r_account: string | null } & {
  [C in (typeof RULE_COLUMNS)[number] as `r_${C}`]: RulesColumns[C] | null;
};

// One statement for what every signed-in request needs: the session, its user,
// its account and the account's access rules (one round trip fewer on
// PostgreSQL than reading the rules apart; the same snapshot on either store).
const selectView = compiledOnce<{ id: string }, ViewRow>((db, p) =>
  db
    .selectFrom('sessions')
    .innerJoin('users', (j) => j.onRef('users.id', '=', 'sessions.user_id').onRef('users.account_id', '=', 'sessions.account_id'))
    .innerJoin('accounts', 'accounts.id', 'sessions.account_id')
    .leftJoin('account_access_rules', 'account_access_rules.account_id', 'sessions.account_id')
    .selectAll('sessions')
    .select(['users.username as u_username', 'users.role as u_role', 'users.state as u_state', 'users.password_change_required as u_pcr', 'accounts.name as a_name', 'accounts.mfa_enabled as a_mfa'])
    .select('account_access_rules.account_id as r_account')
    .select(RULE_COLUMNS.map((c) => `account_access_rules.${c} as r_${c}` as const))
    .where('sessions.id', '=', p('id')),
);

/** The rules' columns of a view's row, or undefined when the account saved none. */
function rulesColumnsOf(row: ViewRow): RulesColumns | undefined {
  if (row.r_account === null) return undefined;
  const columns: Record<string, unknown> = {};
  for (const c of RULE_COLUMNS) columns[c] = row[`r_${c}`];
  return columns as RulesColumns;
}

const countCodeFailure = compiledOnce<{ id: string }, { code_failures: number }>((db, p) =>
  db
    .updateTable('sessions')
    .set((eb) => ({ code_failures: eb('code_failures', '+', 1) }))
    .where('id', '=', p('id'))
    .returning('code_failures'),
);

const deleteSession = compiledOnce<{ id: string }, never>((db, p) => db.deleteFrom('sessions').where('id', '=', p('id')));

const touchSession = compiledOnce<{ id: string; now: number }, never>((db, p) => db.updateTable('sessions').set({ last_seen_at: p('now') }).where('id', '=', p('id')));

export function sessionQueries(db: Kysely<Database>) {
  return {
    async create(session: Session): Promise<void> {
      await insertSession(db, {
        id: session.id,
        account_id: session.accountId,
        user_id: session.userId,
        state: session.state,
        created_at: session.createdAt,
        last_seen_at: session.lastSeenAt,
        expires_at: session.expiresAt,
        // Derived, so the two can never disagree.
        mfa_verified_at: secondFactorVerifiedAt(session.methods),
        code_failures: session.codeFailures,
        enrolment_type: session.enrolment?.type ?? null,
        enrolment_key_id: session.enrolment?.state.keyId ?? null,
        enrolment_state: session.enrolment?.state.ciphertext ?? null,
        auth_steps: JSON.stringify(session.methods),
        client_ip: session.client.ip,
        client_agent: session.client.agent,
      });
    },

    async view(id: string): Promise<SessionView | undefined> {
      const row = (await selectView(db, { id })).rows[0];
      if (!row) return undefined;
      return {
        session: toSession(row),
        user: { id: row.user_id, username: row.u_username, role: row.u_role as Role, state: row.u_state as UserState, passwordChangeRequired: row.u_pcr === 1 },
        account: { id: row.account_id, name: row.a_name, mfaEnabled: row.a_mfa === 1 },
        rules: rulesFromRow(rulesColumnsOf(row)),
      };
    },

    /**
     * Keeps the first enrolment state of a pending sign-in: conditional on
     * there being none, so two tabs loading set-up at once show the same QR.
     */
    async setEnrolment(id: string, enrolment: Enrolment): Promise<void> {
      await db
        .updateTable('sessions')
        .set({ enrolment_type: enrolment.type, enrolment_key_id: enrolment.state.keyId, enrolment_state: enrolment.state.ciphertext })
        .where('id', '=', id)
        .where('enrolment_state', 'is', null)
        .execute();
    },

    /**
     * Sets the factor a full session is adding (Your security: another
     * authenticator app), replacing any earlier one: each start offers a new secret.
     */
    async replaceEnrolment(id: string, enrolment: Enrolment): Promise<void> {
      await db
        .updateTable('sessions')
        .set({ enrolment_type: enrolment.type, enrolment_key_id: enrolment.state.keyId, enrolment_state: enrolment.state.ciphertext })
        .where('id', '=', id)
        .execute();
    },

    /**
     * Forgets the session's enrolment, on condition that it is still the one
     * given (its ciphertext): of two confirmations racing with one secret,
     * one clears it and saves the factor; the other finds it gone.
     */
    async clearEnrolment(id: string, ciphertext: string): Promise<boolean> {
      const result = await db
        .updateTable('sessions')
        .set({ enrolment_type: null, enrolment_key_id: null, enrolment_state: null })
        .where('id', '=', id)
        .where('enrolment_state', '=', ciphertext)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Counts a wrong code against a pending sign-in in one statement; answers the new count. */
    async addCodeFailure(id: string): Promise<number> {
      const row = (await countCodeFailure(db, { id })).rows[0];
      return row?.code_failures ?? Number.POSITIVE_INFINITY;
    },

    /**
     * Ends the account's sessions that were signed in without a second factor
     * (when MFA is switched on), except the one given; answers how many.
     */
    async deleteWithoutSecondFactor(accountId: string, exceptId: string | null): Promise<number> {
      let q = db.deleteFrom('sessions').where('account_id', '=', accountId).where('mfa_verified_at', 'is', null).where('state', '=', 'full');
      if (exceptId) q = q.where('id', '!=', exceptId);
      const result = await q.executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Records how the session stands authenticated now (step-up added a factor): the steps and the time derived from them. */
    async setMethods(id: string, methods: AuthStep[], now: number): Promise<void> {
      await db
        .updateTable('sessions')
        .set({ auth_steps: JSON.stringify(methods), mfa_verified_at: secondFactorVerifiedAt(methods), last_seen_at: now })
        .where('id', '=', id)
        .execute();
    },

    async touch(id: string, now: number): Promise<void> {
      await touchSession(db, { id, now });
    },

    /** Ends one session; answers whether it was still there. */
    async delete(id: string): Promise<boolean> {
      return changed(await deleteSession(db, { id })) === 1;
    },

    /** A user's full sessions, the most recently used first; which of them are live is the services' rule (sessionIsLive). */
    async listFull(accountId: string, userId: string): Promise<Session[]> {
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .where('state', '=', 'full')
        .orderBy('last_seen_at', 'desc')
        .orderBy('id')
        .execute();
      return rows.map(toSession);
    },

    /**
     * Ends a user's sessions, pending sign-ins included: all of them, only the
     * one of this id, or all but the one of this id. Answers how many.
     */
    async deleteForUser(accountId: string, userId: string, which: 'all' | { only: string } | { except: string } = 'all'): Promise<number> {
      let q = db.deleteFrom('sessions').where('account_id', '=', accountId).where('user_id', '=', userId);
      if (which !== 'all') q = 'only' in which ? q.where('id', '=', which.only) : q.where('id', '!=', which.except);
      const result = await q.executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
