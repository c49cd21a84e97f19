import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { secondFactorThrottleKey } from './mfa-challenge.ts';
import type { Actor } from './users.ts';
import { endApplicationSessions } from './oidc/revocation.ts';

export type ResetResult = { ok: true; sessionsEnded: number; factorsRevoked: number } | { ok: false; reason: 'not_found' };

/**
 * Reset MFA: revokes all of the user's factors and recovery codes, ends their
 * sessions and lifts a code lock, in one transaction with its audit event;
 * then tells the user. Their next password sign-in offers set-up again.
 */
export async function resetMfa(deps: Deps, accountId: string, userId: string, actor: Actor): Promise<ResetResult> {
  const user = await deps.store.users.get(accountId, userId);
  if (!user) return { ok: false, reason: 'not_found' };
  const outcome = await inTransaction(deps, async (tx) => {
    // The user's row first, as the code step takes it: the two take turns (PostgreSQL).
    await tx.store.users.lockForUpdate(accountId, userId);
    const removed = await tx.store.factors.deleteForUser(accountId, userId);
    const codes = await tx.store.recoveryCodes.deleteForUser(accountId, userId);
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
      detail: { authenticatorRevoked: removed > 0, factorsRevoked: removed, recoveryCodesRevoked: codes, sessionsEnded },
    });
    return { sessionsEnded, factorsRevoked: removed };
  });
  await deps.notifier.notify({
    to: { username: user.username, email: user.email },
    subject: 'Your multi-factor authentication was reset',
    text: `An administrator (${actor.label}) reset multi-factor authentication for "${user.username}". You will be asked to set up your authenticator app again at your next sign-in.`,
  });
  return { ok: true, ...outcome };
}
