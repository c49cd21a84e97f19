// What both benchmarks need: a database, a free port, a started server, an API client with a cookie.
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

export const POSTGRES = process.env.PORTCULLIS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function onPostgres(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES });
  await c.connect();
  await c.query(statement);
  await c.end();
}

export interface BenchDatabase {
  url: string;
  /** Runs one statement against the run's database, beside the server (SQLite in WAL mode allows it). */
  exec(statement: string): Promise<void>;
  drop(): Promise<void>;
}

/** A fresh database for one run: a SQLite file in dir, or a schema of its own on PostgreSQL. */
export async function benchDatabase(store: string, dir: string, prefix: string): Promise<BenchDatabase> {
  if (store !== 'postgres') {
    const file = join(dir, 'data/portcullis.db');
    return {
      url: `sqlite:${file}`,
      exec: async (statement) => {
        const db = new Database(file);
        try {
          db.pragma('busy_timeout = 5000');
          db.exec(statement);
        } finally {
          db.close();
        }
      },
      drop: async () => {},
    };
  }
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  await onPostgres(`create schema ${schema}`);
  return {
    url: `${POSTGRES}?options=${encodeURIComponent(`-c search_path=${schema}${process.env.BENCH_PG_OPTIONS ? ` ${process.env.BENCH_PG_OPTIONS}` : ''}`)}`,
    exec: (statement) => onPostgres(`set search_path = ${schema}; ${statement}`),
    drop: () => onPostgres(`drop schema if exists ${schema} cascade`),
  };
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => done(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`${base}/healthz`);
      // With workers, every one of them must listen (/healthz lists them).
      const body = res.ok ? ((await res.json()) as { workers?: Array<{ state: string }> }) : undefined;
      if (body && (body.workers ?? []).every((w) => w.state === 'listening')) return;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base} did not start`);
}

// One keep-alive agent for every client of a run, as a load balancer in front would
// hold connections open. node:http rather than fetch: the load generator shares
// the machine's two cores with the server, and fetch costs several times the CPU
// per request (docs/performance.md).
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request; the answer's status, headers and body as text. */
export function request(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A JSON API client keeping the session cookie, as a user's app would. */
export class Client {
  cookie = '';
  async call(base: string, method: string, path: string, body?: unknown) {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    const res = await request(`${base}${path}`, method, headers, body === undefined ? undefined : JSON.stringify(body));
    const set = res.headers['set-cookie']?.find((c) => c.startsWith('portcullis='));
    if (set) this.cookie = set.split(';')[0] as string;
    return { status: res.status, body: JSON.parse(res.text) as Record<string, unknown> };
  }
}
