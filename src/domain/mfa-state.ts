import { factorTypes } from './auth-methods.ts';
import type { FactorType } from './auth-methods.ts';

/** Where a user stands with the second factor, as an admin lists, filters and sees it. */
export const mfaStates = ['not_enrolled', 'enrolled', 'locked'] as const;
export type MfaStateName = (typeof mfaStates)[number];

export function isMfaStateName(value: unknown): value is MfaStateName {
  return (mfaStates as readonly unknown[]).includes(value);
}

/**
 * What Users & Skills' MFA filter (and the users API's `mfa`) choose by: a state,
 * or a type of factor the user holds (issue 14: "Authenticator app", "Security key").
 */
export const mfaFilters = [...mfaStates, ...factorTypes] as const;
export type MfaFilterName = MfaStateName | FactorType;

export function isMfaFilterName(value: unknown): value is MfaFilterName {
  return (mfaFilters as readonly unknown[]).includes(value);
}

/** A factor type as people read it, on the admin's pages and the user's own. */
export const factorTypeLabels: Record<FactorType, string> = { totp: 'Authenticator app', webauthn: 'Security key or passkey' };
