import { rememberBrowserDefaults } from '../config/defaults.ts';
import { keyRequired } from '../domain/factor-policy.ts';
import { randomId } from '../domain/providers.ts';
import type { Role } from '../domain/roles.ts';
import { checkRememberDays, DAY, rememberedNotBefore } from '../domain/remember-browser.ts';
import type { RememberedBrowserView } from '../storage/queries/remembered-browsers.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { hashToken } from './sessions.ts';
import type { Actor } from './users.ts';

// Remember this browser (issue 15). After a correct code, a user may have the
// browser remembered for the account's number of days: a 256-bit token in a
// cookie of its own, stored as its SHA-256 with the account and the user. A
// later sign-in of that user on that browser, with the right password, skips
// the code (sign-in.ts). The token is worth nothing for anyone else, after its
// days, or once revoked: Reset MFA, a password change or reset, the user
// (Your sessions), an admin (Edit user), and the setting switched off. The
// trade-off is in docs/security.md.

export type { RememberedBrowserView };

/** A token as issued: 32 bytes in base64url, 43 characters. Anything else is no token. */
export function isRememberToken(token: string | undefined): token is string {
  return token !== undefined && /^[A-Za-z0-9_-]{43}$/.test(token);
}

/** The account's days (0: off). */
export async function rememberBrowserDays(deps: Pick<Deps, 'store'>, accountId: string): Promise<number> {
  return (await deps.store.accessRules.get(accountId)).rememberBrowserDays;
}

/**
 * The days a user of this role may have a browser remembered for: none for
 * an admin who must sign in with a security key (Account Access Control's
 * factor policy), whose sign-ins a remembered browser never skips.
 */
export async function rememberDaysFor(deps: Pick<Deps, 'store'>, accountId: string, role: Role): Promise<number> {
  const rules = await deps.store.accessRules.get(accountId);
  return keyRequired(rules.factors, role) ? 0 : rules.rememberBrowserDays;
}

export interface Remembered {
  token: string;
  /** For the cookie's Max-Age. */
  days: number;
}

/**
 * Remembers the browser of a code step that just succeeded, inside its
 * transaction (a Reset MFA waiting for the user's row then deletes it too).
 * Nothing when the account does not allow it. previousToken: the remembered
 * token this browser already holds, if any: it is replaced.
 */
export async function rememberBrowser(
  tx: Deps,
  view: Pick<SessionView, 'account' | 'user'>,
  client: { ip: string; agent: string | null },
  previousToken: string | undefined,
): Promise<Remembered | undefined> {
  const { account, user } = view;
  const days = await rememberDaysFor(tx, account.id, user.role);
  if (days <= 0) return undefined;
  const now = tx.clock.now();
  const token = Buffer.from(tx.random.bytes(rememberBrowserDefaults.tokenBytes)).toString('base64url');
  if (isRememberToken(previousToken)) await tx.store.rememberedBrowsers.deleteByToken(account.id, hashToken(previousToken));
  // The user's expired rows go when a new one comes: the table holds live browsers, give or take.
  await tx.store.rememberedBrowsers.deleteExpiredForUser(account.id, user.id, now);
  const id = randomId(tx.random);
  const expiresAt = now + days * DAY;
  await tx.store.rememberedBrowsers.create({
    id,
    accountId: account.id,
    userId: user.id,
    tokenHash: hashToken(token),
    device: client.agent,
    ip: client.ip,
    createdAt: now,
    expiresAt,
    lastUsedAt: null,
  });
  await audit(tx, {
    accountId: account.id,
    actorUserId: user.id,
    actor: user.username,
    action: 'mfa.browser_remembered',
    targetUserId: user.id,
    target: user.username,
    ip: client.ip,
    result: 'success',
    detail: { browser: id, device: client.agent, days, expiresAt: new Date(expiresAt).toISOString() },
  });
  return { token, days };
}

/**
 * Whether this browser's token lets the user skip the code now: the user's
 * own, live, within the account's current days (which are above 0), marked
 * used. Answers the remembered browser's id. Call inside the sign-in's
 * transaction, after the user's row is locked.
 */
