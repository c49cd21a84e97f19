import { describe, expect, it } from 'vitest';
import { throttleDefaults } from '../../src/config/defaults.ts';
import { lockDuration, minutesLeft, retryAfterSeconds } from '../../src/domain/lockout-policy.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const rules = { ...throttleDefaults };

describe('lockDuration', () => {
  it('ships 15 minutes doubling up to 24 hours, after 10 failures', () => {
    expect(rules).toEqual({ maxConsecutiveFailures: 10, firstLockMs: 15 * MINUTE, maxLockMs: 24 * HOUR, addressDelayMs: 30 * 1000 });
  });

  it('doubles from 15 minutes: 15, 30, 60, 120, 240, 480, 960', () => {
    const minutes = [1, 2, 3, 4, 5, 6, 7].map((n) => lockDuration(n, rules) / MINUTE);
    expect(minutes).toEqual([15, 30, 60, 120, 240, 480, 960]);
  });

  it('caps at 24 hours from the 8th lock on', () => {
    for (const n of [8, 9, 10, 50, 1000]) {
      expect(lockDuration(n, rules), `lock ${n}`).toBe(24 * HOUR);
    }
  });

  it('treats a lock number below 1 as the first lock', () => {
    expect(lockDuration(0, rules)).toBe(15 * MINUTE);
    expect(lockDuration(-3, rules)).toBe(15 * MINUTE);
  });

  it('stays finite and capped for huge lock numbers', () => {
    for (const n of [1075, 10_000, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Infinity]) {
      const ms = lockDuration(n, rules);
      expect(Number.isFinite(ms), `lock ${n}`).toBe(true);
      expect(ms, `lock ${n}`).toBe(24 * HOUR);
    }
  });

  it('stays finite even when the cap itself is not', () => {
    const uncapped = { ...rules, maxLockMs: Infinity };
    for (const n of [1075, Number.MAX_SAFE_INTEGER, Infinity]) {
      const ms = lockDuration(n, uncapped);
      expect(Number.isFinite(ms), `lock ${n}`).toBe(true);
      expect(ms).toBeGreaterThan(24 * HOUR);
    }
  });

  it('follows other rules: 1 minute doubling up to 5', () => {
    const small = { maxConsecutiveFailures: 3, firstLockMs: MINUTE, maxLockMs: 5 * MINUTE };
    expect([1, 2, 3, 4, 5].map((n) => lockDuration(n, small) / MINUTE)).toEqual([1, 2, 4, 5, 5]);
  });
});

describe('minutesLeft', () => {
  const now = Date.UTC(2026, 10, 28, 9, 0, 0);

  it('answers whole minutes', () => {
    expect(minutesLeft(now + 15 * MINUTE, now)).toBe(15);
  });

  it('rounds up', () => {
    expect(minutesLeft(now + 15 * MINUTE - 1, now)).toBe(15);
    expect(minutesLeft(now + 14 * MINUTE + 1, now)).toBe(15);
    expect(minutesLeft(now + 1, now)).toBe(1);
  });

  it('never answers 0, even when the lock has just ended', () => {
    expect(minutesLeft(now, now)).toBe(1);
    expect(minutesLeft(now - 5 * MINUTE, now)).toBe(1);
  });
});

describe('retryAfterSeconds', () => {
  const now = Date.UTC(2026, 10, 28, 9, 0, 0);

  it('answers whole seconds', () => {
    expect(retryAfterSeconds(now + 15 * MINUTE, now)).toBe(900);
    expect(retryAfterSeconds(now + 1000, now)).toBe(1);
  });

  it('rounds up', () => {
    expect(retryAfterSeconds(now + 1001, now)).toBe(2);
    expect(retryAfterSeconds(now + 1, now)).toBe(1);
  });

  it('never answers 0, even when the lock has just ended', () => {
    expect(retryAfterSeconds(now, now)).toBe(1);
    expect(retryAfterSeconds(now - 60_000, now)).toBe(1);
  });
});
