import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, enterCode, freePort, launchBrowser, phoneCode, scanQrOnScreen, secretOf, signInWithPassword, snap, startService, writeCsv } from './support.ts';
import type { Browser, BrowserContext, Page, Service } from './support.ts';

// The sample application of examples/agent-workspace as a newcomer runs it:
// `portcullis serve` and the example as two processes on loopback ports, the
// application registered with the CLI line of its README, and a person in
// Chromium signing in to it through Portcullis with the account's MFA.

const EXAMPLE = resolve(import.meta.dirname, '../../examples/agent-workspace/server.js');

interface Example {
  base: string;
  stop(): Promise<void>;
}

async function startExample(env: Record<string, string>): Promise<Example> {
  const child: ChildProcess = spawn(process.execPath, [EXAMPLE], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const base = env.APP_URL as string;
  await new Promise<void>((done, fail) => {
    const check = () => {
      if (output.includes('listening on')) done();
      else if (child.exitCode !== null) fail(new Error(`the example did not start: ${output}`));
    };
    child.stdout?.on('data', check);
    child.once('exit', check);
  });
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}

describe('the sample application in Chromium', () => {
  let service: Service;
  let example: Example;
  let browser: Browser;
  let accountId = '';
  let admin: Page;
  let bob: Page;
  let bobSecret = '';
  let clientId = '';
  const contexts: BrowserContext[] = [];

  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 850 } });
    contexts.push(context);
    return context.newPage();
  };

  const claim = (page: Page, name: string) => page.locator(`td[data-claim="${name}"]`).textContent();

  beforeAll(async () => {
    service = await startService();
    accountId = (JSON.parse(await service.cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    const csv = writeCsv(service.dir, 'users.csv', ['username,role,password,skills', `bob,agent,${PASSWORD},Billing;Sales`]);
    await service.cli(['user', 'import', '--account', accountId, csv]);
    service.passwordsChosen(accountId);

    // The README's lines: register the application, then start it.
    const appUrl = `http://127.0.0.1:${await freePort()}`;
    const client = JSON.parse(
      await service.cli([
        'client', 'create', '--account', accountId, '--name', 'Agent Workspace',
        '--redirect-uri', `${appUrl}/callback`,
        '--post-logout-redirect-uri', `${appUrl}/signed-out`,
        '--backchannel-logout-uri', `${appUrl}/backchannel-logout`,
        '--launch-url', `${appUrl}/login`,
      ]),
    ) as { clientId: string; clientSecret: string };
    clientId = client.clientId;
    example = await startExample({
      PORTCULLIS_ISSUER: service.base,
      CLIENT_ID: client.clientId,
      CLIENT_SECRET: client.clientSecret,
      PORT: new URL(appUrl).port,
      APP_URL: appUrl,
    });
    browser = await launchBrowser();
    admin = await newPage();
    bob = await newPage();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await example?.stop();
    await service?.stop();
  });

  it('the admin switches the account\'s MFA on (and enrols)', async () => {
    await signInWithPassword(admin, service.base, accountId, 'alice');
    await expect.poll(() => admin.url()).toBe(`${service.base}/`);
    await admin.goto(`${service.base}/manage/console/account-access-control`);
    await admin.getByLabel('Multi-factor authentication').check();
    await admin.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => admin.url()).toBe(`${service.base}/login/mfa`);
    await enterCode(admin, phoneCode(secretOf(await scanQrOnScreen(admin))));
    await admin.getByRole('link', { name: 'Continue' }).click();
    await expect.poll(() => admin.url()).toBe(`${service.base}/`);
  });

  it('a first sign-in through the application sets up MFA with the QR code; the claims say mfa', async () => {
    await bob.goto(example.base);
    await expect.poll(() => bob.getByText('You are signed out.').isVisible()).toBe(true);
    await bob.getByRole('link', { name: 'Sign in with Portcullis' }).click();
    // Portcullis's sign-in page, for this application's account: no account number asked.
    await expect.poll(() => bob.url()).toMatch(new RegExp(`^${service.base}/login`));
    expect(await bob.getByLabel('Account number').count()).toBe(0);
    await bob.getByLabel('Username').fill('bob');
    await bob.getByLabel('Password').fill(PASSWORD);
    await bob.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => bob.getByRole('heading', { name: 'Set up multi-factor authentication' }).isVisible()).toBe(true);
    bobSecret = secretOf(await scanQrOnScreen(bob));
    await enterCode(bob, phoneCode(bobSecret));
    await expect.poll(() => bob.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
    await bob.getByRole('link', { name: 'Continue' }).click();

    await expect.poll(() => bob.url()).toBe(`${example.base}/`);
    await expect.poll(() => bob.getByRole('heading', { name: 'Agent Workspace' }).isVisible()).toBe(true);
    expect(await claim(bob, 'preferred_username')).toBe('bob');
    expect((await claim(bob, 'amr'))?.split(', ')).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(await claim(bob, 'account_name')).toBe('Acme Support');
    expect(await claim(bob, 'role')).toBe('agent');
    expect((await claim(bob, 'skills'))?.split(', ').sort()).toEqual(['Billing', 'Sales']);
    expect(await claim(bob, 'acr')).toBeTruthy();
    await snap(bob, 'sample-app-claims');
  });

  it('refreshes its token', async () => {
    await bob.getByRole('button', { name: 'Refresh token' }).click();
    await expect.poll(() => bob.getByRole('status').textContent()).toBe('Token refreshed.');
    await expect.poll(() => bob.getByText('refreshed 1 time(s)').isVisible()).toBe(true);
    expect(await claim(bob, 'preferred_username')).toBe('bob');
  });

  it('signs out of the application and of Portcullis (RP-initiated logout)', async () => {
    await bob.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => bob.getByRole('heading', { name: 'Sign out of Portcullis?' }).isVisible()).toBe(true);
    await bob.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect.poll(() => bob.url()).toBe(`${example.base}/signed-out`);
    await expect.poll(() => bob.getByText('You are signed out.').isVisible()).toBe(true);
    // Portcullis's session is over too.
    await bob.goto(`${service.base}/`);
    await expect.poll(() => bob.url()).toMatch(new RegExp(`^${service.base}/login`));
  });

  it('a later sign-in asks for the code only', async () => {
    await bob.goto(example.base);
    await bob.getByRole('link', { name: 'Sign in with Portcullis' }).click();
    await expect.poll(() => bob.url()).toMatch(new RegExp(`^${service.base}/login`));
    await bob.getByLabel('Username').fill('bob');
    await bob.getByLabel('Password').fill(PASSWORD);
    await bob.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => bob.getByRole('heading', { name: 'Verify your identity' }).isVisible()).toBe(true);
    expect(await bob.locator('img').count()).toBe(0);
    // The enrolment used this period's code: the phone's next one (one step ahead is accepted).
    await enterCode(bob, phoneCode(bobSecret, 1));
    await expect.poll(() => bob.url()).toBe(`${example.base}/`);
    expect((await claim(bob, 'amr'))?.split(', ')).toContain('mfa');
  });

  it('refuses forged logout tokens (unsigned, or signed by another key under a published kid) and keeps the session', async () => {
    const sub = (await claim(bob, 'sub')) as string;
    const claims = { iss: service.base, aud: clientId, sub, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), events: { 'http://schemas.openid.net/event/backchannel-logout': {} } };
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const jwks = (await (await fetch(`${service.base}/oidc/jwks`)).json()) as { keys: Array<{ kid: string; alg?: string; kty: string }> };
    const kid = (jwks.keys.find((k) => k.kty === 'RSA') as { kid: string }).kid;
    const unsigned = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const input = `${b64({ alg: 'RS256', kid })}.${b64({ ...claims, jti: randomUUID() })}`;
    const forged = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    for (const token of [unsigned, forged, 'not-a-token']) {
      const res = await fetch(`${example.base}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    }
    await bob.reload();
    expect(await claim(bob, 'preferred_username')).toBe('bob');
  });

  it("the admin's Reset MFA ends the application's session by back-channel logout", async () => {
    await admin.goto(`${service.base}/`);
    await admin.getByText('Manage', { exact: true }).click();
    await admin.getByRole('link', { name: 'Users & Skills' }).click();
    await admin.getByRole('link', { name: 'bob', exact: true }).click();
    await admin.getByRole('link', { name: 'Reset MFA' }).click();
    await admin.getByRole('dialog', { name: 'Reset MFA' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => admin.getByRole('status').textContent()).toContain('MFA was reset for bob');

    // Nothing of Bob's browser told the application: only Portcullis's logout token did.
    await expect
      .poll(async () => {
        await bob.goto(example.base);
        return bob.getByText('You are signed out.').isVisible();
      })
      .toBe(true);
    await snap(bob, 'sample-app-signed-out');
  });
});
