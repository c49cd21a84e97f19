import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordDefaults } from '../../src/config/defaults.ts';
import { createUser } from '../../src/services/users.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';

// A failed sign-in must not tell, by its duration, whether the username
// exists: an unknown user spends a dummy argon2 verification that costs what
// a real one does (src/services/sign-in.ts). Measured with the real argon2id
// parameters (OWASP: 19 MiB, t=2), where the hash dominates the request.
//
// It stays in the default suite, made to bear a busy machine (a separate
// `npm run test:timing` in .ci/run would meet the same load: CI runs on a
// machine like this one, with another test file beside it):
// - Pairs. An unknown user and a wrong password back to back (which goes
//   first alternates), and the figure is the median of the per-pair ratios.
//   Load (tsc, another file's argon2; the hashing threads' lower priority
//   makes them the first to be starved) slows both halves of the pairs it
//   falls on, so their ratios stay near 1. Comparing each side's median, as
//   before, failed once (2.24) while tsc ran beside it: when a slow spell
//   covers about half of the run, each side's median sits at the jump between
//   fast and slow samples, and one sample on a side moves it across.
// - As many pairs as the noise needs. Pairs are taken until a 95%
//   distribution-free confidence interval of that median lies inside the
//   bounds or wholly outside them, or the budget is spent; the assertion is on
//   the median itself either way. A quiet machine decides in 40 pairs (a few
//   seconds). In trials on this 2-core machine at a load average near 20 with
//   tsc running in a loop beside it, 80 to 180 pairs (up to two minutes), all
//   inside the bounds; 60 fixed pairs failed one run in four there (0.65).
// Nothing here is relaxed for load: the bounds are the spec's 25%, and a
// missing dummy hash moves every pair, not only the slow ones.

const MIN_PAIRS = 40;
const MAX_PAIRS = 300;
const BUDGET_MS = 100_000;
/** Pairs are added this many at a time between looks at the interval. */
const ROUND = 20;
const KNOWN_USERS = 40; // at most 8 wrong passwords each: under the per-username lock of 10
const REAL_ARGON2 = {
  PORTCULLIS_ARGON2_MEMORY_KIB: String(passwordDefaults.argon2MemoryKiB),
  PORTCULLIS_ARGON2_ITERATIONS: String(passwordDefaults.argon2Iterations),
};
// The spec asks for "within 25%": the bounds are 0.75 and 1/0.75 = 1.33, so
// either kind may be the slower one.
const LOW = 0.75;
const HIGH = 1 / 0.75;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * A 95% confidence interval of the median, assuming nothing of the
 * distribution: order statistics k and n+1-k, with k from the normal
 * approximation of the binomial (n/2 - 1.96 * sqrt(n) / 2).
 */
function medianInterval(values: number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const k = Math.max(1, Math.floor(n / 2 - (1.96 * Math.sqrt(n)) / 2));
  return [sorted[k - 1] as number, sorted[n - k] as number];
}

describe('sign-in timing', () => {
  let t: TestApp;
  let tenant: Tenant;
  let attempt = 0;

  beforeAll(async () => {
    t = await buildTestApp('sqlite', REAL_ARGON2);
    tenant = await seedTenant(t.deps);
    const cli = { userId: null, label: 'test', ip: null };
    for (let i = 0; i < KNOWN_USERS; i++) {
      const made = await createUser(t.deps, tenant.accountId, { username: `known${i}`, role: 'agent', password: PASSWORD }, cli, 'user');
      if (!made.ok) throw new Error(made.errors.join('; '));
    }
  }, 120_000);
  afterAll(() => t.close());

  /** One failed sign-in through the API, from an address of its own so no address lock builds up; answers its duration in ms. */
  async function failedSignIn(username: string): Promise<number> {
    attempt++;
    const remoteAddress = `10.9.${attempt >> 8}.${attempt & 255}`;
    const started = performance.now();
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/login',
      remoteAddress,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ accountId: tenant.accountId, username, password: 'not the password at all' }),
    });
    const elapsed = performance.now() - started;
    expect(res.statusCode, res.body).toBe(401);
    return elapsed;
  }

  it('an unknown username fails in about the time a wrong password does', async () => {
    expect(t.settings.password.argon2MemoryKiB).toBe(19_456);
    // Warm-up, not measured: the dummy hash is made on first use, and the first
    // requests pay for compiling routes and warming the SQLite page cache.
    for (let i = 0; i < 2; i++) {
      await failedSignIn(`warmup-unknown-${i}`);
      await failedSignIn('alice');
    }

    const ratios: number[] = [];
    const unknown: number[] = [];
    const wrong: number[] = [];
    const started = performance.now();
    for (let i = 0; i < MAX_PAIRS; i++) {
      // Back to back, alternating which goes first, so a slow spell of the
      // machine falls on both halves of a pair alike.
      const pair = { unknown: 0, wrong: 0 };
      const kinds = i % 2 === 0 ? (['unknown', 'wrong'] as const) : (['wrong', 'unknown'] as const);
      for (const kind of kinds) {
        pair[kind] = kind === 'unknown' ? await failedSignIn(`nobody-${i}`) : await failedSignIn(`known${i % KNOWN_USERS}`);
      }
      unknown.push(pair.unknown);
      wrong.push(pair.wrong);
      ratios.push(pair.unknown / pair.wrong);
      if (ratios.length < MIN_PAIRS || ratios.length % ROUND !== 0) continue;
      const [lo, hi] = medianInterval(ratios);
      const decided = (lo >= LOW && hi <= HIGH) || hi < LOW || lo > HIGH;
      if (decided || performance.now() - started > BUDGET_MS) break;
    }

    // A real leak (no dummy hash) makes an unknown user fail in well under a
    // tenth of the time, in every pair: far outside these bounds however
    // loaded the machine is.
    const ratio = median(ratios);
    const [lo, hi] = medianInterval(ratios);
    const summary = `median of ${ratios.length} per-pair ratios ${ratio.toFixed(2)} (95% interval ${lo.toFixed(2)} to ${hi.toFixed(2)}; unknown ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms)`;
    console.info(`sign-in timing: ${summary}`);
    expect(ratio, summary).toBeGreaterThanOrEqual(LOW);
    expect(ratio, summary).toBeLessThanOrEqual(HIGH);
  }, 150_000);
});
