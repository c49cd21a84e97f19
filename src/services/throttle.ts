import type { LockoutRules } from '../domain/lockout-policy.ts';
import { TemporarilyUnavailable } from '../domain/errors.ts';
import { lockDuration } from '../domain/lockout-policy.ts';
import type { ThrottleKey } from '../storage/records.ts';
import type { Deps } from './deps.ts';

// Consecutive-failure locks, counted in the database so every instance sees
// them. An attempt is counted *before* its credential is checked: of any burst,
// however large, at most `maxConsecutiveFailures` are ever checked before the
// lock engages; success then takes its count back.

export interface ThrottleRules extends LockoutRules {
  /** Forget a count whose last failure is older than this (for counters success does not clear). */
  windowMs?: number;
}

export type Admission =
  | { admitted: true; /** Set when this attempt is the last one allowed: it locked the key. */ lock?: { lockedUntil: number; lockedNow: boolean; lockNumber: number } }
  | { admitted: false; lockedUntil: number };

export async function checkThrottle(deps: Deps, key: ThrottleKey): Promise<{ locked: false } | { locked: true; lockedUntil: number }> {
  const state = await deps.store.throttles.get(key);
  if (state?.lockedUntil != null && state.lockedUntil > deps.clock.now()) return { locked: true, lockedUntil: state.lockedUntil };
  return { locked: false };
}

/**
 * Admits an attempt on a key, counting it as a failure up front. Refused while
 * the key is locked (without counting) and once the count is past the limit.
 * The attempt that reaches the limit locks the key and is still checked.
 */
export async function admitAttempt(deps: Deps, key: ThrottleKey, rules: ThrottleRules): Promise<Admission> {
  const now = deps.clock.now();
  // One statement counts and reads: a locked key counts nothing and answers its lock,
  // whether the lock was set long ago or a moment ago by a racing request.
  const state = await deps.store.throttles.addFailure(key, now, rules.windowMs === undefined ? undefined : now - rules.windowMs);
  if (state.lockedUntil !== null && state.lockedUntil > now) return { admitted: false, lockedUntil: state.lockedUntil };
  if (state.failures < rules.maxConsecutiveFailures) return { admitted: true };
  const lockNumber = state.lockCount + 1;
  if (state.failures === rules.maxConsecutiveFailures) {
    const lockedUntil = now + lockDuration(lockNumber, rules);
    const lockedNow = await deps.store.throttles.lock(key, rules.maxConsecutiveFailures, lockNumber, lockedUntil, now);
    if (lockedNow) return { admitted: true, lock: { lockedUntil, lockedNow, lockNumber } };
  }
  // Past the limit: a request that counted earlier is setting (or has set) the lock.
  const current = await deps.store.throttles.get(key);
  const lockedUntil = current?.lockedUntil != null && current.lockedUntil > now ? current.lockedUntil : now + lockDuration(lockNumber, rules);
  return { admitted: false, lockedUntil };
}

/**
 * Runs the check of an admitted attempt. When no hashing thread could answer
 * (TemporarilyUnavailable), nothing was decided, so the attempt is taken back —
 * its count, and the lock it set if it was the last one allowed (a count or lock
 * another request changed since stays) — and the error goes on: a client told
 * to try again must not lock itself out.
 */
export async function checkAdmitted<T>(deps: Deps, key: ThrottleKey, admission: Admission & { admitted: true }, rules: ThrottleRules, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof TemporarilyUnavailable) await takeBackAttempt(deps, key, admission, rules);
    throw error;
  }
}

/**
 * Takes back an admitted attempt that proved nothing either way: its count,
 * and the lock it set if it was the last one allowed. The failures before it
 * stay counted (a count or lock another request changed since stays too).
 */
export async function takeBackAttempt(deps: Pick<Deps, 'store'>, key: ThrottleKey, admission: Admission & { admitted: true }, rules: ThrottleRules): Promise<void> {
  if (admission.lock) await deps.store.throttles.unlock(key, admission.lock.lockNumber, admission.lock.lockedUntil, rules.maxConsecutiveFailures - 1);
  else await deps.store.throttles.takeBackFailure(key);
}

/** A success: the key's count, lock and doubling start over. */
export async function clearThrottle(deps: Deps, key: ThrottleKey): Promise<void> {
  await deps.store.throttles.clear(key);
}

/**
 * Counts a failure after the fact, for counters that must not count attempts
 * in flight (a client address: many people behind one NAT sign in at once, and
 * their successes must not lock each other out). Answers the lock it set, if any.
 */
export async function countFailure(deps: Deps, key: ThrottleKey, rules: ThrottleRules): Promise<{ lockedUntil: number; lockedNow: boolean } | undefined> {
  const now = deps.clock.now();
  const state = await deps.store.throttles.addFailure(key, now, rules.windowMs === undefined ? undefined : now - rules.windowMs);
  if (state.failures < rules.maxConsecutiveFailures) return undefined;
  const lockNumber = state.lockCount + 1;
  const lockedUntil = now + lockDuration(lockNumber, rules);
  const lockedNow = await deps.store.throttles.lock(key, rules.maxConsecutiveFailures, lockNumber, lockedUntil, now);
  return lockedNow ? { lockedUntil, lockedNow } : undefined;
}
