import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../e2e/support.ts';
import { POSTGRES_URL, storeKinds } from '../helpers/stores.ts';

// `portcullis serve --workers 2` (issue 17) through its one real socket, on
// both stores. The cluster hands each new connection to one worker and the
// connection stays there, so a kept-alive connection is pinned to a worker:
// its first request asks /healthz which worker answers, and every later
// request on it goes to the same one. That is how these tests say "through
// worker 1" and "through worker 2" without a test-only door in the service.

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/portcullis.js');
const PASSWORD = 'correct horse battery staple';
const LOCK_AFTER = 4;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

interface WorkerStatus {
  id: number;
  state: string;
  restarts: number;
}

/** One kept-alive connection; every request on it is checked to use the same socket. */
class Connection {
  private agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private socket: Socket | undefined;
  worker = 0;
  constructor(readonly port: number) {}

  async call(method: string, path: string, cookie: string, body?: unknown): Promise<Answer & { setCookie: string | undefined }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((done, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: { ...(text === undefined ? {} : { 'content-type': 'application/json' }), ...(cookie ? { cookie } : {}) },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (data += chunk));
          res.on('end', () => {
            const set = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('portcullis='));
            done({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as Record<string, unknown>) : {}, setCookie: set?.split(';')[0] });
          });
        },
      );
      req.on('socket', (socket) => {
        this.socket ??= socket;
        if (socket !== this.socket) fail(new Error('the kept-alive connection was replaced: the request may have gone to another worker'));
      });
      req.on('error', fail);
      req.end(text);
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** A user's cookie, used on whichever connection (worker) a test picks. */
class Browser {
  cookie = '';
  async call(on: Connection, method: string, path: string, body?: unknown): Promise<Answer> {
    const answer = await on.call(method, path, this.cookie, body);
    if (answer.setCookie) this.cookie = answer.setCookie;
    return { status: answer.status, body: answer.body };
  }
}

const code = (secret: string, steps = 0) =>
  execFileSync('oathtool', ['--totp', '--base32', `--now=@${Math.floor(Date.now() / 1000) + steps * 30}`, secret], { encoding: 'utf8' }).trim();
const secretOf = (uri: unknown) => new URL(String(uri)).searchParams.get('secret') as string;
const wrongCode = (secret: string) => String((Number(code(secret, 1)) + 500_000) % 1_000_000).padStart(6, '0');

