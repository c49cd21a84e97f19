import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openRuntime } from '../../src/runtime.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { createUser } from '../../src/services/users.ts';
import { openDatabase } from '../../src/storage/database.ts';
import type { OpenDatabase } from '../../src/storage/database.ts';
import type { Database } from '../../src/storage/schema.ts';
import { freePort } from '../e2e/support.ts';
import { POSTGRES_URL, hasPostgres } from '../helpers/stores.ts';

// Crash safety under load. A real `portcullis serve` signs users in, enrols
// authenticators and resets MFA for several concurrent API clients, and is
// killed with SIGKILL at a random moment, again and again, on the same data.
// After every kill the data must be whole: no half-enrolled user, no code the
// clients saw accepted usable again, no acknowledged enrolment or reset
// missing from the audit log. Every code comes from oathtool, never from our
// own TOTP module.

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/portcullis.js');
const PASSWORD = 'correct horse battery staple';
const STEP_MS = 30_000;
const AGENTS = 6;
const run = promisify(execFile);

const nowStep = () => Math.floor(Date.now() / STEP_MS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The phone: oathtool's code for a base32 secret at a given step. */
async function phone(secret: string, step: number): Promise<string> {
  const { stdout } = await run('oathtool', ['--totp', '--base32', `--now=@${step * 30}`, secret]);
  return stdout.trim();
}

/** A tiny API client with its own cookie (as in test/scale). */
class Client {
  cookie = '';
  constructor(readonly base: string) {}
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.cookie ? { cookie: this.cookie } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('portcullis='));
    if (set) this.cookie = set.split(';')[0] as string;
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
}

/** What one client believes about its user; a request left unanswered by a kill counts as spent. */
interface Agent {
  id: string;
  username: string;
  secret: string | undefined;
  lastStep: number;
  recovery: string[];
}

/** A code the clients saw answered 200 before a kill. */
interface Accepted {
  agent: Agent;
  kind: 'totp' | 'recovery';
  code: string;
  secret: string;
  step: number | undefined;
}

/** An action the clients saw answered 200, with the interval its audit event must fall in. */
interface Acknowledged {
  userId: string;
  action: 'mfa.enroll' | 'mfa.reset';
  sentAt: number;
  answeredAt: number;
}

interface Target {
  kind: 'sqlite' | 'postgres';
  env: Record<string, string>;
  /** Opens the data the way the service does, to inspect it between runs. */
  open(): OpenDatabase;
  cleanup(): Promise<void>;
}

