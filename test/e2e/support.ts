import Database from 'better-sqlite3';
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';

// The end-to-end rig: a real `portcullis serve` on a free loopback port with a
// fresh data folder, Debian's Chromium driven by playwright-core, and the
// user's phone played by zbarimg (reads the QR off a screenshot) and oathtool
// (computes the codes). Our own TOTP code computes nothing here.

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/portcullis.js');
const run = promisify(execFile);

export const PASSWORD = 'correct horse battery staple';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

export interface Service {
  base: string;
  env: Record<string, string>;
  dir: string;
  cli(args: string[], stdin?: string): Promise<string>;
  /**
   * Marks the passwords of the account's users as their own, as if each had
   * done the required first change already (issue 15): for flows about
   * something else. The forced change has its own end-to-end test.
   */
  passwordsChosen(accountId: string): void;
  stop(): Promise<void>;
}

/** Starts `portcullis serve` the way an operator would, and waits for /healthz. */
export async function startService(): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-e2e-'));
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PORTCULLIS_DATABASE_URL: `sqlite:${join(dir, 'data/portcullis.db')}`,
    PORTCULLIS_ARGON2_MEMORY_KIB: '4096',
    PORTCULLIS_ARGON2_ITERATIONS: '1',
    PORTCULLIS_LOG_LEVEL: 'warn',
  };
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`portcullis serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    env,
    dir,
    async cli(args, stdin) {
      const proc = run(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 30_000 });
      if (stdin !== undefined) {
        proc.child.stdin?.end(stdin);
      }
      return (await proc).stdout;
    },
    passwordsChosen(accountId) {
      const db = new Database(join(dir, 'data/portcullis.db'));
      try {
        db.prepare('update users set password_change_required = 0 where account_id = ?').run(accountId);
      } finally {
        db.close();
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** The phone: reads the QR code on the page with zbarimg and answers the otpauth:// URI. */
export async function scanQrOnScreen(page: Page): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-shot-'));
  try {
    const file = join(dir, 'screen.png');
    await page.screenshot({ path: file, fullPage: true });
    return execFileSync('zbarimg', ['--quiet', '--raw', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The phone: the code oathtool shows for a secret now, or `steps` periods ahead. */
export function phoneCode(secret: string, steps = 0): string {
  const now = Math.floor(Date.now() / 1000) + steps * 30;
  return execFileSync('oathtool', ['--totp', '--base32', `--now=@${now}`, secret], { encoding: 'utf8' }).trim();
}

export function secretOf(uri: string): string {
  const secret = new URL(uri).searchParams.get('secret');
  if (!secret) throw new Error(`no secret in ${uri}`);
  return secret;
}

/** No serious or critical accessibility violations (axe-core). */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`)).toEqual([]);
}

/** Screenshots of the flows: test-results/e2e always; docs/screenshots too with SCREENSHOTS=1. */
export async function snap(page: Page, name: string): Promise<void> {
  const dirs = [join(ROOT, 'test-results/e2e')];
  if (process.env.SCREENSHOTS === '1') dirs.push(join(ROOT, 'docs/screenshots'));
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  }
}

export async function signInWithPassword(page: Page, base: string, accountId: string, username: string, password = PASSWORD) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Account number').fill(accountId);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Types a code and submits it, waiting for the answer page (so the next step cannot act on the old one). */
export async function enterCode(page: Page, code: string) {
  await page.getByLabel('Authentication code').fill(code);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: 'Verify' }).click()]);
}

export function writeCsv(dir: string, name: string, rows: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

export type { Browser, BrowserContext, Page };
