import type { FactorType } from '../domain/auth-methods.ts';
import { secondFactorVerifiedAt } from '../domain/auth-methods.ts';
import { keyRequired, usableFactors } from '../domain/factor-policy.ts';
import type { FactorPolicy } from '../domain/factor-policy.ts';
import type { Factor } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { usableFactorsOf, userFactors } from './factors/index.ts';
import { freshRecoveryCodes } from './factors/recovery-code.ts';
import { totpFactorsOf } from './factors/totp.ts';
import { stepUp } from './step-up.ts';

// "Your security" (issue 14): a signed-in user lists, renames and removes
// their own factors and makes new recovery codes. Removing a factor and new
// recovery codes weaken what a thief holding the session could later be asked
// for, so each asks for a current factor first, always (not only after the
// step-up window): OWASP ASVS 4.0.3 V2.5.x / V4.3.1, NIST SP 800-63B §6.1.2.3.
// Every change is audited and the user told. Adding an app: factor-addition.ts.
// Only factors of the kinds the account allows count (domain/factor-policy.ts):
// they are the ones a proof, the last-factor rule and recovery codes look at.

export interface OwnFactor {
  id: string;
  name: string;
  type: FactorType;
  createdAt: number;
  lastUsedAt: number | null;
  /** Whether the account's settings let it be used (a kind no longer allowed stays listed, and may be removed). */
  allowed: boolean;
}

export const FACTOR_NAME_MAX = 64;

export type NameCheck = { ok: true; name: string } | { ok: false; message: string };

/** 1–64 characters once trimmed, none of them a control character (a name is shown in lists and notices). */
export function checkFactorName(raw: string): NameCheck {
  const name = raw.normalize('NFC').trim().replace(/\s+/gu, ' ');
  const chars = [...name].length;
  if (chars < 1 || chars > FACTOR_NAME_MAX) return { ok: false, message: `A name is 1–${FACTOR_NAME_MAX} characters.` };
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(name)) return { ok: false, message: 'A name cannot contain control or invisible formatting characters.' };
  return { ok: true, name };
}

