// How a session was authenticated: each factor verified and when. The kinds
// are ours; amrOf turns them into RFC 8176 "amr" values for ID tokens and
// pages. A session keeps the steps in the order they happened.

export const factorTypes = ['totp', 'webauthn'] as const;
/** A second factor a user holds (a row of their own): an authenticator app, a security key or passkey. */
export type FactorType = (typeof factorTypes)[number];

/** What the client says it submits at the code step: a factor's proof, or a recovery code. */
export const secondFactorMethods = ['totp', 'webauthn', 'recovery_code'] as const;
export type SecondFactorMethod = (typeof secondFactorMethods)[number];

export function isSecondFactorMethod(value: unknown): value is SecondFactorMethod {
  return typeof value === 'string' && (secondFactorMethods as readonly string[]).includes(value);
}

/**
 * How one step of a sign-in was verified: the password, a second factor, or a
 * passkey alone (a discoverable credential with user verification, which
 * signs in without the password: NIST SP 800-63B §5.1.8, a multi-factor
 * cryptographic authenticator).
 */
export type AuthKind = 'password' | 'passkey' | SecondFactorMethod;
const authKinds: readonly AuthKind[] = ['password', 'passkey', ...secondFactorMethods];

export interface AuthStep {
  kind: AuthKind;
  /** When it was verified, in ms since the epoch. */
  at: number;
}

// RFC 8176 §2: pwd (password), otp (one-time password). A recovery code is a
// single-use secret the user holds (NIST SP 800-63B §5.1.2, a look-up secret);
// RFC 8176 names no value for it, and otp is the closest. mfa is added when
// the steps include a second factor besides the password (RFC 8176 §2, "mfa").
// A security key or passkey proves possession of a key held in hardware (or the
// platform's authenticator): RFC 8176 §2, "hwk". A passkey sign-in also
// verified the user on the authenticator (its UV flag, required on that path):
// RFC 8176 §2 "user" (a test of the user's presence and interaction), and it
// counts as multi-factor on its own (something you have, unlocked by
// something you know or are), so "mfa" too.
const amrValues: Record<AuthKind, readonly string[]> = { password: ['pwd'], passkey: ['hwk', 'user'], totp: ['otp'], webauthn: ['hwk'], recovery_code: ['otp'] };

export function amrOf(steps: readonly AuthStep[]): string[] {
  const values = [...new Set(steps.flatMap((s) => amrValues[s.kind]))];
  const kinds = new Set(steps.map((s) => s.kind));
  if ((kinds.has('password') && kinds.size > 1) || kinds.has('passkey')) values.push('mfa');
  return values;
}

/** Whether a security key or passkey was used: at the code step (webauthn) or as the whole sign-in (passkey). */
export function usedKey(steps: readonly AuthStep[]): boolean {
  return steps.some((s) => s.kind === 'webauthn' || s.kind === 'passkey');
}

/** When a second factor (anything but the password) was last verified, or null. */
export function secondFactorVerifiedAt(steps: readonly AuthStep[]): number | null {
  let latest: number | null = null;
  for (const s of steps) if (s.kind !== 'password' && (latest === null || s.at > latest)) latest = s.at;
  return latest;
}

const described: Record<AuthKind, string> = { password: 'password', passkey: 'passkey', totp: 'authenticator app', webauthn: 'security key', recovery_code: 'recovery code' };

/** "password and authenticator app", for the user's own list of sessions. */
export function describeSteps(steps: readonly AuthStep[]): string {
  const names = [...new Set(steps.map((s) => described[s.kind]))];
  if (names.length <= 1) return names[0] ?? 'unknown';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Reads the stored form; anything unexpected reads as no steps (never as more than was verified). */
export function parseSteps(text: string | null): AuthStep[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value.filter(
      (s): s is AuthStep =>
        typeof s === 'object' && s !== null && typeof (s as AuthStep).at === 'number' && authKinds.includes((s as AuthStep).kind),
    );
  } catch {
    return [];
  }
}
