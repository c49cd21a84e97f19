import { createHash } from 'node:crypto';
import { sessionDefaults } from '../config/defaults.ts';
import { meetsAccountMfa, usedKey } from '../domain/auth-methods.ts';
import type { AuthStep } from '../domain/auth-methods.ts';
import type { Session, SessionClient, SessionState } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { addressAllowed } from '../domain/access-rules.ts';
import type { LoginPolicy } from '../domain/access-rules.ts';
import { keyRequired } from '../domain/factor-policy.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';

// Sessions live in the database (any instance can serve any request). The
// cookie carries a 256-bit random token; only its SHA-256 is stored, so a
// leaked database does not hand out live sessions.

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewSession {
  token: string;
  id: string;
  expiresAt: number;
}

export async function createSession(
  deps: Deps,
  user: { accountId: string; id: string },
  state: SessionState,
  client: SessionClient,
  /** How it was authenticated; a password verified just now unless said otherwise. */
  methods?: AuthStep[],
): Promise<NewSession> {
  const now = deps.clock.now();
  const steps = methods ?? [{ kind: 'password', at: now }];
  const token = Buffer.from(deps.random.bytes(sessionDefaults.tokenBytes)).toString('base64url');
  const id = hashToken(token);
  const lifetime = state === 'pending' ? deps.settings.session.pendingTimeoutMs : deps.settings.session.absoluteTimeoutMs;
  // The account's shorter absolute limit (its login policy) is applied when the session is read: sessionIsLive.
  const expiresAt = now + lifetime;
  await deps.store.sessions.create({
    id,
    accountId: user.accountId,
    userId: user.id,
    state,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
    methods: steps,
    codeFailures: 0,
    enrolment: null,
    client,
  });
  return { token, id, expiresAt };
}

/**
 * The one rule of a live session, for resolveSession and the user's own list
 * of sessions: before its absolute end; a full one also used within the idle
 * limit and, once the account requires MFA, signed in with a second factor
 * or a remembered browser (no session signed in without one goes further).
 */
export function sessionIsLive(
  deps: Pick<Deps, 'settings'>,
  session: Session,
  account: { mfaEnabled: boolean },
  now: number,
  /** The account's login policy: shorter idle and absolute limits, where it set them. */
  policy?: Pick<LoginPolicy, 'idleTimeoutMs' | 'absoluteTimeoutMs'>,
  /** The user must have signed in with a security key or passkey (an admin under Require a security key for admins). */
  keyNeeded = false,
): boolean {
  if (now >= session.expiresAt) return false;
  if (session.state !== 'full') return true;
  const idle = Math.min(deps.settings.session.idleTimeoutMs, policy?.idleTimeoutMs ?? Infinity);
  if (now - session.lastSeenAt >= idle) return false;
  if (policy?.absoluteTimeoutMs != null && now >= session.createdAt + policy.absoluteTimeoutMs) return false;
  if (keyNeeded && !usedKey(session.methods)) return false;
  return !account.mfaEnabled || meetsAccountMfa(session.methods);
}

/**
 * The live session a cookie token names, or undefined. Ends sessions that are
 * no longer live (sessionIsLive, with the account's login policy), those of
 * users who are no longer active, and, given the request's address, those used
 * from outside the account's allowed address ranges (audited with the address).
 */
export async function resolveSession(deps: Deps, token: string, ip?: string): Promise<SessionView | undefined> {
  if (token.length === 0 || token.length > 100) return undefined;
  const id = hashToken(token);
  const view = await deps.store.sessions.view(id);
  if (!view) return undefined;
  const now = deps.clock.now();
  // Read in the same statement as the session (sessions.view).
  const { session, rules } = view;
  if (!sessionIsLive(deps, session, view.account, now, rules.policy, keyRequired(rules.factors, view.user.role)) || view.user.state !== 'active') {
    await deps.store.sessions.delete(id);
    return undefined;
  }
  if (ip !== undefined && !addressAllowed(rules, view.user.role, ip)) {
    await inTransaction(deps, async (tx) => {
      await tx.store.sessions.delete(id);
      await audit(tx, {
        accountId: view.account.id,
        actorUserId: view.user.id,
        actor: view.user.username,
        action: 'session.ended_network',
        targetUserId: view.user.id,
        target: view.user.username,
        ip,
        result: 'failure',
        detail: { cause: 'address not allowed', signedInFrom: session.client.ip },
      });
    });
    return undefined;
  }
  if (now - session.lastSeenAt >= deps.settings.session.touchIntervalMs) {
    await deps.store.sessions.touch(id, now);
    session.lastSeenAt = now;
  }
  return view;
}

export async function endSession(deps: Deps, token: string): Promise<void> {
  await deps.store.sessions.delete(hashToken(token));
}
