import { usedKey } from '../domain/auth-methods.ts';
import { addressAllowed, checkPolicy, checkRanges, DAY, isAppliesTo, noAccessRules, policyInput } from '../domain/access-rules.ts';
import type { AccessRules, AddressRestriction, PolicyField, PolicyInput, ServiceFloor } from '../domain/access-rules.ts';
import type { PasswordRules } from '../domain/password-policy.ts';
import type { Role } from '../domain/roles.ts';
import { isAccountNumber } from '../domain/names.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { checkFactorPolicy, keyRequired } from '../domain/factor-policy.ts';
import type { FactorPolicy, FactorPolicyInput } from '../domain/factor-policy.ts';
import { audit } from './audit.ts';
import { createSession } from './sessions.ts';
import { endApplicationSessionsWithoutKey } from './oidc/revocation.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { endApplicationSessions } from './oidc/revocation.ts';

// Account Access Control's sign-in rules (issue 15): the allowed address
// ranges, the account's login policy and the second factors it allows
// (issue 14). Kept apart from the MFA switch (account-settings.ts).

export type { AccessRules, AddressRestriction, PolicyField, PolicyInput };

/** The account's rules; none (the service's defaults) for an account that saved none, or a malformed number. */
export async function accessRules(deps: Pick<Deps, 'store'>, accountId: string): Promise<AccessRules> {
  return isAccountNumber(accountId) ? deps.store.accessRules.get(accountId) : noAccessRules;
}

/** The service's own values, which the account's policy may only make stricter. */
export function serviceFloor(deps: Pick<Deps, 'settings'>): ServiceFloor {
  const { password, throttle, session } = deps.settings;
  return {
    minPasswordLength: password.minLength,
    maxPasswordLength: password.maxLength,
    lockAfterFailures: throttle.maxConsecutiveFailures,
    idleTimeoutMs: session.idleTimeoutMs,
    absoluteTimeoutMs: session.absoluteTimeoutMs,
  };
}

/** The password rules in force for the account: its minimum length where it set a longer one. */
export function passwordRulesOf(deps: Pick<Deps, 'settings'>, rules: AccessRules): PasswordRules {
  const { minLength, maxLength } = deps.settings.password;
  return { minLength: Math.max(minLength, rules.policy.minPasswordLength ?? 0), maxLength };
}

export async function accountPasswordRules(deps: Pick<Deps, 'settings' | 'store'>, accountId: string): Promise<PasswordRules> {
  return passwordRulesOf(deps, await accessRules(deps, accountId));
}

/** Failed passwords before a lock: the account's where it set fewer. */
export function lockAfterFailuresOf(deps: Pick<Deps, 'settings'>, rules: AccessRules): number {
  const service = deps.settings.throttle.maxConsecutiveFailures;
  return Math.min(service, rules.policy.lockAfterFailures ?? service);
}

/** Whether a user of this role may sign in, or keep a session, from this address. */
export function mayUseFrom(rules: AccessRules, role: Role, ip: string): boolean {
  return addressAllowed(rules, role, ip);
}

export interface RestrictionInput {
  ranges: Array<{ cidr: string; label: string }>;
  appliesTo: string;
  /** The admin confirmed a list that leaves out their own current address. */
  confirmed: boolean;
}

export type RestrictionResult =
  | { ok: true; changed: boolean }
  | { ok: false; reason: 'invalid'; errors: string[] }
  /** Saving would end the admin's own session: nothing saved until they confirm. */
  | { ok: false; reason: 'excludes_self'; ip: string };

