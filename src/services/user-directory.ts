import { keyRequired } from '../domain/factor-policy.ts';
import { factorTypes } from '../domain/auth-methods.ts';
import type { FactorType } from '../domain/auth-methods.ts';
import { checkEmail } from '../domain/email.ts';
import type { MfaStateName } from '../domain/mfa-state.ts';
import { checkSkillName } from '../domain/names.ts';
import { randomId } from '../domain/providers.ts';
import { isRole } from '../domain/roles.ts';
import type { Role } from '../domain/roles.ts';
import type { Skill, UserState } from '../storage/records.ts';
import type { MfaFilter } from '../storage/queries/users.ts';
import { audit } from './audit.ts';
import { userFactors } from './factors/index.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import type { Actor } from './users.ts';
import { endApplicationSessions, endApplicationSessionsWithoutKey } from './oidc/revocation.ts';

// Users & Skills as an admin sees them: the list, one user, edits, skills.

export type { MfaFilter, Skill };

/** What each of the domain's MFA states carries; a state added there is a kind here at once. */
interface MfaFacts extends Record<MfaStateName, object> {
  enrolled: { since: number };
  locked: { until: number; enrolledSince: number | null };
}

/** A user's second factor as the admin sees it: one kind per state of the domain's list. */
export type MfaState = { [K in MfaStateName]: { kind: K } & MfaFacts[K] }[MfaStateName];

export interface UserSummary {
  id: string;
  username: string;
  role: Role;
  state: UserState;
  /** Set when the inactivity rule disabled the user: since when they were inactive. */
  inactiveSince: number | null;
  email: string | null;
  skills: string[];
  mfa: MfaState;
  /** The types of factor the user holds, in the domain's order (authenticator app, then security key or passkey). */
  factorTypes: FactorType[];
}

export interface UserPage {
  users: UserSummary[];
  total: number;
  page: number;
  pages: number;
}

export const PAGE_SIZE = 25;

/** The account's skills, by name. */
export function accountSkills(deps: Deps, accountId: string): Promise<Skill[]> {
  return deps.store.skills.list(accountId);
}

/** The first `limit` users of the account by name, for a filter's choices. */
export async function accountUserNames(deps: Deps, accountId: string, limit: number): Promise<Array<{ id: string; username: string }>> {
  const { users } = await deps.store.users.list(accountId, { limit, offset: 0 });
  return users.map((u) => ({ id: u.id, username: u.username }));
}

export async function listUsers(deps: Deps, accountId: string, q: { search?: string; mfa?: MfaFilter; page?: number }): Promise<UserPage> {
  const page = Math.max(1, Math.floor(q.page ?? 1));
  const now = deps.clock.now();
  const { users, total } = await deps.store.users.list(accountId, {
    ...(q.search ? { search: q.search } : {}),
    ...(q.mfa ? { mfa: q.mfa, now } : {}),
    limit: PAGE_SIZE,
    offset: (page - 1) * PAGE_SIZE,
  });
  const ids = users.map((u) => u.id);
  const [skills, enrolled, types, locked] = await Promise.all([
    deps.store.skills.forUsers(accountId, ids),
    deps.store.factors.firstCreatedAt(accountId, ids),
    deps.store.factors.typesOf(accountId, ids),
    deps.store.throttles.lockedUntil('totp', accountId, ids, now),
  ]);
  return {
    users: users.map((u) => {
      const since = enrolled.get(u.id) ?? null;
      const until = locked.get(u.id);
      const mfa: MfaState =
        until !== undefined ? { kind: 'locked', until, enrolledSince: since } : since !== null ? { kind: 'enrolled', since } : { kind: 'not_enrolled' };
      return {
        id: u.id,
        username: u.username,
        role: u.role,
        state: u.state,
        inactiveSince: u.inactiveSince ?? null,
        email: u.email,
        skills: skills.get(u.id) ?? [],
        mfa,
        factorTypes: types.get(u.id) ?? [],
      };
    }),
    total,
    page,
    pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
  };
}

/** One factor as the admin sees it: what it is, its name, when it was added and last used. Never its secret or key. */
export interface FactorSummary {
  id: string;
  type: FactorType;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface UserDetail extends UserSummary {
  /** The user's factors, the oldest first. */
  factors: FactorSummary[];
  createdAt: number;
  enrolledIp: string | null;
  recoveryCodesLeft: number;
  skillIds: string[];
}

/** One user of the account, or undefined (also for a user of another account). */
export async function getUser(deps: Deps, accountId: string, userId: string): Promise<UserDetail | undefined> {
  const user = await deps.store.users.get(accountId, userId);
  if (!user) return undefined;
  const now = deps.clock.now();
  const [factors, locked, skills, all, left] = await Promise.all([
    userFactors(deps, accountId, userId),
    deps.store.throttles.lockedUntil('totp', accountId, [userId], now),
    deps.store.skills.forUsers(accountId, [userId]),
    deps.store.skills.list(accountId),
    deps.store.recoveryCodes.countUnused(accountId, userId),
  ]);
  const until = locked.get(userId);
  const first = factors[0];
  const since = first?.createdAt ?? null;
  const names = skills.get(userId) ?? [];
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    state: user.state,
    inactiveSince: user.inactiveSince ?? null,
    email: user.email,
    skills: names,
    skillIds: all.filter((s) => names.includes(s.name)).map((s) => s.id),
    mfa: until !== undefined ? { kind: 'locked', until, enrolledSince: since } : since !== null ? { kind: 'enrolled', since } : { kind: 'not_enrolled' },
    factorTypes: factorTypes.filter((type) => factors.some((f) => f.type === type)),
    factors: factors.map((f) => ({ id: f.id, type: f.type, name: f.name, createdAt: f.createdAt, lastUsedAt: f.lastUsedAt })),
    createdAt: user.createdAt,
    enrolledIp: first?.createdIp ?? null,
    recoveryCodesLeft: left,
  };
}

