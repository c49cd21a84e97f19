import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CDPSession } from 'playwright-core';
import { PASSWORD, expectAccessible, launchBrowser, signInWithPassword, snap, startService } from './support.ts';
import type { Browser, BrowserContext, Page, Service } from './support.ts';

// Require a security key or passkey for admins (issue 14), in Chromium with
// its virtual authenticator: the admin who switches it on is taken to set up
// a key at once (never locked out), signs in with it afterwards, another
// admin's password-only session ends, and an agent carries on. Served as
// localhost:<port>: WebAuthn refuses an IP address as the relying party id.

describe('an admin required to use a security key, in Chromium', { timeout: 120_000 }, () => {
  let service: Service;
  let browser: Browser;
  let base = '';
  let accountId = '';
  const contexts: BrowserContext[] = [];

  async function newPage(withKey: boolean): Promise<{ page: Page; cdp?: CDPSession; authenticatorId?: string }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 850 } });
    contexts.push(context);
    const page = await context.newPage();
    if (!withKey) return { page };
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return { page, cdp, authenticatorId };
  }

  beforeAll(async () => {
    service = await startService();
    base = service.base.replace('127.0.0.1', 'localhost');
    accountId = (JSON.parse(await service.cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    for (const [username, role] of [['ada', 'admin'], ['bob', 'agent']]) {
      await service.cli(['user', 'create', '--account', accountId, '--username', username as string, '--role', role as string], `${PASSWORD}\n`);
    }
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await service?.stop();
  });

  /** Signs in a user created by the CLI: the password, then their own new one (admin-set passwords are changed first). */
  async function firstSignIn(page: Page, username: string) {
    await signInWithPassword(page, base, accountId, username);
    await expect.poll(() => page.url()).toBe(`${base}/account/password`);
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(`${PASSWORD} of ${username}`);
    await page.getByLabel('Confirm new password').fill(`${PASSWORD} of ${username}`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${username}` }).isVisible()).toBe(true);
  }

  it('switching it on takes the admin straight to set up a key; the next sign-in asks for the key; other admins sign in again; agents carry on', async () => {
    const ada = await newPage(false);
    await firstSignIn(ada.page, 'ada');
    const bob = await newPage(false);
    await firstSignIn(bob.page, 'bob');

    const alice = await newPage(true);
    const { page } = alice;
    await signInWithPassword(page, base, accountId, 'alice');
    await expect.poll(() => page.url()).toBe(`${base}/`);
    await page.goto(`${base}/manage/console/account-access-control`);
    await page.getByLabel('Require a security key or passkey for admins').check();
    await page.getByRole('button', { name: 'Save second factors' }).click();

    // Set-up with a key only: no QR code, no app.
    await expect.poll(() => page.url()).toBe(`${base}/login/mfa`);
    expect(await page.locator('img.qr').count()).toBe(0);
    const setUp = page.getByRole('button', { name: 'Set up a security key or passkey' });
    await expect.poll(() => setUp.isVisible()).toBe(true);
    await snap(page, 'admin-key-set-up');
    await expectAccessible(page);
    // The ceremony ends in a navigation to the recovery codes (hashed first): wait for it, not a second's poll.
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), setUp.click()]);
    await expect.poll(() => page.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
    await page.getByRole('link', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome, alice' }).isVisible()).toBe(true);
    // The setting is saved and shown.
    await page.goto(`${base}/manage/console/account-access-control`);
    expect(await page.getByLabel('Require a security key or passkey for admins').isChecked()).toBe(true);
    await expectAccessible(page);

    // The next sign-in asks for the key, and only the key.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWithPassword(page, base, accountId, 'alice');
    const useKey = page.getByRole('button', { name: 'Use your security key' });
    await expect.poll(() => useKey.isVisible()).toBe(true);
    expect(await page.getByLabel('Authentication code').count()).toBe(0);
    await useKey.click();
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome, alice' }).isVisible()).toBe(true);

    // Ada's session had no key: it ended. Bob's goes on.
    await ada.page.goto(`${base}/`);
    await expect.poll(() => new URL(ada.page.url()).pathname).toBe('/login');
    await bob.page.goto(`${base}/`);
    await expect.poll(() => bob.page.getByRole('heading', { name: 'Welcome, bob' }).isVisible()).toBe(true);
  });
});
