import { commonPasswords } from './common-passwords.ts';

export interface PasswordRules {
  minLength: number;
  maxLength: number;
}

export type PasswordCheck = { ok: true; normalized: string } | { ok: false; reason: string };

/**
 * NFKC-normalizes a password (NIST SP 800-63B §5.1.1.2) so that the same
 * characters typed on different keyboards hash the same. Applied both when
 * setting and when verifying; never truncates.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Counts characters as a person does: code points, not UTF-16 units. */
function length(text: string): number {
  return [...text].length;
}

/** ASVS 4.0.3 V2.1.1, V2.1.2 (length), V2.1.7 (no known-common passwords). */
export function checkNewPassword(password: string, rules: PasswordRules): PasswordCheck {
  const normalized = normalizePassword(password);
  const chars = length(normalized);
  if (chars < rules.minLength) {
    return { ok: false, reason: `Password must be at least ${rules.minLength} characters.` };
  }
  if (chars > rules.maxLength) {
    return { ok: false, reason: `Password must be at most ${rules.maxLength} characters.` };
  }
  if (commonPasswords.has(normalized.toLowerCase())) {
    return { ok: false, reason: 'This password is too common. Choose another.' };
  }
  return { ok: true, normalized };
}
