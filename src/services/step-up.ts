import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import { totpThrottleKey } from './mfa-challenge.ts';
import { admitAttempt, clearThrottle } from './throttle.ts';
import { skewMinutes, verifyAuthenticatorCode } from './totp-factor.ts';

// Step-up for sensitive actions (ASVS 4.0.3 V4.3.1; the spec's Reset MFA):
// an admin whose second factor was verified more than 15 minutes ago enters a
// current code first. An admin without an authenticator (MFA off and never
// enrolled) has no second factor to step up with; the action then rests on
// the session alone, as the rest of such an account does.

export async function needsStepUp(deps: Deps, view: SessionView): Promise<boolean> {
  const authenticator = await deps.store.authenticators.get(view.account.id, view.user.id);
  if (!authenticator) return false;
  const verifiedAt = view.session.mfaVerifiedAt;
  return verifiedAt === null || deps.clock.now() - verifiedAt > deps.settings.mfa.stepUpMaxAgeMs;
}

export type StepUpResult = { ok: true } | { ok: false; kind: 'invalid'; clockSkewMinutes?: number } | { ok: false; kind: 'locked'; lockedUntil: number };

/** Verifies the admin's own current code; counts failures against the same lock as sign-in codes. */
export async function stepUp(deps: Deps, view: SessionView, code: string, ip: string): Promise<StepUpResult> {
  const { account, user, session } = view;
  const key = totpThrottleKey(account.id, user.id);
  const admission = await admitAttempt(deps, key, deps.settings.throttle);
  if (!admission.admitted) return { ok: false, kind: 'locked', lockedUntil: admission.lockedUntil };
  const authenticator = await deps.store.authenticators.get(account.id, user.id);
  const base = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };
  const check = authenticator ? await verifyAuthenticatorCode(deps, authenticator, code.slice(0, 64)) : ({ ok: false, reason: 'no authenticator' } as const);
  if (!check.ok) {
    await audit(deps, deps.store, { ...base, action: 'mfa.step_up', result: 'failure', detail: { reason: check.reason } });
    if (admission.lock) {
      if (admission.lock.lockedNow) {
        await audit(deps, deps.store, { ...base, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
      }
      return { ok: false, kind: 'locked', lockedUntil: admission.lock.lockedUntil };
    }
    return check.reason === 'clock_skew' ? { ok: false, kind: 'invalid', clockSkewMinutes: skewMinutes(check.driftSteps) } : { ok: false, kind: 'invalid' };
  }
  await clearThrottle(deps, key);
  await deps.store.sessions.markMfaVerified(session.id, deps.clock.now());
  await audit(deps, deps.store, { ...base, action: 'mfa.step_up', result: 'success' });
  return { ok: true };
}
