import { checkTotp, standardTotp } from '../domain/totp.ts';
import type { TotpCheck } from '../domain/totp.ts';
import type { Authenticator } from '../storage/records.ts';
import type { Deps } from './deps.ts';
import { totpContext } from './secret-box.ts';

// Checking a code against a user's enrolled authenticator, and recording the
// accepted step so the code can never be used again.

export type FactorCheck = TotpCheck | { ok: false; reason: 'unreadable' };

/** Checks a code against an enrolled authenticator without recording anything (the caller records the step). */
export function checkAuthenticatorCode(deps: Deps, authenticator: Authenticator, input: string): FactorCheck {
  const secret = deps.secrets.open(authenticator.secret, totpContext(authenticator.accountId, authenticator.userId));
  if (!secret) {
    deps.logger.error({ userId: authenticator.userId, keyId: authenticator.secret.keyId }, 'TOTP secret does not decrypt: wrong or missing key');
    return { ok: false, reason: 'unreadable' };
  }
  const now = deps.clock.now();
  const params = { algorithm: authenticator.algorithm, digits: authenticator.digits, period: authenticator.period };
  const check = checkTotp(secret, input, params, {
    nowMs: now,
    window: deps.settings.mfa.window,
    lastUsedStep: authenticator.lastUsedStep,
    skewSearch: deps.settings.mfa.skewSearchSteps,
  });
  return check;
}

/** Checks and, when right, records the step in the same conditional UPDATE (one use per code). */
export async function verifyAuthenticatorCode(deps: Deps, authenticator: Authenticator, input: string): Promise<FactorCheck> {
  const check = checkAuthenticatorCode(deps, authenticator, input);
  if (!check.ok) return check;
  const recorded = await deps.store.authenticators.recordUse(authenticator.accountId, authenticator.userId, check.step, check.drift, deps.clock.now());
  // Another request recorded this step (or a later one) first: this one is a replay.
  return recorded ? check : { ok: false, reason: 'reused' };
}

/** Checks a code against a candidate secret during enrolment (nothing recorded yet). */
export function checkEnrolmentCode(deps: Deps, secret: Uint8Array, input: string): TotpCheck {
  return checkTotp(secret, input, standardTotp, {
    nowMs: deps.clock.now(),
    window: deps.settings.mfa.window,
    lastUsedStep: null,
    skewSearch: deps.settings.mfa.skewSearchSteps,
  });
}

/** "about 4 minutes" from a drift in steps, for the clock hint. */
export function skewMinutes(driftSteps: number, period = standardTotp.period): number {
  return Math.max(1, Math.round((Math.abs(driftSteps) * period) / 60));
}
