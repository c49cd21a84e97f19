import { audit } from './audit.ts';
import { lockAdmins } from './user-directory.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { secondFactorThrottleKey } from './mfa-challenge.ts';
import type { Actor } from './users.ts';
import { endApplicationSessions } from './oidc/revocation.ts';

export type ResetResult =
  | { ok: true; sessionsEnded: number; factorsRevoked: number }
  | { ok: false; reason: 'not_found' }
  /** An admin resetting their own MFA with no other active admin: nothing was changed. */
  | { ok: false; reason: 'only_admin' };

/** Thrown inside the transaction to roll it back. */
class OnlyAdmin extends Error {}

/**
 * Reset MFA: revokes all of the user's factors and recovery codes, ends their
 * sessions and lifts a code lock, in one transaction with its audit event;
 * then tells the user. Their next password sign-in offers set-up again.
 */
export async function resetMfa(deps: Deps, accountId: string, userId: string, actor: Actor): Promise<ResetResult> {
  const user = await deps.store.users.get(accountId, userId);
  if (!user) return { ok: false, reason: 'not_found' };
  // An admin resetting their own MFA from Edit user is signed out, and with
  // no other active admin nobody could reset it again from the pages if the
  // set-up went wrong (issue 15). The break-glass CLI (no actor user) is free.
  let outcome: Reset;
  try {
    outcome = await inTransaction(deps, (tx) => resetInTransaction(tx, accountId, user, actor));
  } catch (error) {
    if (!(error instanceof OnlyAdmin)) throw error;
    return { ok: false, reason: 'only_admin' };
  }
  await deps.notifier.notify({
    to: { username: user.username, email: user.email },
    subject: 'Your multi-factor authentication was reset',
    text: `An administrator (${actor.label}) reset multi-factor authentication for "${user.username}". You will be asked to set up your authenticator app again at your next sign-in.`,
  });
  return { ok: true, ...outcome };
}

type Reset = { sessionsEnded: number; factorsRevoked: number };

async function resetInTransaction(tx: Deps, accountId: string, user: { id: string; username: string }, actor: Actor): Promise<Reset> {
  const userId = user.id;
  if (actor.userId === userId) {
    await lockAdmins(tx, accountId);
    if (!(await tx.store.users.activeAdmins(accountId)).some((id) => id !== userId)) throw new OnlyAdmin();
  }
  // The user's row first, as the code step takes it: the two take turns (PostgreSQL).
  await tx.store.users.lockForUpdate(accountId, userId);
  const removed = await tx.store.factors.deleteForUser(accountId, userId);
  const codes = await tx.store.recoveryCodes.deleteForUser(accountId, userId);
  // A remembered browser stands for a factor the user no longer holds.
  const browsers = await tx.store.rememberedBrowsers.deleteForUser(accountId, userId);
  const sessionsEnded = await tx.store.sessions.deleteForUser(accountId, userId);
  await endApplicationSessions(tx, userId);
  await tx.store.throttles.clear(secondFactorThrottleKey(accountId, userId));
  await audit(tx, {
    accountId,
    actorUserId: actor.userId,
    actor: actor.label,
    action: 'mfa.reset',
    targetUserId: userId,
    target: user.username,
    ip: actor.ip,
    result: 'success',
    detail: { authenticatorRevoked: removed > 0, factorsRevoked: removed, recoveryCodesRevoked: codes, sessionsEnded, ...(browsers > 0 ? { rememberedBrowsersForgotten: browsers } : {}) },
  });
  return { sessionsEnded, factorsRevoked: removed };
}
