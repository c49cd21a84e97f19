import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TemporarilyUnavailable } from '../domain/errors.ts';

// Password hashing on threads of our own, at a lower scheduling priority than the
// event loop. argon2id is meant to take a whole core for tens of milliseconds; when
// sign-ins saturate the CPU, the thread that answers every other request (pages,
// /healthz, code checks) must still get a core the moment it has work. On Linux the
// nice value is per thread, so each hashing thread lowers its own; the kernel then
// lets the event loop run first and gives the hashing threads everything else
// (docs/performance.md has the measurements). libuv's shared pool, which the
// binding's async API uses, cannot be reniced without renicing file and DNS work too.

/** The nice value of hashing threads (0 is normal; 19 the lowest priority). */
export const HASH_THREAD_NICE = 10;

export interface HashOptions {
  algorithm: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface HashPool {
  hash(password: string, options: HashOptions): Promise<string>;
  /**
   * Throws on a malformed hash, as the binding does. Either call throws
   * TemporarilyUnavailable when no thread could answer (one died under the job,
   * or the pool is closed): that says nothing about the password.
   */
  verify(passwordHash: string, password: string): Promise<boolean>;
  close(): Promise<void>;
}

type Job = { op: 'hash'; password: string; options: HashOptions } | { op: 'verify'; hash: string; password: string };
type Reply = { id: number; ok: true; value: string | boolean } | { id: number; ok: false; message: string };

// CommonJS, evaluated in the worker: no TypeScript loader is needed there.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.argon2);
if (workerData.nice > 0) {
  try { require('node:os').setPriority(workerData.nice); } catch {}
}
parentPort.on('message', ({ id, job }) => {
  try {
    const value = job.op === 'hash' ? argon2.hashSync(job.password, job.options) : argon2.verifySync(job.hash, job.password);
    parentPort.postMessage({ id, ok: true, value });
  } catch (error) {
    parentPort.postMessage({ id, ok: false, message: String(error && error.message || error) });
  }
});
`;

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve(value: string | boolean): void; reject(error: Error): void }>;
}

/**
 * A pool of `size` hashing threads (default: one per core), started on first use.
 * An idle pool keeps no process alive; a busy one does until its jobs are done.
 */
export function createHashPool(size = availableParallelism()): HashPool {
  const argon2 = createRequire(import.meta.url).resolve('@node-rs/argon2');
  // Only Linux lowers one thread's priority; elsewhere setpriority(0) would lower the whole process.
  const nice = process.platform === 'linux' ? HASH_THREAD_NICE : 0;
  const slots = new Array<Slot | undefined>(size).fill(undefined);
  let nextId = 1;
  let closed = false;

  const start = (index: number): Slot => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2, nice } });
    const slot: Slot = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiting = slot.pending.get(reply.id);
      if (!waiting) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(new Error(reply.message));
    });
    // A thread that dies (out of memory, say) fails its jobs; the next job starts a new one.
    const fail = (error: Error) => {
      if (slots[index] === slot) slots[index] = undefined;
      for (const waiting of slot.pending.values()) waiting.reject(error);
      slot.pending.clear();
    };
    worker.on('error', (error) => fail(new TemporarilyUnavailable(`hashing thread failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new TemporarilyUnavailable(`hashing thread exited with code ${code}`)));
    slots[index] = slot;
    return slot;
  };

  const run = (job: Job) =>
    new Promise<string | boolean>((resolve, reject) => {
      if (closed) return reject(new TemporarilyUnavailable('the hashing pool is closed'));
      // The least busy thread, starting one where a place is empty.
      let best = 0;
      for (let i = 0; i < size; i++) {
        const slot = slots[i];
        if (!slot) {
          best = i;
          break;
        }
        if (slot.pending.size < (slots[best]?.pending.size ?? 0)) best = i;
      }
      const slot = slots[best] ?? start(best);
      const id = nextId++;
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ id, job });
    });

  return {
    hash: async (password, options) => (await run({ op: 'hash', password, options })) as string,
    verify: async (hash, password) => (await run({ op: 'verify', hash, password })) as boolean,
    async close() {
      closed = true;
      await Promise.all(slots.map((slot) => slot?.worker.terminate()));
    },
  };
}
