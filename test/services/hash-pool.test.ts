import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { passwordDefaults } from '../../src/config/defaults.ts';
import { TemporarilyUnavailable } from '../../src/domain/errors.ts';
import { createHashPool, HASH_THREAD_NICE } from '../../src/services/hash-pool.ts';
import { createPasswordHasher } from '../../src/services/passwords.ts';

// Passwords hash on threads of their own, below the event loop's priority, so a
// cheap request is answered while sign-ins keep every core busy.

const OWASP = { algorithm: 2, memoryCost: passwordDefaults.argon2MemoryKiB, timeCost: passwordDefaults.argon2Iterations, parallelism: 1 };

/** Each thread of this process: its nice value and CPU time in clock ticks (fields 19, 14 and 15 of /proc/self/task/N/stat). */
function threads(): Array<{ tid: string; nice: number; ticks: number }> {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { tid, nice: Number(fields[16]), ticks: Number(fields[11]) + Number(fields[12]) };
  });
}

/** The nice value of each thread of this process. */
function threadNices(): number[] {
  return threads().map((thread) => thread.nice);
}

/** CPU time (clock ticks) of each hashing thread, told apart by the lower priority it runs at. */
function hashingThreadTicks(): Map<string, number> {
  const nice = getPriority() + HASH_THREAD_NICE;
  return new Map(threads().filter((thread) => thread.nice === nice).map((thread) => [thread.tid, thread.ticks]));
}

/**
 * Waits until a hashing thread has spent `ticks` of CPU time since `before`: an
 * idle thread spends none, so the job sent since is running on it. The pauses
 * only pace the reads of /proc; the deadline only bounds a broken run.
 */
async function untilComputing(before: Map<string, number>, ticks = 2): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const [tid, now] of hashingThreadTicks()) if (now >= (before.get(tid) ?? 0) + ticks) return;
    if (Date.now() > deadline) throw new Error('no hashing thread started on the job');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('the hashing pool', () => {
  const pool = createHashPool(2);
  afterAll(() => pool.close());

  it('hashes and verifies argon2id like the binding, a wrong password and a malformed hash included', async () => {
    const hash = await pool.hash('pool password 1234', OWASP);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await pool.verify(hash, 'pool password 1234')).toBe(true);
    expect(await pool.verify(hash, 'pool password 1235')).toBe(false);
    await expect(pool.verify('$argon2id$not-a-hash', 'x')).rejects.toThrow();
    // The thread that refused the malformed hash still works.
    expect(await pool.verify(hash, 'pool password 1234')).toBe(true);
  });

  it('keeps the event loop free while eight hashes run (utilization under half)', async () => {
    const before = performance.eventLoopUtilization();
    const hashes = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.hash(`password number ${i}`, OWASP)));
    const used = performance.eventLoopUtilization(before);
    expect(new Set(hashes).size).toBe(8);
    // On the event loop, eight hashes would keep it busy nearly all the time.
    expect(used.utilization).toBeLessThan(0.5);
  });

  it.runIf(process.platform === 'linux')('runs its threads at a lower priority, and leaves the rest of the process at its own', async () => {
    const processNice = getPriority();
    await Promise.all([pool.hash('a password to start', OWASP), pool.hash('another password', OWASP)]);
    const nices = threadNices();
    expect(nices.filter((n) => n === processNice + HASH_THREAD_NICE).length).toBeGreaterThanOrEqual(2);
    expect(getPriority()).toBe(processNice);
    expect(nices.filter((n) => n === processNice).length).toBeGreaterThanOrEqual(1);
  });

  it('refuses work once closed', async () => {
    const closing = createHashPool(1);
    expect(await closing.hash('before closing 12', { ...OWASP, memoryCost: 1024, timeCost: 1 })).toMatch(/^\$argon2id\$/);
    await closing.close();
    await expect(closing.hash('after closing 123', OWASP)).rejects.toThrow(/closed/);
  });
});

describe('the password hasher on the pool', () => {
  it('answers false for a malformed stored hash rather than failing the sign-in', async () => {
    const hasher = createPasswordHasher({ argon2MemoryKiB: 1024, argon2Iterations: 1, argon2Parallelism: 1, hashThreads: 1 });
    try {
      expect(await hasher.verify('$argon2id$v=19$m=1024,t=1,p=1$garbage', 'whatever password')).toBe(false);
      expect(await hasher.verify('', 'whatever password')).toBe(false);
    } finally {
      await hasher.close();
    }
  });
});

describe('a hashing thread lost under a job', () => {
  // Linux: the job is seen running through /proc, as the machines and CI are.
  it.runIf(process.platform === 'linux')('fails the job as unavailable (not as a wrong password), for verify and for the dummy alike', async () => {
    const slow = { ...OWASP, memoryCost: 65536, timeCost: 8 };
    const pool = createHashPool(1);
    const hash = await pool.hash('slow password 1234', slow);
    const idle = hashingThreadTicks();
    const inFlight = pool.verify(hash, 'slow password 1234');
    let settled = false;
    void inFlight.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The thread is computing this verification (hundreds of milliseconds at 64 MiB, t=8), not idle or done.
    await untilComputing(idle);
    expect(settled).toBe(false);
    await pool.close(); // ends the thread under the job
    await expect(inFlight).rejects.toBeInstanceOf(TemporarilyUnavailable);

    const hasher = createPasswordHasher({ argon2MemoryKiB: 1024, argon2Iterations: 1, argon2Parallelism: 1, hashThreads: 1 });
    const stored = await hasher.hash('a stored password');
    await hasher.close();
    await expect(hasher.verify(stored, 'a stored password')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    await expect(hasher.verifyDummy('some password')).rejects.toBeInstanceOf(TemporarilyUnavailable);
  });
});
