import { minutesLeft } from '../domain/lockout-policy.ts';
import type { CodeResult } from '../services/mfa-challenge.ts';

// What a page says about a refused or locked code: the sign-in's code step and
// an admin's step-up say it the same way.

export function codeErrorMessage(result: Extract<CodeResult, { reason: 'invalid' }>): string {
  if (result.keyRefused) return 'Your security key’s answer was not accepted. Try again with a key you set up for this sign-in, or use another way below.';
  if (result.clockSkewMinutes !== undefined) {
    const n = result.clockSkewMinutes;
    return `That code didn’t work. Your phone’s clock seems to be off by about ${n} minute${n === 1 ? '' : 's'}: set it to update automatically, then try again.`;
  }
  return 'That code didn’t work. Check your authenticator app and try again.';
}

export function lockedMessage(lockedUntil: number, now: number): string {
  const minutes = minutesLeft(lockedUntil, now);
  return `Too many wrong codes. For your security, sign-in with a code is locked. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}
