import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// SQLite in WAL mode appends commits to the -wal file and, every 1,000 pages by
// default, copies them back into the database file: a checkpoint, which syncs the
// disk and takes ~10 ms per 1,000 pages on this project's machines. better-sqlite3
// is synchronous, so on the app's connection that checkpoint would stall the event
// loop. The app's connection turns automatic checkpoints off, and this thread
// checkpoints on a connection of its own instead. PASSIVE never waits for readers
// or writers, so it never holds up the app's queries.

/** How often the thread checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 500;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ failed: String(error && error.message || error) });
  }
};
setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'stop') {
    checkpoint();
    db.close();
    parentPort.postMessage({ stopped: true });
  }
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Starts checkpointing the SQLite file at path. Should the thread fail, onLost is
 * called once, so that the app's connection can take checkpoints back.
 */
export function startCheckpointer(path: string, onLost: () => void): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, intervalMs: CHECKPOINT_INTERVAL_MS } });
  // An open database keeps no process alive by itself.
  worker.unref();
  let stopping = false;
  let exited = false;
  let lost = false;
  const lose = () => {
    if (stopping || lost) return;
    lost = true;
    onLost();
  };
  worker.on('message', (message: { failed?: string }) => {
    if (message.failed) lose();
  });
  worker.on('error', lose);
  worker.on('exit', () => {
    exited = true;
    lose();
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopping = true;
      stopped ??= exited
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.on('message', (message: { stopped?: boolean }) => {
              if (message.stopped) void worker.terminate();
            });
            worker.postMessage('stop');
          });
      return stopped;
    },
  };
}
