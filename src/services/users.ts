import { checkEmail } from '../domain/email.ts';
import { checkSkillName, checkUsername } from '../domain/names.ts';
import { checkNewPassword } from '../domain/password-policy.ts';
import type { PasswordRules } from '../domain/password-policy.ts';
import { accountPasswordRules } from './access-rules.ts';
import { randomId } from '../domain/providers.ts';
import { isRole, roles } from '../domain/roles.ts';
import type { Role } from '../domain/roles.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';

export interface UserDraft {
  username: string;
  role: string;
  password: string;
  skills?: string[];
  email?: string | null;
}

/** A draft that passed every rule that needs no database. */
export interface ValidUser {
  username: string;
  usernameKey: string;
  role: Role;
  password: string;
  skills: { name: string; key: string }[];
  email: string | null;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: 'invalid'; errors: string[] };

/** Checks a draft against the username, role, password, skill and email rules; lists every problem. */
export function validateUser(deps: Pick<Deps, 'settings'>, draft: UserDraft, passwordRules: PasswordRules = deps.settings.password): Checked<ValidUser> {
  const errors: string[] = [];
  const name = checkUsername(draft.username);
  if (!name.ok) errors.push(name.reason);
  // Never the value itself: in a file with its columns swapped it is a password (issue 16, finding 12).
  if (!isRole(draft.role)) errors.push(`Role must be one of ${roles.join(', ')}.`);
  const password = checkNewPassword(draft.password, passwordRules);
  if (!password.ok) errors.push(password.reason);
  const skills: ValidUser['skills'] = [];
  for (const raw of draft.skills ?? []) {
    if (raw.trim() === '') continue;
    const skill = checkSkillName(raw);
    if (!skill.ok) errors.push(skill.reason);
    else if (!skills.some((s) => s.key === skill.key)) skills.push({ name: skill.name, key: skill.key });
  }
  const email = checkEmail(draft.email);
  if (!email.ok) errors.push(email.reason);
  if (errors.length > 0 || !name.ok || !isRole(draft.role) || !email.ok) return { ok: false, reason: 'invalid', errors };
  return { ok: true, value: { username: name.name, usernameKey: name.key, role: draft.role, password: draft.password, skills, email: email.email } };
}

/**
 * Who chose a new user's password. One an admin chose (Add user, `user
 * create`, `user import`) is known to someone else: the user must replace it
 * at the first sign-in before anything else (NIST SP 800-63B §5.1.1.2 asks
 * for a change when a secret may be known; OWASP ASVS 4.0.3 2.3.1 for initial
 * passwords). The account's first admin typed their own (`account create`).
 */
export type PasswordChosenBy = 'admin' | 'user';

export interface Actor {
  userId: string | null;
  label: string;
  ip: string | null;
}

/**
 * Inserts a validated user whose password is already hashed, with its skills,
 * and audits it. Answers undefined when the username is taken. Call inside a
 * transaction when several must land together.
 */
export async function insertUser(
  deps: Pick<Deps, 'clock' | 'random' | 'store'>,
  accountId: string,
  user: ValidUser,
  passwordHash: string,
  actor: Actor,
  chosenBy: PasswordChosenBy,
): Promise<string | undefined> {
  const { store } = deps;
  const now = deps.clock.now();
  const id = randomId(deps.random);
  const inserted = await store.users.create({
    id,
    accountId,
    username: user.username,
    usernameKey: user.usernameKey,
    role: user.role,
    passwordHash,
    state: 'active',
    email: user.email,
    createdAt: now,
    passwordChangeRequired: chosenBy === 'admin',
  });
  if (!inserted) return undefined;
  if (user.skills.length > 0) {
    const skills = await store.skills.ensure(
      accountId,
      user.skills.map((s) => ({ id: randomId(deps.random), name: s.name, key: s.key })),
      now,
    );
    await store.skills.assign(accountId, id, [...skills.values()].map((s) => s.id));
  }
  await audit(deps, {
    accountId,
    actorUserId: actor.userId,
    actor: actor.label,
    action: 'user.create',
    targetUserId: id,
    target: user.username,
    ip: actor.ip,
    result: 'success',
    detail: { role: user.role, passwordChangeRequired: chosenBy === 'admin' },
  });
  return id;
}

export type CreateUserResult = { ok: true; userId: string } | { ok: false; reason: 'invalid'; errors: string[] };

export async function createUser(deps: Deps, accountId: string, draft: UserDraft, actor: Actor, chosenBy: PasswordChosenBy): Promise<CreateUserResult> {
  // The account's login policy may ask for longer passwords than the service does.
  const checked = validateUser(deps, draft, await accountPasswordRules(deps, accountId));
  if (!checked.ok) return checked;
  if (!(await deps.store.accounts.get(accountId))) return { ok: false, reason: 'invalid', errors: [`There is no account ${accountId}.`] };
  const passwordHash = await deps.hasher.hash(checked.value.password);
  const userId = await inTransaction(deps, (tx) => insertUser(tx, accountId, checked.value, passwordHash, actor, chosenBy));
  if (!userId) return { ok: false, reason: 'invalid', errors: [`Username "${checked.value.username}" is already taken in this account.`] };
  return { ok: true, userId };
}
