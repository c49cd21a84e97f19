import { factorTypes } from './auth-methods.ts';
import type { FactorType, SecondFactorMethod } from './auth-methods.ts';
import type { Role } from './roles.ts';

// Which second factors an account's users may use (Account Access Control,
// issue 14): authenticator apps, security keys and passkeys, or both; and
// whether admins must use a security key or passkey (phishing-resistant,
// NIST SP 800-63B §5.2.5: an authenticator app's code can be relayed by a
// fake sign-in page, a WebAuthn signature is bound to our origin).
//
// A factor of a kind the account no longer allows stays stored but does not
// count: a user whose factors are all of such kinds sets up an allowed one at
// the next sign-in, as a user without any does.

export interface FactorPolicy {
  /** At least one kind. */
  allowed: FactorType[];
  /** Admins sign in with a security key or passkey only (webauthn must be allowed). */
  adminsNeedKey: boolean;
}

export const defaultFactorPolicy: FactorPolicy = { allowed: [...factorTypes], adminsNeedKey: false };

/** Whether an admin of this account must use a security key or passkey. */
export function keyRequired(policy: FactorPolicy, role: Role): boolean {
  return policy.adminsNeedKey && role === 'admin';
}

/** The kinds of factor a user of this role may set up and sign in with. */
export function allowedKinds(policy: FactorPolicy, role: Role): FactorType[] {
  return keyRequired(policy, role) ? ['webauthn'] : policy.allowed;
}

/** The user's factors that count under the policy. */
export function usableFactors<F extends { type: FactorType }>(policy: FactorPolicy, role: Role, factors: readonly F[]): F[] {
  const kinds = allowedKinds(policy, role);
  return factors.filter((f) => kinds.includes(f.type));
}

/**
 * Whether a code step may use this method: a factor of an allowed kind; a
 * recovery code only when the user holds a usable factor (it stands in for a
 * lost one, never for one the policy asks the user to set up), and never for an
 * admin who must use a key (another admin's Reset MFA, or the CLI's, is the
 * way back for one who lost it).
 */
export function methodAllowed(policy: FactorPolicy, role: Role, method: SecondFactorMethod, usableCount: number): boolean {
  // An admin who must use a key signs in with one: a recovery code would make a
  // session that ends at once (sessionIsLive) and burn the code for nothing.
  if (method === 'recovery_code') return usableCount > 0 && !keyRequired(policy, role);
  return allowedKinds(policy, role).includes(method);
}

export interface FactorPolicyInput {
  allowed: readonly string[];
  adminsNeedKey: boolean;
}

/** Validates the form's or the API's choice, with a message per problem. */
export function checkFactorPolicy(input: FactorPolicyInput): { ok: true; policy: FactorPolicy } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const unknown = input.allowed.filter((k) => !(factorTypes as readonly string[]).includes(k));
  if (unknown.length > 0) errors.push(`Unknown kind of factor: ${unknown.slice(0, 3).join(', ')}. Use "totp" (authenticator app) or "webauthn" (security key or passkey).`);
  const allowed = factorTypes.filter((k) => input.allowed.includes(k));
  if (allowed.length === 0) errors.push('Allow at least one kind of second factor.');
  if (input.adminsNeedKey && !allowed.includes('webauthn')) errors.push('To require a security key or passkey for admins, allow security keys and passkeys.');
  return errors.length > 0 ? { ok: false, errors } : { ok: true, policy: { allowed, adminsNeedKey: input.adminsNeedKey } };
}

/** The stored form: the allowed kinds, comma-separated; anything unknown or empty reads as the default. */
export function parseAllowed(text: string): FactorType[] {
  const kinds = factorTypes.filter((k) => text.split(',').includes(k));
  return kinds.length > 0 ? kinds : [...factorTypes];
}