export interface UserChanges {
  role: string;
  state: string;
  email: string;
  skillIds: string[];
}

export type UpdateResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; errors: string[] }
  | { ok: false; reason: 'not_found' }
  /** The change would leave the account without an active admin: nothing was written. */
  | { ok: false; reason: 'last_admin' };

/** Thrown inside a transaction to roll it back: it would leave the account without an active admin. */
class LastAdmin extends Error {}

/**
 * Inside a transaction that may take admin from someone: takes the account's
 * turn first (PostgreSQL; SQLite's writers take turns anyway), so of two
 * admins demoting each other at once the second sees the first's outcome.
 * Call before the change is written.
 */
export async function lockAdmins(tx: Pick<Deps, 'store'>, accountId: string): Promise<void> {
  await tx.store.accounts.lockForUpdate(accountId);
}

/** Saves role, state, email and skills. Disabling a user ends their sessions; admins cannot demote or disable themselves. */
export async function updateUser(deps: Deps, accountId: string, userId: string, changes: UserChanges, actor: Actor): Promise<UpdateResult> {
  const user = await deps.store.users.get(accountId, userId);
  if (!user) return { ok: false, reason: 'not_found' };
  const errors: string[] = [];
  if (!isRole(changes.role)) errors.push('Choose a role.');
  if (changes.state !== 'active' && changes.state !== 'disabled') errors.push('Choose a state.');
  const checked = checkEmail(changes.email);
  if (!checked.ok) errors.push(checked.reason);
  if (actor.userId === userId && (changes.role !== user.role || changes.state !== 'active')) {
    errors.push('You cannot change your own role or disable yourself; ask another admin.');
  }
  if (errors.length > 0 || !isRole(changes.role) || !checked.ok) return { ok: false, reason: 'invalid', errors };
  const email = checked.email;
  const state = changes.state as UserState;
  const role = changes.role;
  // No account without an admin (issue 15): checked after the write, in its
  // transaction, behind the account's lock, so no interleaving of such
  // changes ends with zero.
  const takesAdmin = user.role === 'admin' && user.state === 'active' && (role !== 'admin' || state !== 'active');
  try {
    await inTransaction(deps, async (tx) => {
      if (takesAdmin) await lockAdmins(tx, accountId);
      await tx.store.users.update(accountId, userId, { role, state, email }, deps.clock.now());
      if (takesAdmin && (await tx.store.users.activeAdmins(accountId)).length === 0) throw new LastAdmin();
      await tx.store.skills.setForUser(accountId, userId, changes.skillIds);
      if (state === 'disabled') {
        await tx.store.sessions.deleteForUser(accountId, userId);
        await endApplicationSessions(tx, userId);
      } else if (role === 'admin' && user.role !== 'admin' && keyRequired((await tx.store.accessRules.get(accountId)).factors, role)) {
        // Made an admin where admins must use a security key: their sessions
        // without one end (sessionIsLive), and so do the applications'.
        await endApplicationSessionsWithoutKey(tx, accountId, [userId]);
      }
      await audit(tx, {
        accountId,
        actorUserId: actor.userId,
        actor: actor.label,
        action: 'user.update',
        targetUserId: userId,
        target: user.username,
        ip: actor.ip,
        result: 'success',
        detail: { role: changes.role, state, skills: changes.skillIds.length },
      });
    });
  } catch (error) {
    if (!(error instanceof LastAdmin)) throw error;
    await audit(deps, {
      accountId,
      actorUserId: actor.userId,
      actor: actor.label,
      action: 'user.update',
      targetUserId: userId,
      target: user.username,
      ip: actor.ip,
      result: 'failure',
      detail: { cause: 'last active admin', role: changes.role, state },
    });
    return { ok: false, reason: 'last_admin' };
  }
  return { ok: true };
}

export type SkillResult = { ok: true; skill: Skill } | { ok: false; reason: 'invalid'; errors: string[] };

export async function createSkill(deps: Deps, accountId: string, name: string, actor: Actor): Promise<SkillResult> {
  const checked = checkSkillName(name);
  if (!checked.ok) return { ok: false, reason: 'invalid', errors: [checked.reason] };
  const existing = await deps.store.skills.list(accountId);
  if (existing.some((s) => s.name.toLowerCase() === checked.key)) return { ok: false, reason: 'invalid', errors: [`Skill "${checked.name}" already exists.`] };
  const skills = await deps.store.skills.ensure(accountId, [{ id: randomId(deps.random), name: checked.name, key: checked.key }], deps.clock.now());
  const skill = skills.get(checked.key);
  if (!skill) return { ok: false, reason: 'invalid', errors: ['The skill could not be created.'] };
  await audit(deps, { accountId, actorUserId: actor.userId, actor: actor.label, action: 'skill.create', ip: actor.ip, result: 'success', detail: { name: checked.name } });
  return { ok: true, skill };
}
