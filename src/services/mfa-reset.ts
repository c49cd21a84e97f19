import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import { totpThrottleKey } from './mfa-challenge.ts';
import type { Actor } from './users.ts';

export type ResetResult = { ok: true; sessionsEnded: number; hadAuthenticator: boolean } | { ok: false; reason: 'not_found' };

/**
 * Reset MFA: revokes the user's authenticator and recovery codes, ends their
 * sessions and lifts a code lock, in one transaction with its audit event;
 * then tells the user. Their next password sign-in offers set-up again.
 */
export async function resetMfa(deps: Deps, accountId: string, userId: string, actor: Actor): Promise<ResetResult> {
  const user = await deps.store.users.get(accountId, userId);
  if (!user) return { ok: false, reason: 'not_found' };
  const outcome = await deps.store.transaction(async (store) => {
    // The user's row first, as the code step takes it: the two take turns (PostgreSQL).
    await store.users.lockForUpdate(accountId, userId);
    const removed = await store.authenticators.delete(accountId, userId);
    const codes = await store.recoveryCodes.deleteForUser(accountId, userId);
    const sessionsEnded = await store.sessions.deleteForUser(accountId, userId);
    await store.throttles.clear(totpThrottleKey(accountId, userId));
    await audit(deps, store, {
      accountId,
      actorUserId: actor.userId,
      actor: actor.label,
      action: 'mfa.reset',
      targetUserId: userId,
      target: user.username,
      ip: actor.ip,
      result: 'success',
      detail: { authenticatorRevoked: removed > 0, recoveryCodesRevoked: codes, sessionsEnded },
    });
    return { sessionsEnded, hadAuthenticator: removed > 0 };
  });
  await deps.notifier.notify({
    to: { username: user.username, email: user.email },
    subject: 'Your multi-factor authentication was reset',
    text: `An administrator (${actor.label}) reset multi-factor authentication for "${user.username}". You will be asked to set up your authenticator app again at your next sign-in.`,
  });
  return { ok: true, ...outcome };
}
