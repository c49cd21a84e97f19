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

const ATTEMPTS = 40;
const KNOWN_USERS = 10; // 4 wrong passwords each: well under the per-username lock of 10
const REAL_ARGON2 = {
  PORTCULLIS_ARGON2_MEMORY_KIB: String(passwordDefaults.argon2MemoryKiB),
  PORTCULLIS_ARGON2_ITERATIONS: String(passwordDefaults.argon2Iterations),
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
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
      const made = await createUser(t.deps, tenant.accountId, { username: `known${i}`, role: 'agent', password: PASSWORD }, cli);
      if (!made.ok) throw new Error(made.errors.join('; '));
    }
  }, 60_000);
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

    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < ATTEMPTS; i++) {
      // Interleaved, and alternating which goes first, so a slow spell of the
      // machine falls on both kinds alike.
      const kinds = i % 2 === 0 ? (['unknown', 'wrong'] as const) : (['wrong', 'unknown'] as const);
      for (const kind of kinds) {
        if (kind === 'unknown') unknown.push(await failedSignIn(`nobody-${i}`));
        else wrong.push(await failedSignIn(`known${i % KNOWN_USERS}`));
      }
    }

    // The spec asks for "within 25%". The comparison is of medians, which
    // ignore the odd request delayed by another test file's argon2 on this
    // 2-core machine; the bounds are 0.75 and 1/0.75 = 1.33, so either kind
    // may be the slower one. A real leak (no dummy hash) makes an unknown
    // user fail in well under a tenth of the time: far outside these bounds.
    const ratio = median(unknown) / median(wrong);
    const summary = `median unknown ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`;
    console.info(`sign-in timing: ${summary}`);
    expect(ratio, summary).toBeGreaterThanOrEqual(0.75);
    expect(ratio, summary).toBeLessThanOrEqual(1 / 0.75);
  }, 60_000);
});
