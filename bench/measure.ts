// What the sign-in benchmark measures beside its own timings: CPU time of the
// server, its threads and PostgreSQL, the server's event-loop delay, and the two
// yardsticks its results are set against (an argon2id hash, a bare Fastify route).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { createHashPool } from '../src/services/hash-pool.ts';
import { freePort, request } from './support.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Latencies of one kind of request, in milliseconds. */
export interface Sample {
  ms: number[];
}

export const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** CPU seconds a process (or, with a thread id, one of its threads) has used (Linux /proc; clock ticks are 100 a second there). */
export function cpuSeconds(pid: number, thread?: number): number {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by each PostgreSQL process of this machine. */
export function postgresCpu(): Map<number, number> {
  const used = new Map<number, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') used.set(Number(pid), cpuSeconds(Number(pid)));
    } catch {
      // gone
    }
  }
  return used;
}

/** CPU seconds PostgreSQL used between two readings (a process gone by the second is not counted). */
export function postgresCpuSince(start: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of postgresCpu()) total += seconds - (start.get(pid) ?? 0);
  return total;
}

export async function eventLoopP99(base: string): Promise<number> {
  const { text } = await request(`${base}/metrics`, 'GET', {});
  const m = /^portcullis_process_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : NaN;
}

/** The framework's ceiling: a bare Fastify route in its own process, measured the same way. */
export async function bareFastify(vus: number): Promise<number> {
  const port = await freePort();
  const code = `import Fastify from 'fastify'; const app = Fastify(); app.post('/x', async () => ({ state: 'authenticated' })); await app.listen({ port: ${port}, host: '127.0.0.1' });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 100; i++) {
      try {
        await request(`${base}/x`, 'POST', { 'content-type': 'application/json' }, '{}');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let n = 0;
    const end = performance.now() + 5000;
    const start = performance.now();
    await Promise.all(Array.from({ length: vus }, async () => {
      while (performance.now() < end) {
        // The same client work as a code step: a JSON body, a cookie, the answer parsed.
        const res = await request(`${base}/x`, 'POST', { 'content-type': 'application/json', cookie: 'portcullis=x' }, JSON.stringify({ code: '123456' }));
        JSON.parse(res.text);
        n++;
      }
    }));
    return round(n / ((performance.now() - start) / 1000));
  } finally {
    child.kill();
  }
}

/**
 * The time of one argon2id hash, measured two ways: alone on an idle machine, and
 * with every core hashing at once for a few seconds (each thread's median). The
 * second is the one sign-ins meet at full load, and what the limit is built on:
 * on these machines one hash alone runs up to 40% faster than when both cores hash
 * (shared caches and memory bandwidth, clock boost), so a limit built on it would
 * promise more hashes a second than the cores can do together.
 */
export async function hashTimes(password: string): Promise<{ aloneMs: number; allCoresMs: number }> {
  const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
  const alone: number[] = [];
  const single = createHashPool(1);
  const all = createHashPool(availableParallelism());
  try {
    for (let i = 0; i < 11; i++) {
      const t = performance.now();
      await single.hash(password, options);
      alone.push(performance.now() - t);
    }
    const together: number[] = [];
    const end = performance.now() + 4000;
    await Promise.all(Array.from({ length: availableParallelism() }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await all.hash(password, options);
        together.push(performance.now() - t);
      }
    }));
    return { aloneMs: round(pct(alone, 50), 2), allCoresMs: round(pct(together, 50), 2) };
  } finally {
    await single.close();
    await all.close();
  }
}