/** Saves the allowed address ranges; every session outside them ends on its next request. */
export async function saveRestriction(deps: Deps, admin: SessionView, input: RestrictionInput, ip: string): Promise<RestrictionResult> {
  const errors: string[] = [];
  if (!isAppliesTo(input.appliesTo)) errors.push('Choose whom the ranges apply to: everyone, or everyone but admins.');
  const checked = checkRanges(input.ranges);
  if (!checked.ok) errors.push(...checked.errors);
  if (!checked.ok || !isAppliesTo(input.appliesTo) || errors.length > 0) return { ok: false, reason: 'invalid', errors };
  const next: AddressRestriction = { ranges: checked.ranges, appliesTo: input.appliesTo };
  if (!input.confirmed && !addressAllowed(next, admin.user.role, ip)) return { ok: false, reason: 'excludes_self', ip };
  const { account, user } = admin;
  return inTransaction(deps, async (tx) => {
    const current = await tx.store.accessRules.get(account.id);
    const old: AddressRestriction = { ranges: current.ranges, appliesTo: current.appliesTo };
    if (JSON.stringify(old) === JSON.stringify(next)) return { ok: true, changed: false };
    await tx.store.accessRules.putRestriction(account.id, next, deps.clock.now());
    await audit(tx, {
      accountId: account.id,
      actorUserId: user.id,
      actor: user.username,
      action: 'account.access_restriction',
      ip,
      result: 'success',
      detail: { old, new: next, ownAddressExcluded: !addressAllowed(next, user.role, ip) },
    });
    return { ok: true, changed: true };
  });
}

/** The break-glass: removes every allowed range of an account (CLI `account access clear`). */
export async function clearRestriction(deps: Deps, accountId: string, actor: { userId: string | null; label: string; ip: string | null }): Promise<{ ok: true; removed: number } | { ok: false; reason: 'not_found' }> {
  if (!isAccountNumber(accountId) || !(await deps.store.accounts.get(accountId))) return { ok: false, reason: 'not_found' };
  return inTransaction(deps, async (tx) => {
    const current = await tx.store.accessRules.get(accountId);
    if (current.ranges.length === 0) return { ok: true, removed: 0 };
    const next: AddressRestriction = { ranges: [], appliesTo: current.appliesTo };
    await tx.store.accessRules.putRestriction(accountId, next, deps.clock.now());
    await audit(tx, {
      accountId,
      actorUserId: actor.userId,
      actor: actor.label,
      action: 'account.access_restriction',
      ip: actor.ip,
      result: 'success',
      detail: { old: { ranges: current.ranges, appliesTo: current.appliesTo }, new: next, cleared: true },
    });
    return { ok: true, removed: current.ranges.length };
  });
}

export type PolicyResult = { ok: true; changed: PolicyField[] } | { ok: false; reason: 'invalid'; errors: Partial<Record<PolicyField, string>> };

/** Saves the account's login policy, each field within the service's bounds; audits each change with its old and new value. */
export async function savePolicy(deps: Deps, admin: SessionView, input: PolicyInput, ip: string): Promise<PolicyResult> {
  const checked = checkPolicy(input, serviceFloor(deps));
  if (!checked.ok) return { ok: false, reason: 'invalid', errors: checked.errors };
  const { account, user } = admin;
  const now = deps.clock.now();
  return inTransaction(deps, async (tx) => {
    const current = await tx.store.accessRules.get(account.id);
    const before = policyInput(current.policy);
    const after = policyInput(checked.policy);
    const changed = (Object.keys(after) as PolicyField[]).filter((k) => before[k] !== after[k]);
    if (changed.length === 0) return { ok: true, changed };
    // The inactivity rule counts from when it was switched on: nobody is disabled for the days before.
    const inactiveFrom = checked.policy.inactiveDays === null ? null : (current.inactiveFrom ?? now);
    await tx.store.accessRules.putPolicy(account.id, checked.policy, inactiveFrom, now);
    await audit(tx, {
      accountId: account.id,
      actorUserId: user.id,
      actor: user.username,
      action: 'account.login_policy',
      ip,
      result: 'success',
      detail: { changes: Object.fromEntries(changed.map((k) => [k, { old: before[k], new: after[k] }])) },
    });
    return { ok: true, changed };
  });
}

