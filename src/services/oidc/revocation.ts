import type { Deps } from '../deps.ts';

// When Portcullis ends a user's sessions (Reset MFA, disabling the user, a
// password change, "sign out all other sessions", switching MFA on, signing
// out), what the user's applications hold ends with them (issue 13: "the
// authentication token is revoked" reaches the applications): the provider's
// sessions, grants, authorization codes, access and refresh tokens are
// deleted in the same transaction, and once it commits every application the
// sessions signed in to is sent a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.5). Delivery is best effort, once, from this
// process (serve's instance, or the CLI, which waits for it before it exits):
// a failure is logged, and the tokens are gone whatever the application does
// with the message.

export interface ApplicationLogout {
  clientId: string;
  /** The user, as the application knows them (sub). */
  sub: string;
  /** The provider session's id for that application (sid). */
  sid: string | undefined;
}

/** How one application's logout went: sent (a 200 or 204 came back), nothing to send, or failed. */
export type LogoutDelivery =
  | { clientId: string; sent: true; uri: string }
  | { clientId: string; sent: false; skipped: true }
  | { clientId: string; sent: false; error: string };

/**
 * Sends back-channel logout tokens (logout-channel.ts); set by the provider
 * in serve (index.ts) and by the CLI (cli/logout.ts). Answers once every
 * delivery has ended; never rejects.
 */
export interface LogoutChannel {
  send(logouts: ApplicationLogout[]): Promise<LogoutDelivery[]>;
}

function logoutsOf(session: Record<string, unknown>): ApplicationLogout[] {
  const sub = session.accountId;
  const authorizations = session.authorizations;
  if (typeof sub !== 'string' || typeof authorizations !== 'object' || authorizations === null) return [];
  return Object.entries(authorizations as Record<string, { sid?: unknown }>).map(([clientId, a]) => ({
    clientId,
    sub,
    sid: typeof a.sid === 'string' ? a.sid : undefined,
  }));
}

function grantsOf(session: Record<string, unknown>): string[] {
  const authorizations = session.authorizations;
  if (typeof authorizations !== 'object' || authorizations === null) return [];
  return Object.values(authorizations as Record<string, { grantId?: unknown }>)
    .map((a) => a.grantId)
    .filter((g): g is string => typeof g === 'string');
}

function afterCommit(deps: Deps, logouts: ApplicationLogout[]): void {
  if (logouts.length === 0) return;
  const channel = deps.logoutChannel;
  if (channel) deps.store.afterCommit(() => void channel.send(logouts));
}

/** Ends everything the user's applications hold; call in the transaction that ends the user's sessions. */
export async function endApplicationSessions(deps: Deps, userId: string): Promise<number> {
  const sessions = await deps.store.oidcPayloads.sessionsOf(userId, deps.clock.now());
  const ended = await deps.store.oidcPayloads.deleteForUser(userId);
  afterCommit(deps, sessions.flatMap(logoutsOf));
  return ended;
}

const amrHas = (session: Record<string, unknown>, value: string) => Array.isArray(session.amr) && session.amr.includes(value);

/** Ends the provider sessions of an account that `weak` picks, with their grants and tokens. */
async function endApplicationSessionsWhere(deps: Deps, accountId: string, weak: (session: Record<string, unknown>) => boolean): Promise<number> {
  const sessions = (await deps.store.oidcPayloads.sessionsOfAccount(accountId, deps.clock.now())).filter(weak);
  for (const session of sessions) {
    for (const grantId of grantsOf(session)) await deps.store.oidcPayloads.revokeGrant(grantId);
    if (typeof session.jti === 'string') await deps.store.oidcPayloads.destroy('Session', session.jti);
  }
  afterCommit(deps, sessions.flatMap(logoutsOf));
  return sessions.length;
}

/**
 * Ends what the user's applications hold in every browser but one ("sign
 * out all other sessions"). A provider session is a browser's (its
 * `_session` cookie), not a Portcullis session's: the browser asking keeps
 * its provider session and the grants it made, so its applications stay
 * signed in; every other provider session ends, and so does any grant no
 * kept session made (one whose session expired belongs to no browser). With
 * no provider session named, or one that is not this user's, all end.
 */
export async function endOtherApplicationSessions(deps: Deps, userId: string, keepProviderSessionId: string | undefined): Promise<number> {
  if (keepProviderSessionId === undefined) return endApplicationSessions(deps, userId);
  const sessions = await deps.store.oidcPayloads.sessionsOf(userId, deps.clock.now());
  const kept = sessions.find((s) => s.jti === keepProviderSessionId);
  if (!kept) return endApplicationSessions(deps, userId);
  const ended = await deps.store.oidcPayloads.deleteForUserExcept(userId, { sessionId: keepProviderSessionId, grantIds: grantsOf(kept) });
  afterCommit(deps, sessions.filter((s) => s !== kept).flatMap(logoutsOf));
  return ended;
}

/**
 * Ends the provider sessions of an account's users that were signed in
 * without a second factor (switching MFA on), with their grants and tokens.
 */
export function endApplicationSessionsWithoutMfa(deps: Deps, accountId: string): Promise<number> {
  return endApplicationSessionsWhere(deps, accountId, (s) => !amrHas(s, 'mfa'));
}

/** Ends the provider sessions of these users that were signed in without a security key (Require a security key for admins). */
export function endApplicationSessionsWithoutKey(deps: Deps, accountId: string, userIds: readonly string[]): Promise<number> {
  return endApplicationSessionsWhere(deps, accountId, (s) => typeof s.accountId === 'string' && userIds.includes(s.accountId) && !amrHas(s, 'hwk'));
}

/** Ends the provider session of one browser (its session cookie's id), as signing out of Portcullis does. */
export async function endBrowserApplicationSession(deps: Deps, providerSessionId: string): Promise<void> {
  const found = await deps.store.oidcPayloads.find('Session', providerSessionId, deps.clock.now());
  if (!found) return;
  for (const grantId of grantsOf(found.payload)) await deps.store.oidcPayloads.revokeGrant(grantId);
  await deps.store.oidcPayloads.destroy('Session', providerSessionId);
  afterCommit(deps, logoutsOf(found.payload));
}
