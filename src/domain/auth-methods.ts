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
 * How one step of a sign-in was verified: the password, a second factor, a
 * passkey alone (a discoverable credential with user verification, which
 * signs in without the password: NIST SP 800-63B §5.1.8, a multi-factor
 * cryptographic authenticator), or remembered_browser: the code was skipped
 * because this browser holds a remembered-browser token of this user (issue
 * 15), which stands for a second factor verified on an earlier day, not at
 * this sign-in.
 */
export type AuthKind = 'password' | 'passkey' | SecondFactorMethod | 'remembered_browser';

const authKinds: readonly AuthKind[] = ['password', 'passkey', ...secondFactorMethods, 'remembered_browser'];

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
// A remembered browser has no RFC 8176 value (§2 lists none for a token a
// browser keeps): "remembered" is ours (§1 lets parties agree on others). It
// is no second factor verified at this sign-in, so it never adds otp or mfa
// (docs/security.md, "Remember this browser").
const amrValues: Record<AuthKind, readonly string[]> = {
  password: ['pwd'],
  passkey: ['hwk', 'user'],
  totp: ['otp'],
  webauthn: ['hwk'],
  recovery_code: ['otp'],
  remembered_browser: ['remembered'],
};

function isSecondFactorStep(step: AuthStep): boolean {
  return step.kind !== 'password' && step.kind !== 'remembered_browser';
}

export function amrOf(steps: readonly AuthStep[]): string[] {
  const values = [...new Set(steps.flatMap((s) => amrValues[s.kind]))];
  const password = steps.some((s) => s.kind === 'password');
  if ((password && steps.some(isSecondFactorStep)) || steps.some((s) => s.kind === 'passkey')) values.push('mfa');
  return values;
}

/** Whether a security key or passkey was used: at the code step (webauthn) or as the whole sign-in (passkey). */
export function usedKey(steps: readonly AuthStep[]): boolean {
  return steps.some((s) => s.kind === 'webauthn' || s.kind === 'passkey');
}

/**
 * When a second factor was last verified in this session, or null. A
 * remembered browser is none: step-up, acr and acr_values asking for MFA
 * want a code of this session.
 */
export function secondFactorVerifiedAt(steps: readonly AuthStep[]): number | null {
  let latest: number | null = null;
  for (const s of steps) if (isSecondFactorStep(s) && (latest === null || s.at > latest)) latest = s.at;
  return latest;
}

/** Whether the session may go on under an account's MFA: a second factor verified, or a remembered browser of the user. */
export function meetsAccountMfa(steps: readonly AuthStep[]): boolean {
  return steps.some((s) => s.kind !== 'password');
}

const described: Record<AuthKind, string> = {
  password: 'password',
  passkey: 'passkey',
  totp: 'authenticator app',
  webauthn: 'security key',
  recovery_code: 'recovery code',
  remembered_browser: 'remembered browser',
};

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