class Service {
  child: ChildProcess | undefined;
  base = '';
  stderr = '';
  constructor(private env: Record<string, string>) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    this.stderr = '';
    const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...this.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${this.base}/healthz`)).ok) return;
      } catch {
        // still starting
      }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`portcullis serve did not start: ${this.stderr}`);
      await sleep(50);
    }
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }
}

/** The invariants read straight from the database, between a kill and the restart. */
async function checkDatabase(target: Target, accountId: string, acknowledged: Acknowledged[]): Promise<void> {
  const database = target.open();
  try {
    const db: Kysely<Database> = database.db;
    if (target.kind === 'sqlite') {
      const integrity = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
      expect(integrity.rows.map((r) => r.integrity_check)).toEqual(['ok']);
    }
    const authenticators = await db.selectFrom('factors').select(['user_id', 'created_at']).where('account_id', '=', accountId).execute();
    const codes = await db
      .selectFrom('recovery_codes')
      .select(['user_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('account_id', '=', accountId)
      .groupBy('user_id')
      .execute();
    const events = await db
      .selectFrom('audit_events')
      .select(['action', 'target_user_id', 'at'])
      .where('account_id', '=', accountId)
      .where('action', 'in', ['mfa.enroll', 'mfa.reset'])
      .where('result', '=', 'success')
      .execute();
    const codeCount = new Map(codes.map((c) => [c.user_id, Number(c.n)]));

    // No half-enrolled user: an authenticator always comes with its ten recovery
    // codes and the audit event written in the same transaction.
    const halfEnrolled = authenticators
      .filter((a) => codeCount.get(a.user_id) !== 10 || !events.some((e) => e.action === 'mfa.enroll' && e.target_user_id === a.user_id && Number(e.at) >= Number(a.created_at)))
      .map((a) => ({ userId: a.user_id, recoveryCodes: codeCount.get(a.user_id) ?? 0 }));
    expect(halfEnrolled, 'authenticators without their recovery codes or mfa.enroll event').toEqual([]);
    const enrolled = new Set(authenticators.map((a) => a.user_id));
    expect(codes.filter((c) => !enrolled.has(c.user_id)).map((c) => c.user_id), 'recovery codes without an authenticator').toEqual([]);

    // Nothing the clients saw done is missing from the audit log.
    const missing = acknowledged.filter(
      (ack) => !events.some((e) => e.action === ack.action && e.target_user_id === ack.userId && Number(e.at) >= ack.sentAt - 1 && Number(e.at) <= ack.answeredAt + 1),
    );
    expect(missing, 'actions answered 200 without their audit event').toEqual([]);
  } finally {
    await database.close();
  }
}

interface Counters {
  kills: number;
  accepted: number;
  replayed: number;
  skippedOutOfWindow: number;
  skippedReEnrolled: number;
  enrolments: number;
  resets: number;
}

async function crashRun(target: Target, kills: number): Promise<Counters> {
  const counters: Counters = { kills: 0, accepted: 0, replayed: 0, skippedOutOfWindow: 0, skippedReEnrolled: 0, enrolments: 0, resets: 0 };
  const acknowledged: Acknowledged[] = [];

  // Seed through the services, in this process, before the first start.
  const silent = pino({ level: 'silent' });
  const seed = await openRuntime(target.env, { logger: silent });
  const cli = { userId: null, label: 'test', ip: null };
  const account = await createAccount(seed.deps, { name: 'Acme Support', adminUsername: 'alice', adminPassword: PASSWORD }, cli);
  if (!account.ok) throw new Error(account.errors.join('; '));
  const accountId = account.accountId;
  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const made = await createUser(seed.deps, accountId, { username: `agent${i}`, role: 'agent', password: PASSWORD }, cli, 'user');
    if (!made.ok) throw new Error(made.errors.join('; '));
    agents.push({ id: made.userId, username: `agent${i}`, secret: undefined, lastStep: -1, recovery: [] });
  }
  await seed.deps.store.accounts.setMfaEnabled(accountId, true);
  await seed.close();

  const service = new Service(target.env);
  try {
    await service.start();
    // The admin enrols once; the full session lives in the database and
    // survives every kill (its second factor stays fresher than the step-up age).
    const admin = new Client(service.base);
    const login = await admin.call('POST', '/api/v1/login', { accountId, username: 'alice', password: PASSWORD });
    expect(login.body.state).toBe('mfa_enrollment_required');
    const aliceSecret = new URL(String(login.body.otpauthUri)).searchParams.get('secret') as string;
    expect((await admin.call('POST', '/api/v1/login/mfa', { code: await phone(aliceSecret, nowStep()) })).status).toBe(200);

    let accepted: Accepted[] = [];
    for (let round = 0; round < kills; round++) {
      // dying: the kill is on its way, so failed requests are expected; stop: no more requests.
      let dying = false;
      let stop = false;
      const base = service.base;

      /** One agent's client: sign in, enrol or verify, look, sign out; again. */
      const agentLoop = async (agent: Agent) => {
        while (!stop) {
          try {
            const client = new Client(base);
            const login = await client.call('POST', '/api/v1/login', { accountId, username: agent.username, password: PASSWORD });
            if (login.status !== 200) continue;
            if (login.body.state === 'mfa_enrollment_required') {
              const secret = new URL(String(login.body.otpauthUri)).searchParams.get('secret') as string;
              const step = nowStep();
              Object.assign(agent, { secret, lastStep: step, recovery: [] });
              const code = await phone(secret, step);
              const sentAt = Date.now();
              const res = await client.call('POST', '/api/v1/login/mfa', { code });
              if (res.status === 200) {
                acknowledged.push({ userId: agent.id, action: 'mfa.enroll', sentAt, answeredAt: Date.now() });
                accepted.push({ agent, kind: 'totp', code, secret, step });
                agent.recovery = [...(res.body.recoveryCodes as string[])];
                counters.enrolments++;
              }
            } else if (login.body.state === 'mfa_required' && agent.secret) {
              const secret = agent.secret;
              // Steps are spent once; past the window ahead, spend a recovery code.
              const step = Math.max(agent.lastStep + 1, nowStep());
              let entry: Accepted;
              if (step <= nowStep() + 1) {
                agent.lastStep = step;
                entry = { agent, kind: 'totp', code: await phone(secret, step), secret, step };
              } else {
                const code = agent.recovery.shift();
                if (!code) {
                  await sleep(20);
                  continue;
                }
                entry = { agent, kind: 'recovery', code, secret, step: undefined };
              }
              const res = await client.call('POST', '/api/v1/login/mfa', { code: entry.code, method: entry.kind === 'recovery' ? 'recovery_code' : 'totp' });
              if (res.status === 200) {
                accepted.push(entry);
                // A reset racing this sign-in may have ended the session already.
                const session = await client.call('GET', '/api/v1/session');
                if (session.status !== 401) expect(session.body).toMatchObject({ state: 'authenticated', userId: agent.id });
                await client.call('POST', '/api/v1/logout', {});
              }
            }
          } catch (error) {
            if (!dying) throw error;
          }
        }
      };

      /** The admin resets a random agent now and then. */
      const adminLoop = async () => {
        const client = new Client(base);
        client.cookie = admin.cookie;
        while (!stop) {
          try {
            const agent = agents[randomInt(agents.length)] as Agent;
            const sentAt = Date.now();
            const res = await client.call('POST', `/api/v1/users/${agent.id}/reset-mfa`, {});
            if (res.status === 200) {
              acknowledged.push({ userId: agent.id, action: 'mfa.reset', sentAt, answeredAt: Date.now() });
              counters.resets++;
            } else {
              expect(res.status, JSON.stringify(res.body)).toBe(200);
            }
            await sleep(randomInt(40, 120));
          } catch (error) {
            if (!dying) throw error;
          }
        }
      };

      // A failed expectation in a client stops the round and fails the test after the kill.
      let failure: unknown;
      const workers = [...agents.map(agentLoop), adminLoop()].map((w) => w.catch((error: unknown) => void (failure ??= error)));
      await sleep(randomInt(20, 401));
      dying = true;
      await service.kill('SIGKILL');
      stop = true;
      await Promise.all(workers);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a client threw, rethrown as it was
      if (failure) throw failure;
      counters.kills++;

      await checkDatabase(target, accountId, acknowledged);
      await service.start();
      expect((await fetch(`${service.base}/healthz`)).status).toBe(200);

      // No accepted code works again: a new pending sign-in per code.
      counters.accepted += accepted.length;
      for (const entry of accepted) {
        if (entry.agent.secret !== entry.secret) {
          counters.skippedReEnrolled++; // the authenticator it belonged to is gone
          continue;
        }
        if (entry.step !== undefined && Math.abs(entry.step - nowStep()) > 1) {
          counters.skippedOutOfWindow++; // outside the window, refused whether it was recorded or not
          continue;
        }
        const client = new Client(service.base);
        const again = await client.call('POST', '/api/v1/login', { accountId, username: entry.agent.username, password: PASSWORD });
        expect(again.status).toBe(200);
        if (again.body.state !== 'mfa_required') {
          counters.skippedReEnrolled++; // reset by a request the kill left unanswered
          continue;
        }
        const replay = await client.call('POST', '/api/v1/login/mfa', { code: entry.code });
        expect({ kind: entry.kind, status: replay.status, body: replay.body }).toEqual({ kind: entry.kind, status: 401, body: expect.objectContaining({ error: 'invalid_code' }) });
        counters.replayed++;
      }
      accepted = [];
    }
    // Every acknowledged action is also still there once the service has run again.
    await service.kill('SIGTERM');
    await checkDatabase(target, accountId, acknowledged);
    return counters;
  } finally {
    await service.kill('SIGKILL');
  }
}

function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORTCULLIS_SECRET_KEY: `k1:${randomBytes(32).toString('base64')}`,
    PORTCULLIS_ARGON2_MEMORY_KIB: '1024',
    PORTCULLIS_ARGON2_ITERATIONS: '1',
    PORTCULLIS_LOG_LEVEL: 'warn',
    // Attempts are counted before they are checked, so each request a kill cuts
    // short stays counted as a failure (the safe direction). Every client here
    // comes from 127.0.0.1 and every kill leaves a few: with the default limits
    // the load would lock itself out within a few rounds, and a 429 would hide
    // whether a replayed code was really refused.
    PORTCULLIS_ADDRESS_LOCK_AFTER_FAILURES: '10000',
    PORTCULLIS_LOCK_AFTER_FAILURES: '100',
  };
}

const report = (kind: string, c: Counters) =>
  console.info(
    `crash (${kind}): ${c.kills} kills, ${c.enrolments} enrolments, ${c.resets} resets, ${c.accepted} accepted codes: ` +
      `${c.replayed} replayed and refused, ${c.skippedOutOfWindow} out of the window, ${c.skippedReEnrolled} whose authenticator was reset`,
  );

const postgres = await hasPostgres();

describe('SIGKILL under sign-in load', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('SQLite (WAL): 20 kills leave the data whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-crash-'));
    const url = `sqlite:${join(dir, 'data/portcullis.db')}`;
    const target: Target = {
      kind: 'sqlite',
      env: { ...baseEnv(), HOME: dir, PORTCULLIS_DATABASE_URL: url },
      open: () => openDatabase(url),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
    cleanups.push(target.cleanup);
    const counters = await crashRun(target, 20);
    report('sqlite', counters);
    expect(counters.kills).toBe(20);
    expect(counters.replayed).toBeGreaterThan(0);
  }, 480_000); // ~50 s alone; the whole suite shares two cores with it, and each of the 20 restarts loads the service anew

  it.runIf(postgres)('PostgreSQL: 5 kills leave the data whole', async () => {
    const schema = `t_crash_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const target: Target = {
      kind: 'postgres',
      env: { ...baseEnv(), PORTCULLIS_DATABASE_URL: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, PORTCULLIS_DATABASE_POOL_SIZE: '4' },
      open: () => openDatabase(POSTGRES_URL, { schema, poolSize: 2 }),
      cleanup: async () => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`drop schema if exists ${schema} cascade`);
        await client.end();
      },
    };
    cleanups.push(target.cleanup);
    const counters = await crashRun(target, 5);
    report('postgres', counters);
    expect(counters.kills).toBe(5);
  }, 150_000);
});