/** "Authenticator app", or "Authenticator app 2" when the user has one of that name already. */
export function unusedName(base: string, factors: readonly Pick<Factor, 'name'>[]): string {
  const taken = new Set(factors.map((f) => f.name));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base} ${n}`)) return `${base} ${n}`;
}

const describe = (f: Factor, usable: readonly Factor[]): OwnFactor => ({
  id: f.id,
  name: f.name,
  type: f.type,
  createdAt: f.createdAt,
  lastUsedAt: f.lastUsedAt,
  allowed: usable.some((u) => u.id === f.id),
});

export interface OwnFactors {
  factors: OwnFactor[];
  /** The kinds the user may add. */
  kinds: FactorType[];
  /** Whether the account requires a second factor of this user: the last usable one then cannot be removed. */
  required: boolean;
}

/** Whether the account requires a second factor of this user: MFA on, or a key required of admins. */
export function secondFactorRequired(mfaEnabled: boolean, policy: FactorPolicy, role: SessionView['user']['role']): boolean {
  return mfaEnabled || keyRequired(policy, role);
}

export async function listOwnFactors(deps: Deps, auth: SessionView): Promise<OwnFactors> {
  const [all, usable] = await Promise.all([userFactors(deps, auth.account.id, auth.user.id), usableFactorsOf(deps, auth.account.id, auth.user)]);
  return { factors: all.map((f) => describe(f, usable.factors)), kinds: usable.kinds, required: secondFactorRequired(auth.account.mfaEnabled, usable.policy, auth.user.role) };
}

/** Why a current factor was not proven. */
export type ProofRefusal =
  /** No code was sent: ask for one. */
  | { ok: false; reason: 'code_required' }
  | { ok: false; reason: 'invalid_code'; clockSkewMinutes?: number }
  | { ok: false; reason: 'locked'; lockedUntil: number }
  /** The user holds no authenticator app (security keys only) and their key was verified too long ago: sign in again with it. */
  | { ok: false; reason: 'reauthenticate' };

/**
 * A current factor, proven now: a code from one of the user's authenticator
 * apps, through step-up (the same lock as sign-in codes, audited as
 * mfa.step_up, the step marked used). A user whose usable factors are
 * security keys only has no code to type; for them the key verified at this
 * session's sign-in counts while it is within the step-up window. Callers ask
 * only of a user who holds a usable factor (none has nothing to prove).
 */
export async function proveCurrentFactor(deps: Deps, auth: SessionView, code: string | undefined, ip: string): Promise<{ ok: true } | ProofRefusal> {
  const { factors } = await usableFactorsOf(deps, auth.account.id, auth.user);
  if (totpFactorsOf({ factors }).length === 0) {
    const verifiedAt = secondFactorVerifiedAt(auth.session.methods);
    const fresh = verifiedAt !== null && deps.clock.now() - verifiedAt <= deps.settings.mfa.stepUpMaxAgeMs;
    return fresh && factors.length > 0 ? { ok: true } : { ok: false, reason: 'reauthenticate' };
  }
  if (!code) return { ok: false, reason: 'code_required' };
  const verified = await stepUp(deps, auth, code, ip);
  if (verified.ok) return verified;
  if (verified.reason === 'locked') return verified;
  return verified.clockSkewMinutes ? { ok: false, reason: 'invalid_code', clockSkewMinutes: verified.clockSkewMinutes } : { ok: false, reason: 'invalid_code' };
}

/** Tells the user what changed on their sign-in (never fails the change). */
export async function tellUser(deps: Deps, auth: SessionView, subject: string, what: string, ip: string): Promise<void> {
  const { account, user } = auth;
  const full = await deps.store.users.get(account.id, user.id);
  const at = new Date(deps.clock.now()).toISOString();
  try {
    await deps.notifier.notify({
      to: { username: user.username, email: full?.email ?? null },
      subject: `${subject} for ${account.name}`,
      text: `${what} on your sign-in "${user.username}" to ${account.name} (account ${account.id}) at ${at} from ${ip}. If this was not you, tell your administrator at once.`,
    });
  } catch (error) {
    deps.logger.error({ err: error, accountId: account.id, userId: user.id }, 'could not send a notice of a factor change');
  }
}

const auditBase = (auth: SessionView, ip: string) => ({
  accountId: auth.account.id,
  actorUserId: auth.user.id,
  actor: auth.user.username,
  targetUserId: auth.user.id,
  target: auth.user.username,
  ip,
});

const kindOf = (type: FactorType) => (type === 'webauthn' ? 'security key' : 'authenticator app');

export type RenameResult = { ok: true; factor: OwnFactor } | { ok: false; reason: 'invalid_name'; message: string } | { ok: false; reason: 'not_found' };

export async function renameOwnFactor(deps: Deps, auth: SessionView, factorId: string, rawName: string, ip: string): Promise<RenameResult> {
  const checked = checkFactorName(rawName);
  if (!checked.ok) return { ok: false, reason: 'invalid_name', message: checked.message };
  const { account, user } = auth;
  const renamed = await inTransaction(deps, async (tx) => {
    const factor = (await userFactors(tx, account.id, user.id)).find((f) => f.id === factorId);
    if (!factor || !(await tx.store.factors.rename(account.id, user.id, factorId, checked.name))) return undefined;
    await audit(tx, { ...auditBase(auth, ip), action: 'factor.rename', result: 'success', detail: { factorId, type: factor.type, from: factor.name, to: checked.name } });
    return { ...describe(factor, (await usableFactorsOf(tx, account.id, user)).factors), name: checked.name };
  });
  if (!renamed) return { ok: false, reason: 'not_found' };
  await tellUser(deps, auth, `A second factor was renamed`, `Your ${kindOf(renamed.type)} was renamed to "${renamed.name}"`, ip);
  return { ok: true, factor: renamed };
}

export type RemoveResult =
  | { ok: true; removed: OwnFactor; factorsLeft: number }
  | { ok: false; reason: 'not_found' }
  /** The account requires MFA and this is the user's last factor. */
  | { ok: false; reason: 'last_factor' }
  | ProofRefusal;

/** Thrown inside the transaction to roll it back. */
class Refused extends Error {
  constructor(readonly reason: 'not_found' | 'last_factor') {
    super(reason);
  }
}

/**
 * Removes one of the user's factors, after a current factor is proven. Never
 * the last usable one while the account requires a second factor of the
 * user: checked again in the transaction with the user's row locked (as the
 * code step and Reset MFA lock it), so two removals racing take turns and the
 * second sees one factor left. With the last usable factor gone (MFA off) the
 * recovery codes go too: they stand in for a factor, and with none they would
 * be a password of their own.
 */
export async function removeOwnFactor(deps: Deps, auth: SessionView, factorId: string, code: string | undefined, ip: string): Promise<RemoveResult> {
  const { account, user } = auth;
  const listed = await listOwnFactors(deps, auth);
  const target = listed.factors.find((f) => f.id === factorId);
  // Not one of the user's: 404 before any code is asked or counted (another user's id and a made-up one answer alike).
  if (!target) return { ok: false, reason: 'not_found' };
  const usable = listed.factors.filter((f) => f.allowed);
  if (listed.required && target.allowed && usable.length <= 1) return { ok: false, reason: 'last_factor' };
  if (usable.length > 0) {
    const proof = await proveCurrentFactor(deps, auth, code, ip);
    if (!proof.ok) return proof;
  }
  let outcome: { removed: OwnFactor; factorsLeft: number; codesRevoked: number };
  try {
    outcome = await inTransaction(deps, async (tx) => {
      await tx.store.users.lockForUpdate(account.id, user.id);
      // Read again under the lock: MFA or the allowed kinds may have changed, a factor gone, meanwhile.
      const [current, rules, factors] = await Promise.all([tx.store.accounts.get(account.id), tx.store.accessRules.get(account.id), tx.store.factors.forUser(account.id, user.id)]);
      const factor = factors.find((f) => f.id === factorId);
      if (!factor) throw new Refused('not_found');
      const counting = usableFactors(rules.factors, user.role, factors);
      const required = secondFactorRequired(current?.mfaEnabled ?? true, rules.factors, user.role);
      if (required && counting.some((f) => f.id === factorId) && counting.length <= 1) throw new Refused('last_factor');
      if (!(await tx.store.factors.deleteOne(account.id, user.id, factorId))) throw new Refused('not_found');
      const factorsLeft = factors.length - 1;
      const usableLeft = counting.filter((f) => f.id !== factorId).length;
      const codesRevoked = usableLeft === 0 ? await tx.store.recoveryCodes.deleteForUser(account.id, user.id) : 0;
      await audit(tx, {
        ...auditBase(auth, ip),
        action: 'factor.remove',
        result: 'success',
        detail: { factorId, type: factor.type, name: factor.name, factorsLeft, recoveryCodesRevoked: codesRevoked },
      });
      return { removed: describe(factor, counting), factorsLeft, codesRevoked };
    });
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.reason };
    throw error;
  }
  await tellUser(deps, auth, 'A second factor was removed', `Your ${kindOf(outcome.removed.type)} "${outcome.removed.name}" was removed`, ip);
  return { ok: true, removed: outcome.removed, factorsLeft: outcome.factorsLeft };
}

export type RegenerateResult = { ok: true; codes: string[] } | { ok: false; reason: 'no_factor' } | ProofRefusal;

/**
 * New recovery codes, after a current factor is proven: the old set is
 * deleted in the transaction that stores the new one, so no moment has both,
 * and the new codes are answered once (only their hashes are kept).
 */
export async function regenerateRecoveryCodes(deps: Deps, auth: SessionView, code: string | undefined, ip: string): Promise<RegenerateResult> {
  const { account, user } = auth;
  if ((await usableFactorsOf(deps, account.id, user)).factors.length === 0) return { ok: false, reason: 'no_factor' };
  const proof = await proveCurrentFactor(deps, auth, code, ip);
  if (!proof.ok) return proof;
  const codes = await inTransaction(deps, async (tx) => {
    await tx.store.users.lockForUpdate(account.id, user.id);
    // A reset that came first leaves no factor: recovery codes then stand in for nothing.
    if ((await usableFactorsOf(tx, account.id, user)).factors.length === 0) return undefined;
    const left = await tx.store.recoveryCodes.countUnused(account.id, user.id);
    const fresh = await freshRecoveryCodes(tx, account.id, user.id);
    await audit(tx, { ...auditBase(auth, ip), action: 'recovery_codes.regenerate', result: 'success', detail: { unusedRevoked: left, issued: fresh.length } });
    return fresh;
  });
  if (!codes) return { ok: false, reason: 'no_factor' };
  await tellUser(deps, auth, 'New recovery codes were made', 'New recovery codes were made (the earlier ones no longer work)', ip);
  return { ok: true, codes };
}
