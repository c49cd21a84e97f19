import { createHash } from 'node:crypto';
import { sessionDefaults } from '../config/defaults.ts';
import { secondFactorVerifiedAt } from '../domain/auth-methods.ts';
import type { AuthStep } from '../domain/auth-methods.ts';
import type { Session, SessionClient, SessionState } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
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
 * (no session signed in without one goes further).
 */
export function sessionIsLive(deps: Pick<Deps, 'settings'>, session: Session, account: { mfaEnabled: boolean }, now: number): boolean {
  if (now >= session.expiresAt) return false;
  if (session.state !== 'full') return true;
  if (now - session.lastSeenAt >= deps.settings.session.idleTimeoutMs) return false;
  return !account.mfaEnabled || secondFactorVerifiedAt(session.methods) !== null;
}

/**
 * The live session a cookie token names, or undefined. Ends sessions that are
 * no longer live (sessionIsLive), and those of users who are no longer active.
 */
export async function resolveSession(deps: Deps, token: string): Promise<SessionView | undefined> {
  if (token.length === 0 || token.length > 100) return undefined;
  const id = hashToken(token);
  const view = await deps.store.sessions.view(id);
  if (!view) return undefined;
  const now = deps.clock.now();
  const { session } = view;
  if (!sessionIsLive(deps, session, view.account, now) || view.user.state !== 'active') {
    await deps.store.sessions.delete(id);
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
