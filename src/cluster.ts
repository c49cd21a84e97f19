import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Registry as WorkerRegistry } from 'prom-client';
import { ConfigError } from './config/settings.ts';
import { openRuntime } from './runtime.ts';
import type { ClusterView, WorkerStatus } from './services/cluster-view.ts';
import { sqlitePath, startCheckpointer } from './storage/database.ts';
import type { Checkpointer } from './storage/checkpointer.ts';

// `portcullis serve --workers N` (issue 17): N processes behind one listening
// socket (node:cluster, the primary hands each new connection to the next worker),
// each with its own event loop, database connections and hashing threads. The
// primary serves no request. It migrates the database and loads (or makes) the
// secret key before any worker starts, runs the one SQLite checkpointer, replaces a
// worker that dies, drains them all on SIGTERM, and answers the workers' questions
// about the whole service (/healthz lists the workers; /metrics sums their metrics).
// docs/architecture.md, "Several workers", has the whole design.

/** The environment variable a forked worker learns its slot from. */
const WORKER_ID = 'PORTCULLIS_WORKER_ID';
/** How long a worker waits for the primary to answer a question about the service. */
const ASK_TIMEOUT_MS = 2000;
/** A replacement that lived less than this is started again only after this long (no busy crash loop). */
const RESTART_BACKOFF_MS = 1000;

type Question = { type: 'portcullis:workers' | 'portcullis:metrics'; requestId: number };
type Answer = { type: 'portcullis:answer'; requestId: number; workers?: WorkerStatus[]; metrics?: string; error?: string };
const SHUTDOWN = 'portcullis:shutdown';

const isQuestion = (message: unknown): message is Question =>
  typeof message === 'object' && message !== null && ['portcullis:workers', 'portcullis:metrics'].includes((message as Question).type);

/** This process's worker id when it is a worker of `serve --workers N`; undefined otherwise. */
export function workerId(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const id = Number(process.env[WORKER_ID]);
  return Number.isInteger(id) && id > 0 ? id : cluster.worker?.id;
}

/**
 * A worker's view of the service, through the primary. Also makes this
 * worker's registry the one prom-client's cluster support sends the primary.
 */
export function clusterView(worker: number, registry: WorkerRegistry): ClusterView {
  new AggregatorRegistry(); // installs prom-client's worker-side listener (once per process)
  AggregatorRegistry.setRegistries([registry]);
  const waiting = new Map<number, (answer: Answer) => void>();
  let next = 1;
  process.on('message', (message: Answer) => {
    if (message?.type === 'portcullis:answer') waiting.get(message.requestId)?.(message);
  });
  const ask = (type: Question['type']) =>
    new Promise<Answer>((resolvePromise, reject) => {
      const requestId = next++;
      const timer = setTimeout(() => {
        waiting.delete(requestId);
        reject(new Error('the primary process did not answer'));
      }, ASK_TIMEOUT_MS);
      waiting.set(requestId, (answer) => {
        clearTimeout(timer);
        waiting.delete(requestId);
        if (answer.error) reject(new Error(answer.error));
        else resolvePromise(answer);
      });
      const question: Question = { type, requestId };
      process.send?.(question, undefined, {}, (error: Error | null) => {
        if (!error) return;
        clearTimeout(timer);
        waiting.delete(requestId);
        reject(error);
      });
    });
  return {
    worker,
    workers: async () => (await ask('portcullis:workers')).workers ?? [],
    metrics: async () => (await ask('portcullis:metrics')).metrics ?? '',
  };
}

/** Calls drain once when the primary asks this worker to stop (the service is shutting down). */
export function onShutdownRequest(drain: () => void): void {
  process.on('message', (message: unknown) => {
    if (message === SHUTDOWN) drain();
  });
}

interface Slot {
  id: number;
  worker: Worker | undefined;
  state: WorkerStatus['state'];
  restarts: number;
  startedAt: number;
}

/**
 * Runs the primary of `serve --workers N`: migrates, forks N workers, and
 * answers once every worker listens. Rejects (after stopping the others) if a
 * worker fails before the service ever listened: a worker's bad start (a port
 * in use, a database it cannot open) would fail again on every restart.
 */
