import type { Clock } from '../../src/domain/providers.ts';

/** A clock tests set and move, so lockouts and timeouts need no sleeping. */
export class TestClock implements Clock {
  constructor(private time = Date.UTC(2026, 10, 28, 9, 0, 0)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  set(ms: number): void {
    this.time = ms;
  }
}
