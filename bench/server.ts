// A real `portcullis serve` for one store's run: its own folder, a fresh database,
// a free port, the production hashing parameters; stopped and cleaned up after.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchDatabase, freePort, waitHealthy } from './support.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/portcullis.js');

export interface BenchServer {
  base: string;
  /** The server's process id, for its CPU time (with workers: the primary's). */
  pid: number;
  /** The processes that answer requests: the server itself, or its workers. */
  servingPids(): number[];
  /** The folder it runs in (its SQLite file is under it). */
  dir: string;
  /** Runs one SQL statement against its database. */
  sql(statement: string): Promise<void>;
  /** Runs a `portcullis` command against the same database; answers its output. */
  cli(args: string[], input?: string): string;
  stop(): Promise<void>;
}

/** The children of pid that run portcullis (tsx also starts an esbuild process). */
function workersOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(BIN)) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Starts `portcullis serve` for store; workers > 1 runs `serve --workers N`.
 * extraEnv adds to (or overrides) its environment: the loop-bound run's cheap hash.
 */
export async function startServer(store: string, workers = 1, extraEnv: Record<string, string> = {}): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const database = await benchDatabase(store, dir, 'bench');
  const url = database.url;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    // The OpenID Connect issuer the benchmark's relying party expects (bench/oidc.ts).
    PORTCULLIS_PUBLIC_URL: base,
    PORTCULLIS_DATABASE_URL: url,
    PORTCULLIS_SECRET_KEY: `k1:${randomBytes(32).toString('base64')}`,
    PORTCULLIS_LOG_LEVEL: 'warn',
    PORTCULLIS_DATABASE_POOL_SIZE: '10',
    ...extraEnv,
  };
  // BENCH_CPU_PROFILE=folder: the server writes a V8 CPU profile of its main thread there.
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROFILE)}`] : [];
  const server: ChildProcess = spawn(process.execPath, [...profile, BIN, 'serve', '--workers', String(workers)], { cwd: dir, env, stdio: 'ignore' });
  const stop = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
    await database.drop();
  };
  try {
    await waitHealthy(base);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    base,
    pid: server.pid as number,
    servingPids: () => (workers > 1 ? workersOf(server.pid as number) : [server.pid as number]),
    dir,
    sql: (statement) => database.exec(statement),
    cli: (args, input) => execFileSync(process.execPath, [BIN, ...args], { cwd: dir, env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }),
    stop,
  };
}