export type FactorPolicyResult =
  | { ok: true; changed: boolean; policy: FactorPolicy; pendingToken: string | undefined }
  | { ok: false; reason: 'invalid'; errors: string[] };

/**
 * Saves which second factors the account allows and whether admins need a
 * security key or passkey; audited with the old and new value. Requiring a key
 * applies at once: every admin's session (and application session) signed in
 * without one ends (sessionIsLive), and the admin who saved it, if they have
 * not used a key in this session, continues with a pending sign-in that sets
 * one up (or asks for theirs), as switching MFA on does: never locked out.
 * Allowing fewer kinds ends nobody's session; a user whose factors are all of
 * kinds no longer allowed sets up an allowed one at the next sign-in.
 */
export async function saveFactorPolicy(deps: Deps, admin: SessionView, input: FactorPolicyInput, ip: string): Promise<FactorPolicyResult> {
  const checked = checkFactorPolicy(input);
  if (!checked.ok) return { ok: false, reason: 'invalid', errors: checked.errors };
  const next = checked.policy;
  const { account, user, session } = admin;
  const saved = await inTransaction(deps, async (tx) => {
    const current = (await tx.store.accessRules.get(account.id)).factors;
    if (JSON.stringify(current) === JSON.stringify(next)) return { changed: false, keyNowRequired: false };
    await tx.store.accessRules.putFactorPolicy(account.id, next, deps.clock.now());
    const keyNowRequired = next.adminsNeedKey && !current.adminsNeedKey;
    if (keyNowRequired) await endApplicationSessionsWithoutKey(tx, account.id, await tx.store.users.activeAdmins(account.id));
    await audit(tx, {
      accountId: account.id,
      actorUserId: user.id,
      actor: user.username,
      action: 'account.factor_policy',
      ip,
      result: 'success',
      detail: { old: current, new: next },
    });
    return { changed: true, keyNowRequired };
  });
  let pendingToken: string | undefined;
  if (saved.keyNowRequired && keyRequired(next, user.role) && !usedKey(session.methods)) {
    // The admin's password step carries over; the key is what is still owed.
    const methods = session.methods.filter((m) => m.kind === 'password');
    pendingToken = (await createSession(deps, { accountId: account.id, id: user.id }, 'pending', { ip, agent: session.client.agent }, methods)).token;
    await deps.store.sessions.delete(session.id);
  }
  return { ok: true, changed: saved.changed, policy: next, pendingToken };
}

/**
 * Disables, in every account with the inactivity rule on, the users (not
 * admins) who have not signed in for its number of days, counted from the
 * rule's switching on at the earliest. Safe beside other instances running it
 * at once: the store's conditional update disables each user once, and only
 * the transaction that did audits it and ends their sessions.
 */
export async function disableInactiveUsers(deps: Deps): Promise<number> {
  const now = deps.clock.now();
  let disabled = 0;
  for (const rule of await deps.store.accessRules.withInactivityRule()) {
    const cutoff = now - rule.inactiveDays * DAY;
    if (rule.inactiveFrom >= cutoff) continue;
    disabled += await inTransaction(deps, async (tx) => {
      const users = await tx.store.users.disableInactive(rule.accountId, cutoff, now);
      for (const u of users) {
        await tx.store.sessions.deleteForUser(rule.accountId, u.id);
        // Disabling a user: what their applications hold ends too (issue 13).
        await endApplicationSessions(tx, u.id);
        await audit(tx, {
          accountId: rule.accountId,
          actor: 'system',
          action: 'user.deactivated_inactive',
          targetUserId: u.id,
          target: u.username,
          result: 'success',
          detail: { inactiveSince: u.inactiveSince, days: rule.inactiveDays },
        });
      }
      return users.length;
    });
  }
  if (disabled > 0) deps.logger.info({ disabled }, 'inactive users disabled');
  return disabled;
}
