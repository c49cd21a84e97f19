// The load generator: virtual users driving sign-ins through the API, each
// timing its own requests.
//
// Codes are computed with our own src/domain/totp.ts here: the benchmark
// measures speed, and the tests check correctness against oathtool.
import { standardTotp, timeStep, totpAt } from '../src/domain/totp.ts';
import { Browser } from './browser.ts';
import type { Sample } from './measure.ts';
import { Client } from './support.ts';

export function codeFor(secret: Uint8Array, offsetSteps = 0): string {
  return totpAt(secret, timeStep(Date.now(), 30) + offsetSteps, standardTotp);
}

/** Runs fn over items with `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

export interface SignInLoad {
  base: string;
  accountId: string;
  password: string;
  secrets: Uint8Array[];
  vus: number;
}

export interface TimedRun {
  /** Each sign-in's time, ms. */
  ms: number[];
  failures: number;
  /** The index after the last user taken. */
  used: number;
  elapsed: number;
}

/**
 * Sign-ins for `seconds` by `vus` virtual users at once, of users first up to
 * last - 1, each at most once: `one(i)` signs user i in and answers whether it
 * worked.
 */
export async function timedSignIns(vus: number, seconds: number, first: number, last: number, one: (i: number) => Promise<boolean>): Promise<TimedRun> {
  const ms: number[] = [];
  let next = first;
  let failures = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: vus }, async () => {
    while (performance.now() < end && next < last) {
      const i = next++;
      const t = performance.now();
      const ok = await one(i).catch(() => false);
      ms.push(performance.now() - t);
      if (!ok) failures++;
    }
  }));
  return { ms, failures, used: next, elapsed: (performance.now() - started) / 1000 };
}

/**
 * Full MFA sign-ins through the API (password, then code) of agent{first} up
 * to agent{last - 1}, using the next step's code (the enrolment used this
 * step's), each step timed.
 */
export async function fullSignIns(load: SignInLoad, seconds: number, first: number, last: number) {
  const { base, accountId, password, secrets, vus } = load;
  const passwordStep: Sample = { ms: [] };
  const codeStep: Sample = { ms: [] };
  const run = await timedSignIns(vus, seconds, first, last, async (i) => {
    const c = new Client();
    let t = performance.now();
    const a = await c.call(base, 'POST', '/api/v1/login', { accountId, username: `agent${i}`, password });
    passwordStep.ms.push(performance.now() - t);
    t = performance.now();
    const b = await c.call(base, 'POST', '/api/v1/login/mfa', { code: codeFor(secrets[i] as Uint8Array, 1) });
    codeStep.ms.push(performance.now() - t);
    return a.body.state === 'mfa_required' && b.status === 200;
  });
  return { ...run, password: passwordStep, codeStep };
}

/** Full MFA sign-ins through the pages a browser without JavaScript sees: the sign-in form, the code form, the home page. */
export async function pageSignIns(load: SignInLoad, seconds: number, first: number, last: number): Promise<TimedRun> {
  const { base, accountId, password, secrets, vus } = load;
  return timedSignIns(vus, seconds, first, last, async (i) => {
    const browser = new Browser(base);
    const login = await browser.go('/login');
    const code = await browser.submit(login, '/login', { accountId, username: `agent${i}`, password });
    if (code.url.pathname !== '/login/mfa') return false;
    const home = await browser.submit(code, '/login/mfa', { method: 'totp', code: codeFor(secrets[i] as Uint8Array, 1) });
    return home.status === 200 && home.url.pathname === '/';
  });
}

export interface PendingSignIn {
  c: Client;
  i: number;
}

/** Pending sign-ins of the given users (the password step done), for the code step alone. */
export async function pendingSignIns(load: SignInLoad, users: number[]): Promise<PendingSignIn[]> {
  const { base, accountId, password } = load;
  const prepared: PendingSignIn[] = [];
  await pool(users, 8, async (i) => {
    const c = new Client();
    await c.call(base, 'POST', '/api/v1/login', { accountId, username: `agent${i}`, password });
    prepared.push({ c, i });
  });
  return prepared;
}

/** The code step of every pending sign-in, by `vus` virtual users at once. */
export async function codeSteps(load: SignInLoad, prepared: PendingSignIn[]): Promise<Sample> {
  const { base, secrets, vus } = load;
  const codeOnly: Sample = { ms: [] };
  let k = 0;
  await Promise.all(Array.from({ length: vus }, async () => {
    while (k < prepared.length) {
      const { c, i } = prepared[k++] as PendingSignIn;
      const t = performance.now();
      await c.call(base, 'POST', '/api/v1/login/mfa', { code: codeFor(secrets[i] as Uint8Array, 1) });
      codeOnly.ms.push(performance.now() - t);
    }
  }));
  return codeOnly;
}
