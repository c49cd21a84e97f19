import { secondFactorVerifiedAt } from '../domain/auth-methods.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import type { Refusal } from './factors/factor-module.ts';
import { usableFactorsOf } from './factors/index.ts';
import { skewMinutes, totpFactorsOf, totpSecondFactor } from './factors/totp.ts';
import { secondFactorThrottleKey } from './mfa-challenge.ts';
import { admitAttempt, clearThrottle } from './throttle.ts';

// Step-up for sensitive actions (ASVS 4.0.3 V4.3.1; the spec's Reset MFA):
// an admin whose second factor was verified more than 15 minutes ago (as the
// session's own record of its factors says) enters a current code first, or,
// holding security keys only, signs in again with one (a key assertion as
// step-up is not built). An admin without any factor (MFA off and never set
// up) has nothing to step up with; the action then rests on the session
// alone, as the rest of such an account does.

/**
 * What a sensitive action asks of this session first: nothing (no factor to
 * step up with, or one verified within the step-up window), a current code
 * (the user holds an authenticator app the account allows), or a new sign-in
 * (the user's usable factors are security keys only, or none is usable any
 * more: a code of an app the account no longer allows proves nothing).
 */
export async function stepUpMode(deps: Deps, view: SessionView): Promise<'none' | 'code' | 'sign_in_again'> {
  const { factors, all } = await usableFactorsOf(deps, view.account.id, view.user);
  if (all.length === 0) return 'none';
  const verifiedAt = secondFactorVerifiedAt(view.session.methods);
  if (verifiedAt !== null && deps.clock.now() - verifiedAt <= deps.settings.mfa.stepUpMaxAgeMs) return 'none';
  return totpFactorsOf({ factors }).length > 0 ? 'code' : 'sign_in_again';
}

export type StepUpResult = { ok: true } | { ok: false; reason: 'invalid'; clockSkewMinutes?: number } | { ok: false; reason: 'locked'; lockedUntil: number };

/** Verifies the admin's own current code; counts failures against the same lock as sign-in codes. */
export async function stepUp(deps: Deps, view: SessionView, code: string, ip: string): Promise<StepUpResult> {
  const { account, user, session } = view;
  const key = secondFactorThrottleKey(account.id, user.id);
  const admission = await admitAttempt(deps, key, deps.settings.throttle);
  if (!admission.admitted) return { ok: false, reason: 'locked', lockedUntil: admission.lockedUntil };
  const { factors } = await usableFactorsOf(deps, account.id, user);
  const challenge = { view, factors: totpFactorsOf({ factors }) };
  const base = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };
  const verified = challenge.factors.length > 0 ? await totpSecondFactor.verify(deps, challenge, code.slice(0, 64)) : ({ ok: false, reason: 'no authenticator' } satisfies Refusal);
  const check = verified.ok ? await totpSecondFactor.spend(deps, challenge, verified.proof, ip) : verified;
  if (!check.ok) {
    await audit(deps, { ...base, action: 'mfa.step_up', result: 'failure', detail: { reason: check.reason } });
    if (admission.lock) {
      if (admission.lock.lockedNow) {
        await audit(deps, { ...base, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
      }
      return { ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil };
    }
    return check.driftSteps === undefined ? { ok: false, reason: 'invalid' } : { ok: false, reason: 'invalid', clockSkewMinutes: skewMinutes(check.driftSteps) };
  }
  await clearThrottle(deps, key);
  const now = deps.clock.now();
  await deps.store.sessions.setMethods(session.id, [...session.methods.filter((m) => m.kind !== 'totp'), { kind: 'totp', at: now }], now);
  await audit(deps, { ...base, action: 'mfa.step_up', result: 'success' });
  return { ok: true };
}
