import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CDPSession } from 'playwright-core';
import { PASSWORD, expectAccessible, launchBrowser, signInWithPassword, snap, startService } from './support.ts';
import type { Browser, BrowserContext, Page, Service } from './support.ts';

// Security keys and passkeys in a real browser: Chromium's virtual
// authenticator (the DevTools protocol's WebAuthn domain, through
// playwright-core's CDP session) plays the key. WebAuthn refuses an IP
// address as the relying party id, so the service is reached as
// localhost:<port> (served without PORTCULLIS_PUBLIC_URL: known-hosts admits
// localhost on the listening port).

describe('security keys in Chromium', { timeout: 120_000 }, () => {
  let service: Service;
  let browser: Browser;
  let base = '';
  let accountId = '';
  const contexts: BrowserContext[] = [];

  /** A page with a virtual authenticator of its own (a USB key with a PIN, or the platform's passkey store). */
  async function pageWithKey(transport: 'usb' | 'internal' = 'usb'): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 850 } });
    contexts.push(context);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport, hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return { page, cdp, authenticatorId };
  }

  beforeAll(async () => {
    service = await startService();
    base = service.base.replace('127.0.0.1', 'localhost');
    accountId = (JSON.parse(await service.cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await service?.stop();
  });

  let alice: { page: Page; cdp: CDPSession; authenticatorId: string };

  it('switching MFA on takes the admin to set-up, where a security key sets up instead of the app', async () => {
    alice = await pageWithKey('usb');
    const { page } = alice;
    await signInWithPassword(page, base, accountId, 'alice');
    await expect.poll(() => page.url()).toBe(`${base}/`);
    await page.goto(`${base}/manage/console/account-access-control`);
    await page.getByLabel('Multi-factor authentication').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.url()).toBe(`${base}/login/mfa`);
    // The phone-friendly link to the app is there too, and points at the same key as the QR code.
    expect(await page.getByRole('link', { name: 'Open in your authenticator app' }).getAttribute('href')).toMatch(/^otpauth:\/\/totp\//);
    const useKey = page.getByRole('button', { name: 'Use a security key or passkey instead' });
    await expect.poll(() => useKey.isVisible()).toBe(true);
    await snap(page, 'set-up-with-key-offer');
    await expectAccessible(page);
    // The ceremony ends in a navigation to the recovery codes (hashed first): wait for it, not a second's poll.
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), useKey.click()]);
    await expect.poll(() => page.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
    expect(await page.getByRole('status').first().textContent()).toContain('Your security key is set up.');
    await expectAccessible(page);
    await page.getByRole('link', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome, alice' }).isVisible()).toBe(true);
    const { credentials } = await alice.cdp.send('WebAuthn.getCredentials', { authenticatorId: alice.authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.rpId).toBe('localhost');
  });

  it('the next sign-in offers “Use your security key”, and one press signs in', async () => {
    const { page } = alice;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWithPassword(page, base, accountId, 'alice');
    await expect.poll(() => page.getByRole('heading', { name: 'Verify your identity' }).isVisible()).toBe(true);
    const useKey = page.getByRole('button', { name: 'Use your security key' });
    await expect.poll(() => useKey.isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Use a recovery code instead' }).count()).toBe(1);
    expect(await page.getByText('Your security key needs JavaScript').isVisible()).toBe(false);
    await snap(page, 'verify-with-key');
    await expectAccessible(page);
    await useKey.click();
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome, alice' }).isVisible()).toBe(true);
  });

  it('without JavaScript the key-only code page hides the key button and still offers the recovery code', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    contexts.push(context);
    const page = await context.newPage();
    await signInWithPassword(page, base, accountId, 'alice');
    await expect.poll(() => page.getByRole('heading', { name: 'Verify your identity' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Use your security key' }).isVisible()).toBe(false);
    expect(await page.getByRole('link', { name: 'Use a recovery code instead' }).isVisible()).toBe(true);
    expect(await page.getByText('Your security key needs JavaScript and a browser that supports security keys.').isVisible()).toBe(true);
    // (axe runs as a script: this page was checked with JavaScript on, above.)
  });

  it('a cloned key (its counter behind the one last seen) is refused with a clear message', async () => {
    const { page, cdp, authenticatorId } = alice;
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    const original = credentials[0];
    if (!original) throw new Error('the virtual authenticator holds no credential');
    expect(original.signCount).toBeGreaterThan(1);
    // The clone: the same private key, with the counter it had at set-up.
    await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: original.credentialId });
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...original, signCount: 0 } });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWithPassword(page, base, accountId, 'alice');
    const useKey = page.getByRole('button', { name: 'Use your security key' });
    await expect.poll(() => useKey.isVisible()).toBe(true);
    await useKey.click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('Your security key’s answer was not accepted.');
    expect(page.url()).toBe(`${base}/login/mfa`);
    await expectAccessible(page);
  });
});