/** The worker processes of the primary pid: its children running portcullis (tsx also starts an esbuild one). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie is dead, only not yet reaped.
      if (Number(ppid) === pid && state !== 'Z' && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(BIN)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(await storeKinds())('serve --workers 2 on %s', (kind) => {
  let service: ChildProcess;
  let port = 0;
  let log = '';
  let env: Record<string, string>;
  let accountId = '';
  let cleanup: () => Promise<void> = async () => undefined;
  const opened: Connection[] = [];
  const admin = new Browser();

  const cli = (args: string[], stdin?: string) =>
    execFileSync(process.execPath, [BIN, ...args], { env, input: stdin, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });

  /** /healthz on a fresh connection. */
  async function health(): Promise<Answer & { workers: WorkerStatus[] }> {
    const connection = new Connection(port);
    try {
      const answer = await connection.call('GET', '/healthz', '');
      return { ...answer, workers: (answer.body.workers ?? []) as WorkerStatus[] };
    } finally {
      connection.close();
    }
  }

  /** Polls until every worker listens (startup, or a replacement); answers the list. */
  async function everyWorkerListening(restarts = 0): Promise<WorkerStatus[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const { status, workers } = await health();
        const total = workers.reduce((sum, w) => sum + w.restarts, 0);
        if (status === 200 && workers.length === 2 && workers.every((w) => w.state === 'listening') && total >= restarts) return workers;
      } catch {
        // not listening yet
      }
      if (service.exitCode !== null || Date.now() > deadline) throw new Error(`the workers did not all listen:\n${log}`);
      await pause(100);
    }
  }

  /** A connection pinned to the given worker: new connections until the cluster hands one to it. */
  async function connectionTo(worker: number): Promise<Connection> {
    for (let i = 0; i < 20; i++) {
      const connection = new Connection(port);
      const answer = await connection.call('GET', '/healthz', '');
      if (answer.body.worker === worker) {
        connection.worker = worker;
        opened.push(connection);
        return connection;
      }
      connection.close();
    }
    throw new Error(`no connection reached worker ${worker}`);
  }

  /** Asks the connection's worker again: the request after it went to the same one. */
  async function stillOn(connection: Connection) {
    expect((await connection.call('GET', '/healthz', '')).body.worker).toBe(connection.worker);
  }

  async function enrol(browser: Browser, username: string, on: Connection, confirmOn: Connection): Promise<string> {
    const login = await browser.call(on, 'POST', '/api/v1/login', { accountId, username, password: PASSWORD });
    expect(login.body.state).toBe('mfa_enrollment_required');
    const secret = secretOf(login.body.otpauthUri);
    expect((await browser.call(confirmOn, 'POST', '/api/v1/login/mfa', { code: code(secret) })).status).toBe(200);
    return secret;
  }

  beforeAll(async () => {
    const base = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORTCULLIS_SECRET_KEY: `k1:${randomBytes(32).toString('base64')}`,
      PORTCULLIS_ARGON2_MEMORY_KIB: '1024',
      PORTCULLIS_ARGON2_ITERATIONS: '1',
      PORTCULLIS_LOG_LEVEL: 'warn',
      PORTCULLIS_LOCK_AFTER_FAILURES: String(LOCK_AFTER),
      PORTCULLIS_ADDRESS_LOCK_AFTER_FAILURES: '10000',
    };
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'portcullis-workers-'));
      env = { ...base, PORTCULLIS_DATABASE_URL: `sqlite:${join(dir, 'portcullis.db')}` };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const schema = `t_workers_${process.pid}_${randomBytes(3).toString('hex')}`;
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`create schema ${schema}`);
      await client.end();
      env = {
        ...base,
        PORTCULLIS_DATABASE_URL: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        PORTCULLIS_DATABASE_POOL_SIZE: '3',
      };
      cleanup = async () => {
        const admin = new pg.Client({ connectionString: POSTGRES_URL });
        await admin.connect();
        await admin.query(`drop schema if exists ${schema} cascade`);
        await admin.end();
      };
    }
    port = await freePort();
    service = spawn(process.execPath, [BIN, 'serve', '--workers', '2'], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    service.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    service.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await everyWorkerListening();
    accountId = (JSON.parse(cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    // Attempts in flight count against their user's limit: the drain's concurrent sign-ins are one user each.
    const csv = join(mkdtempSync(join(tmpdir(), 'portcullis-workers-csv-')), 'users.csv');
    const names = ['bob', 'carol', ...Array.from({ length: 12 }, (_, i) => `agent${i}`)];
    writeFileSync(csv, `username,role,password\n${names.map((n) => `${n},agent,${PASSWORD}`).join('\n')}\n`);
    cli(['user', 'import', '--account', accountId, csv]);
    rmSync(dirname(csv), { recursive: true, force: true });
  }, 120_000);

  afterAll(async () => {
    for (const connection of opened) connection.close();
    if (service.exitCode === null && service.signalCode === null) {
      const exited = new Promise((r) => service.once('exit', r));
      service.kill('SIGTERM');
      await exited;
    }
    await cleanup();
  }, 60_000);

  it('one socket, two workers: /healthz names the worker that answered and lists both', async () => {
    const workers = await everyWorkerListening();
    expect(workers.map((w) => w.id)).toEqual([1, 2]);
    const one = await connectionTo(1);
    const two = await connectionTo(2);
    await stillOn(one);
    await stillOn(two);
  });

  it('a session made through one worker is valid on the other', async () => {
    const one = await connectionTo(1);
    const two = await connectionTo(2);
    expect((await admin.call(one, 'POST', '/api/v1/login', { accountId, username: 'alice', password: PASSWORD })).body).toEqual({ state: 'authenticated' });
    expect((await admin.call(two, 'GET', '/api/v1/session')).body).toMatchObject({ state: 'authenticated', username: 'alice' });
    await stillOn(one);
    await stillOn(two);
    // And MFA switched on through worker 2 applies on worker 1.
    expect((await admin.call(two, 'PUT', '/api/v1/account/settings', { mfaEnabled: true })).body).toMatchObject({ mfaEnabled: true });
    await enrol(admin, 'alice', one, two);
  });

  it('a code used through one worker is refused on the other', async () => {
    const one = await connectionTo(1);
    const two = await connectionTo(2);
    const secret = await enrol(new Browser(), 'bob', two, one);
    const first = new Browser();
    const second = new Browser();
    expect((await first.call(one, 'POST', '/api/v1/login', { accountId, username: 'bob', password: PASSWORD })).body.state).toBe('mfa_required');
    expect((await second.call(two, 'POST', '/api/v1/login', { accountId, username: 'bob', password: PASSWORD })).body.state).toBe('mfa_required');
    const next = code(secret, 1);
    expect((await first.call(one, 'POST', '/api/v1/login/mfa', { code: next })).status).toBe(200);
    const replay = await second.call(two, 'POST', '/api/v1/login/mfa', { code: next });
    expect({ status: replay.status, error: replay.body.error }).toEqual({ status: 401, error: 'invalid_code' });
    await stillOn(one);
    await stillOn(two);
  });

  it('a lock set by failures spread over both workers holds on either', async () => {
    const one = await connectionTo(1);
    const two = await connectionTo(2);
    const secret = await enrol(new Browser(), 'carol', one, two);
    const wrong = wrongCode(secret);
    // The failure that sets the lock is answered 429 itself. Half of the failures
    // go through each worker: neither alone sees enough to lock.
    const failures: number[] = [];
    for (const on of [one, two]) {
      const attacker = new Browser();
      expect((await attacker.call(on, 'POST', '/api/v1/login', { accountId, username: 'carol', password: PASSWORD })).body.state).toBe('mfa_required');
      for (let i = 0; i < LOCK_AFTER / 2; i++) failures.push((await attacker.call(on, 'POST', '/api/v1/login/mfa', { code: wrong })).status);
    }
    expect(failures).toEqual([...Array<number>(LOCK_AFTER - 1).fill(401), 429]);
    for (const on of [one, two]) {
      const owner = new Browser();
      await owner.call(on, 'POST', '/api/v1/login', { accountId, username: 'carol', password: PASSWORD });
      const refused = await owner.call(on, 'POST', '/api/v1/login/mfa', { code: code(secret, 1) });
      expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 429, error: 'too_many_attempts' });
    }
    await stillOn(one);
    await stillOn(two);
  });

  it('a killed worker is logged and replaced, and the service keeps answering', async () => {
    const before = childrenOf(service.pid as number);
    expect(before).toHaveLength(2);
    const victim = before[0] as number;
    process.kill(victim, 'SIGKILL');
    // The kill is seen once the primary has reaped the process (a zombie is
    // dead but not yet seen: a connection handed to it then is never answered,
    // a limit of node:cluster that docs/architecture.md describes).
    const deadline = Date.now() + 10_000;
    while (existsSync(`/proc/${victim}`)) {
      if (Date.now() > deadline) throw new Error('the killed worker was not reaped');
      await pause(20);
    }
    // The other worker answers alone meanwhile: every new connection goes to it.
    for (let i = 0; i < 6; i++) expect((await health()).status).toBe(200);
    const workers = await everyWorkerListening(1);
    expect(workers.map((w) => w.restarts).sort()).toEqual([0, 1]);
    const after = childrenOf(service.pid as number);
    expect(after).toHaveLength(2);
    expect(after).not.toContain(victim);
    const died = log.split('\n').filter((line) => line.includes('worker died')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(died).toEqual([expect.objectContaining({ workerPid: victim, signal: 'SIGKILL', worker: workers.find((w) => w.restarts === 1)?.id })]);
    // A session made before the kill is valid on the replacement.
    const replaced = await connectionTo(workers.find((w) => w.restarts === 1)?.id as number);
    expect((await admin.call(replaced, 'GET', '/api/v1/session')).body).toMatchObject({ state: 'authenticated', username: 'alice' });
  }, 90_000);

  it('SIGTERM drains every worker: requests it found in flight are answered, then the service exits 0', async () => {
    // Requests held open by their client, half of the body sent: begun on a worker
    // (counted in flight) and unfinished until the body completes, after SIGTERM.
    const held = 6;
    const requests: ClientRequest[] = [];
    const bodies = Array.from({ length: held }, (_, i) => JSON.stringify({ accountId, username: `agent${i}`, password: PASSWORD }));
    const half = (body: string) => Math.floor(body.length / 2);
    const answers = bodies.map((body) =>
      new Promise<Answer>((done, fail) => {
        const req = request(
          { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/login', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
          (res: IncomingMessage) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (data += chunk));
            res.on('end', () => done({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as Record<string, unknown>) : {} }));
          },
        );
        req.on('error', fail);
        req.write(body.slice(0, half(body)));
        requests.push(req);
      }),
    );
    // Until the service counts them all (plus the /metrics request that asks).
    for (;;) {
      const raw = await new Promise<string>((done, fail) => {
        const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (data += chunk));
          res.on('end', () => done(data));
        });
        req.on('error', fail);
        req.end();
      });
      const inFlight = Number(/^portcullis_http_requests_in_flight (\d+)/m.exec(raw)?.[1] ?? 0);
      if (inFlight >= held + 1) break;
      await pause(50);
    }
    // Load besides them: full password checks running while the signal comes.
    const load = Array.from({ length: 6 }, async (_, i) => {
      const browser = new Browser();
      const connection = new Connection(port);
      try {
        return (await browser.call(connection, 'POST', '/api/v1/login', { accountId, username: `agent${held + i}`, password: PASSWORD })).status;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? 'error';
      } finally {
        connection.close();
      }
    });
    const exited = new Promise<number | null>((r) => service.once('exit', (code) => r(code)));
    service.kill('SIGTERM');
    // Every worker has stopped taking connections once the socket refuses them.
    for (;;) {
      const refused = await new Promise<boolean>((done) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          done(false);
        });
        socket.once('error', () => done(true));
      });
      if (refused) break;
      await pause(20);
    }
    requests.forEach((req, i) => req.end(bodies[i]?.slice(half(bodies[i]))));
    const settled = await Promise.all(answers);
    // These agents have no authenticator yet in an account that now asks for one.
    expect(settled.map((a) => ({ status: a.status, state: a.body.state }))).toEqual(Array.from({ length: held }, () => ({ status: 200, state: 'mfa_enrollment_required' })));
    // The load's requests were answered in full, or refused as the service closed:
    // 503 (a worker closing), no connection, or one the primary had accepted but no
    // worker had taken yet. Never a 500, never a half answer.
    for (const outcome of await Promise.all(load)) expect([200, 503, 'ECONNREFUSED', 'ECONNRESET']).toContain(outcome);
    expect(await exited).toBe(0);
    expect(childrenOf(service.pid as number)).toEqual([]);
  }, 90_000);
});

describe('serve --workers: bad values are refused before anything starts', () => {
  const run = (args: string[], extra: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, [BIN, 'serve', ...args], {
        env: { PATH: process.env.PATH ?? '', PORT: '0', PORTCULLIS_SECRET_KEY: `k1:${randomBytes(32).toString('base64')}`, PORTCULLIS_LOG_LEVEL: 'silent', ...extra },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('exit', (code) => done({ code, stderr }));
    });

  it.each([
    [['--workers', '0'], 1, /--workers must be between 1 and 256/],
    [['--workers', 'many'], 1, /--workers must be a whole number/],
    [['--workers'], 2, /--workers/],
    [['--wrokers', '2'], 2, /--wrokers/],
  ] as const)('serve %j exits %i', async (args, code, message) => {
    const result = await run([...args]);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });

  it('several workers on an in-memory SQLite database (one per process) are refused', async () => {
    const result = await run(['--workers', '2'], { PORTCULLIS_DATABASE_URL: 'sqlite::memory:' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/needs a database file or PostgreSQL/);
  });
});