export async function useRememberedBrowser(tx: Deps, accountId: string, userId: string, token: string | undefined): Promise<string | undefined> {
  if (!isRememberToken(token)) return undefined;
  const days = await rememberBrowserDays(tx, accountId);
  if (days <= 0) return undefined;
  const now = tx.clock.now();
  return tx.store.rememberedBrowsers.use(accountId, userId, hashToken(token), now, rememberedNotBefore(days, now));
}

/** The user's remembered browsers that still skip the code (none while the setting is off). */
export async function listRememberedBrowsers(deps: Deps, accountId: string, userId: string): Promise<RememberedBrowserView[]> {
  const days = await rememberBrowserDays(deps, accountId);
  if (days <= 0) return [];
  const now = deps.clock.now();
  return deps.store.rememberedBrowsers.listLive(accountId, userId, now, rememberedNotBefore(days, now));
}

/** "Forget" on Your sessions: the user forgets one of their remembered browsers. Answers whether there was one. */
export async function forgetOwnBrowser(deps: Deps, auth: SessionView, id: string, ip: string): Promise<boolean> {
  const { account, user } = auth;
  return inTransaction(deps, async (tx) => {
    if (!(await tx.store.rememberedBrowsers.deleteOne(account.id, user.id, id))) return false;
    await audit(tx, {
      accountId: account.id,
      actorUserId: user.id,
      actor: user.username,
      action: 'mfa.browser_forgotten',
      targetUserId: user.id,
      target: user.username,
      ip,
      result: 'success',
      detail: { browser: id, by: 'user' },
    });
    return true;
  });
}

/** "Forget remembered browsers" on Edit user: every remembered browser of the user. Answers how many. */
export async function forgetUserBrowsers(deps: Deps, accountId: string, target: { id: string; username: string }, actor: Actor): Promise<number> {
  return inTransaction(deps, async (tx) => {
    const forgotten = await tx.store.rememberedBrowsers.deleteForUser(accountId, target.id);
    await audit(tx, {
      accountId,
      actorUserId: actor.userId,
      actor: actor.label,
      action: 'mfa.browser_forgotten',
      targetUserId: target.id,
      target: target.username,
      ip: actor.ip,
      result: 'success',
      detail: { forgotten, by: 'admin' },
    });
    return forgotten;
  });
}

export type RememberDaysResult = { ok: true; changed: boolean; forgotten: number } | { ok: false; reason: 'invalid'; message: string };

/**
 * Saves the account's days, audited with the old and new value. Switching it
 * off deletes every remembered browser of the account. Lowering it ends each
 * one at most the new days after it was remembered (those older stop at
 * once), for good: raising it again later lengthens none already remembered.
 */
export async function saveRememberBrowserDays(deps: Deps, admin: SessionView, value: unknown, ip: string): Promise<RememberDaysResult> {
  const checked = checkRememberDays(value);
  if (!checked.ok) return { ok: false, reason: 'invalid', message: checked.message };
  const { account, user } = admin;
  return inTransaction(deps, async (tx) => {
    const old = (await tx.store.accessRules.get(account.id)).rememberBrowserDays;
    if (old === checked.days) return { ok: true, changed: false, forgotten: 0 };
    await tx.store.accessRules.putRememberBrowserDays(account.id, checked.days, deps.clock.now());
    const forgotten = checked.days === 0 ? await tx.store.rememberedBrowsers.deleteForAccount(account.id) : 0;
    const shortened = checked.days > 0 && checked.days < old ? await tx.store.rememberedBrowsers.shortenForAccount(account.id, checked.days * DAY) : 0;
    await audit(tx, {
      accountId: account.id,
      actorUserId: user.id,
      actor: user.username,
      action: 'account.remember_browser',
      ip,
      result: 'success',
      detail: { old, new: checked.days, ...(checked.days === 0 ? { forgotten } : {}), ...(shortened > 0 ? { shortened } : {}) },
    });
    return { ok: true, changed: true, forgotten };
  });
}
