import { passwordResetDefaults } from '../config/defaults.ts';
import { usernameKey } from '../domain/names.ts';
import { checkNewPassword, normalizePassword } from '../domain/password-policy.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { endApplicationSessions } from './oidc/revocation.ts';
import { hashToken } from './sessions.ts';
import { clearThrottle } from './throttle.ts';
import type { Actor } from './users.ts';

// Reset password (issue 15): an admin issues a one-time link for one user of
// the account; whoever opens it sets a new password (OWASP Forgot Password
// Cheat Sheet, "URL tokens"). The link's token is 256 random bits, only its
// SHA-256 is stored, it lives 24 hours, and each user has one live link: a
// new one replaces it. Using it deletes it in the statement that checks it,
// sets the password (the policy applies), ends every session of the user and
// any lock on their password, and is audited and notified. The second factor
// stays: the next sign-in still asks for it.

/** The path of a link; the token follows it. Logs show the path only (runtime.ts). */
export const RESET_PATH = '/password/reset/';

export type IssueResult =
  /** link: the whole URL, for an admin to pass on when it was not e-mailed. */
  | { ok: true; link: string; emailed: boolean; expiresAt: number; username: string }
  | { ok: false; reason: 'not_found' };

/**
 * Issues a link for a user of the account and e-mails it when the user has an
 * address. baseUrl: the service's own origin, as the user reaches it.
 */
export async function issuePasswordReset(deps: Deps, accountId: string, userId: string, actor: Actor, baseUrl: string): Promise<IssueResult> {
  const user = await deps.store.users.get(accountId, userId);
  if (!user) return { ok: false, reason: 'not_found' };
  const token = Buffer.from(deps.random.bytes(passwordResetDefaults.tokenBytes)).toString('base64url');
  const now = deps.clock.now();
  const expiresAt = now + passwordResetDefaults.lifetimeMs;
  const emailed = user.email !== null;
  await inTransaction(deps, async (tx) => {
    await tx.store.passwordResets.issue({ accountId, userId, tokenHash: hashToken(token), createdAt: now, expiresAt, createdBy: actor.label });
    await audit(tx, {
      accountId,
      actorUserId: actor.userId,
      actor: actor.label,
      action: 'user.password_reset_issued',
      targetUserId: userId,
      target: user.username,
      ip: actor.ip,
      result: 'success',
      detail: { emailed, expiresAt: new Date(expiresAt).toISOString() },
    });
  });
  const link = new URL(RESET_PATH + token, baseUrl).toString();
  const account = await deps.store.accounts.get(accountId);
  if (emailed) {
    await deps.notifier.notify({
      to: { username: user.username, email: user.email },
      subject: `Set a new password for ${account?.name ?? accountId}`,
      text: `An administrator (${actor.label}) sent you a link to set a new password for your sign-in "${user.username}" to ${account?.name ?? ''} (account ${accountId}). Open it within 24 hours; it works once:\n\n${link}\n\nIf you did not expect this, tell your administrator.`,
    });
  }
  return { ok: true, link, emailed, expiresAt, username: user.username };
}

/** Who a live link is for, to greet them on its page; undefined for a link used, expired, replaced or never issued. */
export async function resetLinkTarget(deps: Deps, token: string): Promise<{ username: string; accountName: string } | undefined> {
  if (!isToken(token)) return undefined;
  const target = await deps.store.passwordResets.find(hashToken(token), deps.clock.now());
  if (!target) return undefined;
  const [user, account] = await Promise.all([deps.store.users.get(target.accountId, target.userId), deps.store.accounts.get(target.accountId)]);
  return user && account ? { username: user.username, accountName: account.name } : undefined;
}

export type UseResult =
  | { ok: true; username: string; accountId: string; sessionsEnded: number }
  /** The new password is refused (policy, confirmation): the link still works. */
  | { ok: false; reason: 'invalid'; message: string }
  /** Used, expired, replaced by a newer link, or never issued: nothing changed. */
  | { ok: false; reason: 'gone' };

/** Sets a new password with a link, once. */
export async function usePasswordReset(deps: Deps, token: string, input: { newPassword: string; confirmation?: string }, ip: string): Promise<UseResult> {
  if (!isToken(token)) return { ok: false, reason: 'gone' };
  const checked = checkNewPassword(input.newPassword, deps.settings.password);
  if (!checked.ok) return { ok: false, reason: 'invalid', message: checked.reason };
  if (input.confirmation !== undefined && normalizePassword(input.confirmation) !== checked.normalized) {
    return { ok: false, reason: 'invalid', message: 'The new password and its confirmation differ.' };
  }
  const tokenHash = hashToken(token);
  // Hashed before the transaction (argon2 is slow; the transaction stays short),
  // and only for a link that is live now: a dead link costs no hashing.
  if (!(await deps.store.passwordResets.find(tokenHash, deps.clock.now()))) return { ok: false, reason: 'gone' };
  const passwordHash = await deps.hasher.hash(input.newPassword);
  const now = deps.clock.now();
  const done = await inTransaction(deps, async (tx) => {
    // The check and the use in one statement: of two requests with one link, one passes.
    const target = await tx.store.passwordResets.consume(tokenHash, now);
    if (!target) return undefined;
    const user = await tx.store.users.get(target.accountId, target.userId);
    if (!user) return undefined;
    await tx.store.users.setPassword(target.accountId, user.id, passwordHash, now, user.passwordHash);
    const sessionsEnded = await tx.store.sessions.deleteForUser(target.accountId, user.id);
    // A password change: what the user's applications hold ends too (issue 13).
    await endApplicationSessions(tx, user.id);
    await clearThrottle(tx, { scope: 'password', accountId: target.accountId, subject: usernameKey(user.username) });
    await audit(tx, {
      accountId: target.accountId,
      actorUserId: user.id,
      actor: user.username,
      action: 'user.password_reset',
      targetUserId: user.id,
      target: user.username,
      ip,
      result: 'success',
      detail: { sessionsEnded },
    });
    return { user, accountId: target.accountId, sessionsEnded };
  });
  if (!done) return { ok: false, reason: 'gone' };
  const account = await deps.store.accounts.get(done.accountId);
  await deps.notifier.notify({
    to: { username: done.user.username, email: done.user.email },
    subject: `Your password for ${account?.name ?? done.accountId} was reset`,
    text: `The password of your sign-in "${done.user.username}" to ${account?.name ?? ''} (account ${done.accountId}) was set with a reset link at ${new Date(now).toISOString()} from ${ip}; all your sessions were signed out. If this was not you, tell your administrator at once.`,
  });
  return { ok: true, username: done.user.username, accountId: done.accountId, sessionsEnded: done.sessionsEnded };
}

/** A token as issued: 32 bytes in base64url, 43 characters. Anything else is no link. */
function isToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}