export async function servePrimary(env: Record<string, string | undefined>, workers: number): Promise<void> {
  // Migrations and the key file happen here, once, before any worker starts; a
  // worker then finds the schema up to date and the key file there.
  const runtime = await openRuntime(env, { keys: true, logTo: 'stdout', checkpoint: 'external' });
  const { settings, database } = runtime;
  const log: Logger = runtime.deps.logger;
  await runtime.close();
  const sqliteFile = database.dialect === 'sqlite' ? sqlitePath(settings.databaseUrl) : undefined;
  if (sqliteFile === ':memory:') {
    throw new ConfigError('PORTCULLIS_WORKERS above 1 needs a database file or PostgreSQL: sqlite::memory: would be a separate database in every worker');
  }
  // The machine's hashing threads, shared out: N workers with one per core each
  // would oversubscribe the cores N times over.
  const hashThreads = Math.max(1, Math.floor(settings.password.hashThreads / workers));

  const metricsOfPrimary = new Registry();
  const up = new Gauge({ name: 'portcullis_workers', help: 'Worker processes by state', labelNames: ['state'], registers: [metricsOfPrimary] });
  const replaced = new Counter({ name: 'portcullis_worker_restarts_total', help: 'Workers that died and were replaced', registers: [metricsOfPrimary] });
  const aggregator = new AggregatorRegistry();

  // SQLite: one checkpointer for the file, here. Each worker's connection only
  // appends to the WAL (checkpoint: 'external'). A checkpointer per worker would
  // have N threads racing for the one checkpoint lock; the losers' failures would
  // hand checkpoints back to their event loops (checkpointer.ts), which is what
  // the thread exists to avoid.
  let checkpointer: Checkpointer | undefined;
  let stopping = false;
  const checkpoint = (path: string) => {
    checkpointer = startCheckpointer(path, () => {
      if (stopping) return;
      log.warn('the SQLite checkpointer thread was lost; starting another');
      setTimeout(() => checkpoint(path), RESTART_BACKOFF_MS).unref();
    });
  };
  if (sqliteFile) checkpoint(resolve(sqliteFile));

  const slots: Slot[] = Array.from({ length: workers }, (_, i) => ({ id: i + 1, worker: undefined, state: 'starting', restarts: 0, startedAt: 0 }));
  const count = () => {
    up.set({ state: 'listening' }, slots.filter((s) => s.worker && s.state === 'listening').length);
    up.set({ state: 'starting' }, slots.filter((s) => s.worker && s.state === 'starting').length);
  };
  let started = false;
  let failed = false;
  let allListening: (() => void) | undefined;
  let startFailed: ((error: Error) => void) | undefined;

  const fork = (slot: Slot) => {
    const worker = cluster.fork({ ...env, [WORKER_ID]: String(slot.id), PORTCULLIS_HASH_THREADS: String(hashThreads) });
    Object.assign(slot, { worker, state: 'starting', startedAt: Date.now() });
    count();
    worker.on('listening', () => {
      slot.state = 'listening';
      count();
      log.info({ worker: slot.id, workerPid: worker.process.pid }, 'worker listening');
      if (!started && slots.every((s) => s.state === 'listening')) {
        started = true;
        allListening?.();
      }
    });
    worker.on('message', (message: unknown) => {
      if (!isQuestion(message)) return;
      const reply = (answer: Omit<Answer, 'type' | 'requestId'>) => {
        if (worker.isConnected()) worker.send({ type: 'portcullis:answer', requestId: message.requestId, ...answer } satisfies Answer);
      };
      if (message.type === 'portcullis:workers') {
        reply({ workers: slots.map(({ id, state, restarts, startedAt }) => ({ id, state, restarts, startedAt })) });
        return;
      }
      Promise.all([aggregator.clusterMetrics(), metricsOfPrimary.metrics()]).then(
        ([all, own]) => reply({ metrics: `${all}\n${own}` }),
        (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
      );
    });
  };

  const finish = async () => {
    await checkpointer?.stop();
    log.info('every worker has stopped');
    process.exit(failed ? 1 : 0);
  };

  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down: every worker finishes the requests it has, then stops');
    // A listening worker drains; one still starting has no request yet (and may not
    // listen for the message yet): SIGTERM ends it.
    for (const slot of slots) {
      if (slot.state === 'listening' && slot.worker?.isConnected()) slot.worker.send(SHUTDOWN);
      else slot.worker?.process.kill('SIGTERM');
    }
    // A request may take at most the request timeout; a worker still busy after it is stuck.
    setTimeout(() => {
      for (const slot of slots) {
        if (!slot.worker) continue;
        log.error({ worker: slot.id }, 'worker still running after the request timeout; killing it');
        slot.worker.process.kill('SIGKILL');
      }
    }, settings.http.requestTimeoutMs + 5000).unref();
    if (slots.every((s) => !s.worker)) void finish();
  };

  cluster.on('exit', (worker, code, signal) => {
    // A worker that died (SIGKILL, a crash) is still "connected" until its IPC
    // channel's end is read, and until then node:cluster keeps handing it new
    // connections, which nobody ever answers. Closing the channel now makes
    // the cluster drop the worker from the listening socket at once.
    if (worker.isConnected()) worker.process.disconnect();
    const slot = slots.find((s) => s.worker === worker);
    if (!slot) return;
    const lived = Date.now() - slot.startedAt;
    slot.worker = undefined;
    slot.state = 'starting';
    count();
    if (stopping) {
      log.info({ worker: slot.id, code, signal }, 'worker stopped');
      if (slots.every((s) => !s.worker)) void finish();
      return;
    }
    if (!started) {
      log.error({ worker: slot.id, code, signal }, 'a worker failed to start; stopping the service');
      failed = true;
      shutdown('a worker failed to start');
      startFailed?.(new Error(`worker ${slot.id} failed to start (exit code ${code ?? signal}); its log says why`));
      return;
    }
    slot.restarts++;
    replaced.inc();
    log.error({ worker: slot.id, workerPid: worker.process.pid, code, signal, livedMs: lived }, 'worker died; starting another');
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, lived < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0);
  });

  // A second signal during the drain (Ctrl-C twice) does not wait for it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!stopping) return shutdown(signal);
      log.warn({ signal }, 'a second signal: stopping every worker now, without waiting for its requests');
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      failed = true;
    });
  }

  const ready = new Promise<void>((resolvePromise, reject) => {
    allListening = resolvePromise;
    startFailed = reject;
  });
  log.info({ workers, hashThreadsPerWorker: hashThreads, databasePoolSizePerWorker: database.dialect === 'postgres' ? settings.databasePoolSize : undefined }, 'starting workers');
  for (const slot of slots) fork(slot);
  await ready;
  log.info({ workers, port: settings.port, host: settings.host }, 'every worker is listening');
}
