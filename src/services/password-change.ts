import { usernameKey } from '../domain/names.ts';
import { checkNewPassword, normalizePassword } from '../domain/password-policy.ts';
import type { ThrottleKey } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { accessRules, lockAfterFailuresOf, passwordRulesOf } from './access-rules.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { createSession } from './sessions.ts';
import { admitAttempt, checkAdmitted, clearThrottle } from './throttle.ts';
import { endApplicationSessions } from './oidc/revocation.ts';

// A signed-in user changes their own password (OWASP ASVS 4.0.3 2.1.5, 2.1.6:
// the current password and a new one). The current password is checked like a
// sign-in's — counted first against the same (account, username) key, so a
// stolen session gets no more guesses here than at /login. On success every
// other session of the user ends (3.3.3), the current one gets a new token (a
// thief holding its cookie is out too), and the user is told (2.2.3).

export interface PasswordChangeInput {
  currentPassword: string;
  newPassword: string;
  /** The new password typed again, where a form asks for it. */
  confirmation?: string;
}

export type PasswordChangeResult =
  /** token: the current session's new token, for the cookie. */
  | { ok: true; sessionsEnded: number; token: string }
  /** The password changed between reading and writing (another request): nothing was written. */
  | { ok: false; reason: 'conflict' }
  /** The new password is refused (policy, confirmation): nothing was checked or counted. message says why, to the user. */
  | { ok: false; reason: 'invalid'; message: string }
  | { ok: false; reason: 'wrong_password' }
  | { ok: false; reason: 'locked'; lockedUntil: number };

/** Thrown inside the transaction to roll it back: the password or the session changed under this request. */
class Conflict extends Error {}

export async function changePassword(deps: Deps, auth: SessionView, input: PasswordChangeInput, ip: string): Promise<PasswordChangeResult> {
  const { account, user, session } = auth;
  const rules = await accessRules(deps, account.id);
  const checked = checkNewPassword(input.newPassword, passwordRulesOf(deps, rules));
  if (!checked.ok) return { ok: false, reason: 'invalid', message: checked.reason };
  if (input.confirmation !== undefined && normalizePassword(input.confirmation) !== checked.normalized) {
    return { ok: false, reason: 'invalid', message: 'The new password and its confirmation differ.' };
  }
  const key: ThrottleKey = { scope: 'password', accountId: account.id, subject: usernameKey(user.username) };
  const throttleRules = { ...deps.settings.throttle, maxConsecutiveFailures: lockAfterFailuresOf(deps, rules) };
  const admission = await admitAttempt(deps, key, throttleRules);
  if (!admission.admitted) return { ok: false, reason: 'locked', lockedUntil: admission.lockedUntil };
  const base = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };

  const found = await deps.store.users.get(account.id, user.id);
  const passwordHash = await checkAdmitted(deps, key, admission, throttleRules, async () =>
    found?.state === 'active' && (await deps.hasher.verify(found.passwordHash, input.currentPassword)) ? deps.hasher.hash(input.newPassword) : undefined,
  );
  if (!passwordHash) {
    await audit(deps, { ...base, action: 'user.password_change', result: 'failure', detail: { cause: 'wrong password' } });
    if (admission.lock?.lockedNow) {
      await audit(deps, { ...base, action: 'sign_in.locked', result: 'failure', detail: { scope: 'password', lockedUntil: admission.lock.lockedUntil } });
    }
    return admission.lock ? { ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil } : { ok: false, reason: 'wrong_password' };
  }

  const now = deps.clock.now();
  let changed: { sessionsEnded: number; token: string };
  try {
    changed = await inTransaction(deps, async (tx) => {
      // Conditional on the hash just verified: of two changes racing, one writes.
      if (!(await tx.store.users.setPassword(account.id, user.id, passwordHash, now, found!.passwordHash))) throw new Conflict();
      await clearThrottle(tx, key);
      // A Reset password link sent earlier would undo the password the user just chose.
      await tx.store.passwordResets.deleteForUser(account.id, user.id);
      // A new password is a fresh start: no browser skips the code with it (issue 15), this one included.
      const browsers = await tx.store.rememberedBrowsers.deleteForUser(account.id, user.id);
      const ended = await tx.store.sessions.deleteForUser(account.id, user.id, { except: session.id });
      // Every application session too: those of this browser sign in again without a prompt.
      await endApplicationSessions(tx, user.id);
      // This session comes back under a new token; if it ended meanwhile, nothing is written.
      if (!(await tx.store.sessions.delete(session.id))) throw new Conflict();
      const fresh = await createSession(tx, { accountId: account.id, id: user.id }, 'full', { ip, agent: session.client.agent }, session.methods);
      await audit(tx, { ...base, action: 'user.password_change', result: 'success', detail: { sessionsEnded: ended, ...(browsers > 0 ? { rememberedBrowsersForgotten: browsers } : {}) } });
      return { sessionsEnded: ended, token: fresh.token };
    });
  } catch (error) {
    if (error instanceof Conflict) return { ok: false, reason: 'conflict' };
    throw error;
  }
  await deps.notifier.notify({
    to: { username: user.username, email: found?.email ?? null },
    subject: `Your password for ${account.name} was changed`,
    text: `The password of your sign-in "${user.username}" to ${account.name} (account ${account.id}) was changed at ${new Date(now).toISOString()} from ${ip}; your other sessions were signed out. If this was not you, tell your administrator at once.`,
  });
  return { ok: true, ...changed };
}
