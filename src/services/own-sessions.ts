import { createHash } from 'node:crypto';
import { amrOf, describeSteps } from '../domain/auth-methods.ts';
import { keyRequired } from '../domain/factor-policy.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { sessionIsLive } from './sessions.ts';
import { endOtherApplicationSessions } from './oidc/revocation.ts';

// "Your sessions": a user sees where they are signed in and ends the sessions
// they do not recognise (OWASP ASVS 4.0.3 3.3.4). Each session is named by a
// handle derived from its id, so a page never carries the id itself.

export interface OwnSession {
  handle: string;
  /** The session this request came with. */
  current: boolean;
  createdAt: number;
  lastSeenAt: number;
  ip: string | null;
  device: string | null;
  /** How it was signed in, as a person reads it: "password and authenticator app". */
  signedInWith: string;
  /** The same as RFC 8176 method values (pwd, otp, mfa). */
  amr: string[];
}

function handleOf(sessionId: string): string {
  return createHash('sha256').update(`portcullis session handle\u0000${sessionId}`).digest('base64url').slice(0, 22);
}

/** The user's live full sessions, by the rule resolveSession applies (sessionIsLive), the most recently used first. */
async function liveSessions(deps: Deps, auth: SessionView) {
  const now = deps.clock.now();
  const [sessions, rules] = await Promise.all([deps.store.sessions.listFull(auth.account.id, auth.user.id), deps.store.accessRules.get(auth.account.id)]);
  return sessions.filter((s) => sessionIsLive(deps, s, auth.account, now, rules.policy, keyRequired(rules.factors, auth.user.role)));
}

/** The user's live full sessions, the most recently used first. */
export async function listOwnSessions(deps: Deps, auth: SessionView): Promise<OwnSession[]> {
  const sessions = await liveSessions(deps, auth);
  return sessions.map((s) => ({
    handle: handleOf(s.id),
    current: s.id === auth.session.id,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    ip: s.client.ip,
    device: s.client.agent,
    signedInWith: describeSteps(s.methods),
    amr: amrOf(s.methods),
  }));
}

/**
 * Ends one of the user's other sessions (by handle), or every other one —
 * pending sign-ins and sessions begun a moment ago included, in one statement.
 * Never the current one (that is Sign out). Answers how many ended, or
 * undefined when the handle names no other live session of this user.
 */
export async function endOwnSessions(
  deps: Deps,
  auth: SessionView,
  which: { handle: string } | 'others',
  ip: string,
  /** The provider session of the browser asking (its cookie), whose applications stay signed in. */
  providerSessionId?: string,
): Promise<number | undefined> {
  let chosen: { only: string } | { except: string } = { except: auth.session.id };
  if (which !== 'others') {
    const match = (await liveSessions(deps, auth)).find((s) => s.id !== auth.session.id && handleOf(s.id) === which.handle);
    if (!match) return undefined;
    chosen = { only: match.id };
  }
  return inTransaction(deps, async (tx) => {
    const ended = await tx.store.sessions.deleteForUser(auth.account.id, auth.user.id, chosen);
    // The applications of the other browsers end; this browser's stay (revocation.ts).
    if (which === 'others') await endOtherApplicationSessions(tx, auth.user.id, providerSessionId);
    await audit(tx, {
      accountId: auth.account.id,
      actorUserId: auth.user.id,
      actor: auth.user.username,
      targetUserId: auth.user.id,
      target: auth.user.username,
      action: 'session.end',
      ip,
      result: 'success',
      detail: { which: which === 'others' ? 'all others' : 'one', ended },
    });
    return ended;
  });
}
