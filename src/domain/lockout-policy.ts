// Consecutive-failure lockout with doubling lock times (the spec's abuse
// limits; NIST SP 800-63B §5.2.2 rate limiting). Pure: the store counts, this
// decides.

export interface LockoutRules {
  maxConsecutiveFailures: number;
  firstLockMs: number;
  maxLockMs: number;
}

/** How long the n-th lock in a row lasts (n starts at 1): 15 min, 30, 60 … capped. */
export function lockDuration(lockNumber: number, rules: LockoutRules): number {
  const doublings = Math.max(0, lockNumber - 1);
  // 2 ** 40 already dwarfs any cap; stop there so the number stays finite.
  return Math.min(rules.firstLockMs * 2 ** Math.min(doublings, 40), rules.maxLockMs);
}

/** Whole minutes left, rounded up, for messages ("try again in 15 minutes"). */
export function minutesLeft(lockedUntil: number, now: number): number {
  return Math.max(1, Math.ceil((lockedUntil - now) / 60_000));
}

export function retryAfterSeconds(lockedUntil: number, now: number): number {
  return Math.max(1, Math.ceil((lockedUntil - now) / 1000));
}
