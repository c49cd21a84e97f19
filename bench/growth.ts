// npm run bench:growth — does the code step and the user search stay as fast
// with 100,000 users in an account as with 1,000, and with 100,000 users spread
// over many accounts (the measured one holding 1,000)? Users and authenticators are
// written straight into the database (one precomputed argon2id hash, secrets
// sealed with the bench's key), then a real `portcullis serve` is measured.
// Codes come from our own src/domain/totp.ts: this measures speed only.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hash } from '@node-rs/argon2';
import { sql } from 'kysely';
import { parseKeyRing } from '../src/config/secret-key.ts';
import { standardTotp, timeStep, totpAt } from '../src/domain/totp.ts';
import { systemRandom } from '../src/runtime.ts';
import { createSecretBox, totpContext } from '../src/services/secret-box.ts';
import { migrateToLatest, openDatabase } from '../src/storage/database.ts';
import { benchDatabase, Client, freePort, waitHealthy } from './support.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/portcullis.js');
const SIZES = (process.env.GROWTH_SIZES ?? '1000,100000').split(',').map(Number);
/** The many-accounts case: the largest size spread evenly over this many accounts. */
const ACCOUNTS = Number(process.env.GROWTH_ACCOUNTS ?? 100);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const PASSWORD = 'bench password 0123456789';
const SAMPLES = 200;
/** Requests of each kind made first and not counted: the server's JIT and caches warm up. */
const WARMUP = 50;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const round = (x: number) => Math.round(x * 100) / 100;

/** `users` users in all, over `accounts` accounts of equal size; the first account is measured. */
async function measure(store: string, users: number, accounts: number, passwordHash: string) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-growth-'));
  const target = await benchDatabase(store, dir, 'growth');
  const url = target.url;
  const key = `k1:${randomBytes(32).toString('base64')}`;
  const box = createSecretBox(parseKeyRing(key), systemRandom);
  const database = openDatabase(url);
  await migrateToLatest(database.db);
  const perAccount = Math.floor(users / accounts);
  const accountIds = Array.from({ length: accounts }, (_, a) => String(12_345_678 + a));
  const accountId = accountIds[0] as string;
  const now = Date.now();
  const step = timeStep(now, 30);
  await database.db.insertInto('accounts').values(accountIds.map((id) => ({ id, name: `Growth ${id}`, mfa_enabled: 1, created_at: now }))).execute();
  const secrets = new Map<number, Uint8Array>();
  const t0 = performance.now();
  for (const account of accountIds) {
    // Every account has the same usernames: the worst case for a search that must
    // not look at other accounts' users.
    for (let from = 0; from < perAccount; from += 1000) {
      const rows = [];
      const auths = [];
      for (let i = from; i < Math.min(perAccount, from + 1000); i++) {
        const id = randomBytes(16).toString('hex');
        const name = i === 0 ? 'admin' : `agent${i}`;
        rows.push({ id, account_id: account, username: name, username_key: name, role: i === 0 ? 'admin' : 'agent', password_hash: passwordHash, state: 'active', email: null, created_at: now, updated_at: now });
        const secret = randomBytes(20);
        if (account === accountId) secrets.set(i, secret);
        const sealed = box.seal(secret, totpContext(account, id));
        auths.push({ id: randomBytes(16).toString('hex'), account_id: account, user_id: id, type: 'totp', name: 'Authenticator app', secret_key_id: sealed.keyId, secret_ciphertext: sealed.ciphertext, algorithm: 'SHA1', digits: 6, period: 30, last_used_step: step - 10, drift_steps: 0, created_at: now, created_ip: null, last_used_at: null });
      }
      await database.db.insertInto('users').values(rows).execute();
      await database.db.insertInto('factors').values(auths).execute();
    }
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  // A database in service has planner statistics (PostgreSQL's autovacuum gathers
  // them within a minute of such a load); one filled a moment ago does not yet.
  await sql`analyze`.execute(database.db);
  await database.close();

  const port = await freePort();
  const server = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: { PATH: process.env.PATH ?? '', PORT: String(port), PORTCULLIS_DATABASE_URL: url, PORTCULLIS_SECRET_KEY: key, PORTCULLIS_LOG_LEVEL: 'warn', PORTCULLIS_ADDRESS_LOCK_AFTER_FAILURES: '10000' }, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(base);
    const code = (i: number) => totpAt(secrets.get(i) as Uint8Array, timeStep(Date.now(), 30), standardTotp);
    // The code step, one at a time (latency, not throughput), for users spread over the table.
    // Distinct users (each code is accepted once), spread evenly over the table.
    const picks = [...new Set(Array.from({ length: WARMUP + SAMPLES }, (_, k) => 1 + Math.floor((k * (perAccount - 1)) / (WARMUP + SAMPLES))))];
    const pending: Client[] = [];
    for (const i of picks) {
      const c = new Client();
      await c.call(base, 'POST', '/api/v1/login', { accountId, username: `agent${i}`, password: PASSWORD });
      pending.push(c);
    }
    const codeMs: number[] = [];
    for (const [k, i] of picks.entries()) {
      const t = performance.now();
      const res = await (pending[k] as Client).call(base, 'POST', '/api/v1/login/mfa', { code: code(i) });
      if (k >= WARMUP) codeMs.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`code step failed: ${JSON.stringify(res.body)}`);
    }
    // The user search, as an admin.
    const admin = new Client();
    await admin.call(base, 'POST', '/api/v1/login', { accountId, username: 'admin', password: PASSWORD });
    await admin.call(base, 'POST', '/api/v1/login/mfa', { code: code(0) });
    const searchMs: number[] = [];
    for (let k = 0; k < WARMUP + SAMPLES; k++) {
      const t = performance.now();
      const res = await admin.call(base, 'GET', `/api/v1/users?search=agent${1 + ((k * 7919) % (perAccount - 1))}`);
      if (k >= WARMUP) searchMs.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`search failed: ${JSON.stringify(res.body)}`);
    }
    return { store, users, accounts, usersInMeasuredAccount: perAccount, fillSeconds: round(fillSeconds), codeStepP50Ms: round(median(codeMs)), userSearchP50Ms: round(median(searchMs)) };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
    await target.drop();
  }
}

const passwordHash = await hash(PASSWORD, { algorithm: 2 as never, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
const results = [];
for (const store of STORES) {
  const rows = [];
  for (const size of SIZES) rows.push(await measure(store, size, 1, passwordHash));
  const largest = SIZES[SIZES.length - 1] as number;
  if (ACCOUNTS > 1) rows.push(await measure(store, largest, ACCOUNTS, passwordHash));
  const small = rows[0];
  const oneAccount = rows.find((r) => r.users === largest && r.accounts === 1);
  const manyAccounts = rows.find((r) => r.accounts > 1);
  const ratio = (large: typeof small, field: 'codeStepP50Ms' | 'userSearchP50Ms') => (small && large ? round(large[field] / small[field]) : null);
  results.push({
    store,
    rows,
    codeStepRatio: ratio(oneAccount, 'codeStepP50Ms'),
    userSearchRatio: ratio(oneAccount, 'userSearchP50Ms'),
    manyAccounts: { codeStepRatio: ratio(manyAccounts, 'codeStepP50Ms'), userSearchRatio: ratio(manyAccounts, 'userSearchP50Ms') },
  });
}
const report = { at: new Date().toISOString(), machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version }, sizes: SIZES, accounts: ACCOUNTS, results };
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, 'bench/results', `growth-${report.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
console.log(`written to ${file}`);
