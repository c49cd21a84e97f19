import { lockDuration } from '../domain/lockout-policy.ts';
import type { ThrottleKey } from '../storage/records.ts';
import type { Deps } from './deps.ts';

export type ThrottleCheck = { locked: false } | { locked: true; lockedUntil: number };

export async function checkThrottle(deps: Deps, key: ThrottleKey): Promise<ThrottleCheck> {
  const state = await deps.store.throttles.get(key);
  const now = deps.clock.now();
  if (state?.lockedUntil != null && state.lockedUntil > now) return { locked: true, lockedUntil: state.lockedUntil };
  return { locked: false };
}

export type FailureOutcome = { locked: false } | { locked: true; lockedUntil: number; lockedNow: boolean };

/**
 * Counts a failure; when it is the limit-th in a row, locks the key for a
 * doubling time. lockedNow is true for the one request that set the lock.
 */
export async function recordFailure(deps: Deps, key: ThrottleKey): Promise<FailureOutcome> {
  const rules = deps.settings.throttle;
  const now = deps.clock.now();
  const state = await deps.store.throttles.addFailure(key, now);
  if (state.failures < rules.maxConsecutiveFailures) return { locked: false };
  const lockNumber = state.lockCount + 1;
  const lockedUntil = now + lockDuration(lockNumber, rules);
  const lockedNow = await deps.store.throttles.lock(key, rules.maxConsecutiveFailures, lockNumber, lockedUntil, now);
  if (lockedNow) return { locked: true, lockedUntil, lockedNow };
  // Another request locked it a moment ago: report that lock.
  const current = await deps.store.throttles.get(key);
  return current?.lockedUntil != null && current.lockedUntil > now
    ? { locked: true, lockedUntil: current.lockedUntil, lockedNow: false }
    : { locked: false };
}

export async function clearThrottle(deps: Deps, key: ThrottleKey): Promise<void> {
  await deps.store.throttles.clear(key);
}
