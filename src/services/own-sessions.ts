import { createHash } from 'node:crypto';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';

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
}

function handleOf(sessionId: string): string {
  return createHash('sha256').update(`portcullis session handle\u0000${sessionId}`).digest('base64url').slice(0, 22);
}

/** The user's live full sessions, the most recently used first. */
export async function listOwnSessions(deps: Deps, auth: SessionView): Promise<OwnSession[]> {
  const now = deps.clock.now();
  const sessions = await deps.store.sessions.listFull(auth.account.id, auth.user.id, now, now - deps.settings.session.idleTimeoutMs);
  return sessions.map((s) => ({
    handle: handleOf(s.id),
    current: s.id === auth.session.id,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    ip: s.client.ip,
    device: s.client.agent,
  }));
}

/**
 * Ends one of the user's other sessions (by handle) or all of them; never the
 * current one (that is Sign out). Answers how many ended, or undefined when the
 * handle names no other live session of this user.
 */
export async function endOwnSessions(deps: Deps, auth: SessionView, which: { handle: string } | 'others', ip: string): Promise<number | undefined> {
  const now = deps.clock.now();
  const sessions = await deps.store.sessions.listFull(auth.account.id, auth.user.id, now, now - deps.settings.session.idleTimeoutMs);
  const others = sessions.filter((s) => s.id !== auth.session.id);
  const chosen = which === 'others' ? others : others.filter((s) => handleOf(s.id) === which.handle);
  if (which !== 'others' && chosen.length === 0) return undefined;
  return deps.store.transaction(async (store) => {
    const ended = await store.sessions.deleteSomeForUser(auth.account.id, auth.user.id, chosen.map((s) => s.id));
    await audit(deps, store, {
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
