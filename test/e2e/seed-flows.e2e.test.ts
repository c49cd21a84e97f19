import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PASSWORD,
  enterCode,
  expectAccessible,
  launchBrowser,
  phoneCode,
  scanQrOnScreen,
  secretOf,
  signInWithPassword,
  snap,
  startService,
  writeCsv,
} from './support.ts';
import type { Browser, BrowserContext, Page, Service } from './support.ts';

// The seed's three flows, as a person does them, in a real browser.

describe('the seed flows in Chromium', () => {
  let service: Service;
  let browser: Browser;
  let accountId = '';
  let admin: Page;
  let bobSession: BrowserContext;
  let bobSecret = '';
  let aliceSecret = '';
  let recoveryCodes: string[] = [];
  const contexts: BrowserContext[] = [];

  const newPage = async (javaScriptEnabled = true) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 850 }, javaScriptEnabled });
    contexts.push(context);
    return context.newPage();
  };

  beforeAll(async () => {
    service = await startService();
    accountId = (JSON.parse(await service.cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    const csv = writeCsv(service.dir, 'users.csv', ['username,role,password,skills', `bob,agent,${PASSWORD},Billing;Sales`, `mia,agent-manager,${PASSWORD},`]);
    await service.cli(['user', 'import', '--account', accountId, csv]);
    service.passwordsChosen(accountId);
    browser = await launchBrowser();
    admin = await newPage();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await service?.stop();
  });

  it('an admin signs in with MFA off and lands on the home page', async () => {
    await admin.goto(`${service.base}/login`);
    await snap(admin, 'sign-in');
    await expectAccessible(admin);
    await signInWithPassword(admin, service.base, accountId, 'alice');
    await expect.poll(() => admin.url()).toBe(`${service.base}/`);
    await expect.poll(() => admin.getByRole('heading', { name: 'Welcome, alice' }).isVisible()).toBe(true);
    await snap(admin, 'home');
    await expectAccessible(admin);
  });

  it('finds Account Access Control by navigation: Manage → Management Console → Admin & Secure', async () => {
    await admin.getByText('Manage', { exact: true }).click();
    await admin.getByRole('link', { name: 'Management Console' }).click();
    await expect.poll(() => admin.getByRole('heading', { name: 'Management Console' }).isVisible()).toBe(true);
    await expectAccessible(admin);
    await admin.getByRole('link', { name: 'Admin & Secure' }).click();
    await expectAccessible(admin);
    await admin.getByRole('link', { name: 'Account Access Control' }).click();
    await expect.poll(() => admin.getByRole('heading', { name: 'Account Access Control' }).isVisible()).toBe(true);
    expect(await admin.getByLabel('Multi-factor authentication').isChecked()).toBe(false);
    await snap(admin, 'account-access-control');
    await expectAccessible(admin);
  });

  it("finds it by the console's search too", async () => {
    for (const query of ['MFA', 'multi-factor', 'access control']) {
      await admin.goto(`${service.base}/manage/console`);
      await admin.getByLabel('Search settings').fill(query);
      await admin.getByLabel('Search settings').press('Enter');
      await expect.poll(() => admin.getByRole('heading', { name: /Results for/ }).isVisible()).toBe(true);
      expect(await admin.getByRole('link', { name: 'Account Access Control' }).count()).toBeGreaterThan(0);
    }
    await snap(admin, 'console-search');
    await expectAccessible(admin);
    await admin.getByRole('link', { name: 'Account Access Control' }).first().click();
    await expect.poll(() => admin.getByRole('heading', { name: 'Account Access Control' }).isVisible()).toBe(true);
  });

  it('switches MFA on; the admin is taken straight to set-up and enrols with the phone', async () => {
    await admin.getByLabel('Multi-factor authentication').check();
    await admin.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => admin.url()).toBe(`${service.base}/login/mfa`);
    const uri = await scanQrOnScreen(admin);
    aliceSecret = secretOf(uri);
    await enterCode(admin, phoneCode(aliceSecret));
    await expect.poll(() => admin.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
    await admin.getByRole('link', { name: 'Continue' }).click();
    await expect.poll(() => admin.url()).toBe(`${service.base}/`);
  });

  it("an agent's first sign-in shows the QR code and key, stable on reload; the code signs in; recovery codes show once", async () => {
    const bob = await newPage();
    bobSession = bob.context();
    await signInWithPassword(bob, service.base, accountId, 'bob');
    await expect.poll(() => bob.getByRole('heading', { name: 'Set up multi-factor authentication' }).isVisible()).toBe(true);
    await snap(bob, 'set-up');
    await expectAccessible(bob);
    const uri = await scanQrOnScreen(bob);
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(decodeURIComponent(url.pathname)).toBe('/Acme Support:bob');
    expect(url.searchParams.get('issuer')).toBe('Acme Support');
    expect([url.searchParams.get('algorithm'), url.searchParams.get('digits'), url.searchParams.get('period')]).toEqual(['SHA1', '6', '30']);
    bobSecret = secretOf(uri);
    await bob.getByText('Can’t scan it? Enter the key by hand').click();
    expect((await bob.getByLabel('Setup key').textContent())?.replaceAll(' ', '')).toBe(bobSecret);

    await bob.reload();
    expect(secretOf(await scanQrOnScreen(bob))).toBe(bobSecret);

    const code = phoneCode(bobSecret);
    await enterCode(bob, `${code.slice(0, 3)} ${code.slice(3)}`);
    await expect.poll(() => bob.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
    await snap(bob, 'recovery-codes');
    await expectAccessible(bob);
    recoveryCodes = ((await bob.getByLabel('Recovery codes', { exact: true }).inputValue()) ?? '').split('\n');
    expect(recoveryCodes).toHaveLength(10);
    await bob.getByRole('link', { name: 'Continue' }).click();
    await expect.poll(() => bob.getByRole('heading', { name: 'Welcome, bob' }).isVisible()).toBe(true);
    // Shown once: nothing serves them again.
    await bob.goto(`${service.base}/login/mfa`);
    expect(await bob.getByText(recoveryCodes[0] as string).count()).toBe(0);
  });

  it('a later sign-in asks only for the code', async () => {
    const bob = await newPage();
    await signInWithPassword(bob, service.base, accountId, 'bob');
    await expect.poll(() => bob.getByRole('heading', { name: 'Verify your identity' }).isVisible()).toBe(true);
    expect(await bob.locator('img').count()).toBe(0);
    await snap(bob, 'verify');
    await expectAccessible(bob);
    // The enrolment used this step: the phone's next code (one step ahead is accepted).
    await enterCode(bob, phoneCode(bobSecret, 1));
    await expect.poll(() => bob.getByRole('heading', { name: 'Welcome, bob' }).isVisible()).toBe(true);
  });

  it('a recovery code signs in once, and not twice', async () => {
    const bob = await newPage();
    await signInWithPassword(bob, service.base, accountId, 'bob');
    await bob.getByRole('link', { name: 'Use a recovery code instead' }).click();
    await bob.getByLabel('Recovery code').fill(recoveryCodes[0] as string);
    await bob.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => bob.getByRole('heading', { name: 'Welcome, bob' }).isVisible()).toBe(true);

    const again = await newPage();
    await signInWithPassword(again, service.base, accountId, 'bob');
    await again.getByRole('link', { name: 'Use a recovery code instead' }).click();
    await again.getByLabel('Recovery code').fill(recoveryCodes[0] as string);
    await again.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => again.getByRole('alert').textContent()).toContain('didn’t work');
  });

  it('Cancel in the Reset MFA dialog changes nothing', async () => {
    await admin.goto(`${service.base}/`);
    await admin.getByText('Manage', { exact: true }).click();
    await admin.getByRole('link', { name: 'Users & Skills' }).click();
    await snap(admin, 'users-and-skills');
    await expectAccessible(admin);
    await admin.getByRole('link', { name: 'bob', exact: true }).click();
    await expect.poll(() => admin.getByRole('heading', { name: 'Edit user' }).isVisible()).toBe(true);
    await expectAccessible(admin);
    await admin.getByRole('link', { name: 'Reset MFA' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Reset MFA' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await snap(admin, 'reset-mfa-dialog');
    await expectAccessible(admin);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await admin.reload();
    expect(await admin.getByText(/Enrolled since/).count()).toBe(1);
  });

  it("Reset MFA → Delete ends the agent's open session; the next sign-in shows set-up with a new secret", async () => {
    await admin.getByRole('link', { name: 'Reset MFA' }).click();
    await admin.getByRole('dialog', { name: 'Reset MFA' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => admin.getByRole('status').textContent()).toContain('MFA was reset for bob');
    expect(await admin.getByText('Not enrolled').count()).toBe(1);

    const open = bobSession.pages()[0] as Page;
    await open.goto(`${service.base}/`);
    await expect.poll(() => open.url()).toBe(`${service.base}/login`);

    const bob = await newPage();
    await signInWithPassword(bob, service.base, accountId, 'bob');
    await expect.poll(() => bob.getByRole('heading', { name: 'Set up multi-factor authentication' }).isVisible()).toBe(true);
    const fresh = secretOf(await scanQrOnScreen(bob));
    expect(fresh).not.toBe(bobSecret);
    await enterCode(bob, phoneCode(fresh));
    await expect.poll(() => bob.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
  });

  it('without JavaScript, the confirmation page completes the same reset', async () => {
    const page = await newPage(false);
    // Copy the admin's session into the no-JavaScript context.
    await page.context().addCookies(await admin.context().cookies());
    await page.goto(`${service.base}/manage/users`);
    await page.getByRole('link', { name: 'bob', exact: true }).click();
    await page.getByRole('link', { name: 'Reset MFA' }).click();
    await expect.poll(() => page.url()).toMatch(/\/manage\/users\/[0-9a-f]{32}\/reset-mfa$/);
    await expect.poll(() => page.getByRole('heading', { name: 'Reset MFA' }).isVisible()).toBe(true);
    await snap(page, 'reset-mfa-confirmation');
    // axe runs as a script: check the same page in the admin's JavaScript context.
    await admin.goto(page.url());
    await expectAccessible(admin);
    await page.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('MFA was reset for bob');
    expect(await page.getByText('Not enrolled').count()).toBe(1);
  });

  it('completes sign-in with the keyboard alone', async () => {
    const page = await newPage();
    await page.goto(`${service.base}/login`);
    // Tab from the top of the page: skip link, brand, then the first field.
    const focused = () => page.evaluate(() => document.activeElement?.id ?? '');
    for (let i = 0; i < 5 && (await focused()) !== 'accountId'; i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe('accountId');
    await page.keyboard.type(accountId);
    await page.keyboard.press('Tab');
    await page.keyboard.type('mia');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { name: 'Set up multi-factor authentication' }).isVisible()).toBe(true);
    const secret = secretOf(await scanQrOnScreen(page));
    await page.getByLabel('Authentication code').focus();
    await page.keyboard.type(phoneCode(secret));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { name: 'Save your recovery codes' }).isVisible()).toBe(true);
  });

  it('resets MFA with the keyboard alone: the dialog opens, Delete is reachable, Escape cancels', async () => {
    await admin.goto(`${service.base}/manage/users`);
    const href = await admin.getByRole('link', { name: 'mia', exact: true }).getAttribute('href');
    await admin.goto(`${service.base}${href}`);
    await admin.getByRole('link', { name: 'Reset MFA' }).focus();
    await admin.keyboard.press('Enter');
    const dialog = admin.getByRole('dialog', { name: 'Reset MFA' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await admin.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(await admin.getByText(/Enrolled since/).count()).toBe(1);

    await admin.getByRole('link', { name: 'Reset MFA' }).focus();
    await admin.keyboard.press('Enter');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // The dialog takes focus; Tab moves through its controls to Delete.
    const focusedText = () => admin.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    for (let i = 0; i < 6 && (await focusedText()) !== 'Delete'; i++) await admin.keyboard.press('Tab');
    expect(await focusedText()).toBe('Delete');
    await admin.keyboard.press('Enter');
    await expect.poll(() => admin.getByRole('status').textContent()).toContain('MFA was reset for mia');
  });

  it('the admin sees where they are signed in and signs out the other browser', async () => {
    const other = await newPage();
    await signInWithPassword(other, service.base, accountId, 'alice');
    // The enrolment used an earlier step; the phone's next code is new and accepted.
    await enterCode(other, phoneCode(aliceSecret, 1));
    await expect.poll(() => other.url()).toBe(`${service.base}/`);

    await admin.goto(`${service.base}/`);
    await admin.getByRole('link', { name: 'Your sessions' }).click();
    await expect.poll(() => admin.getByRole('heading', { name: 'Your sessions' }).isVisible()).toBe(true);
    expect(await admin.getByRole('cell', { name: 'This session' }).count()).toBe(1);
    expect(await admin.getByRole('cell', { name: 'Chrome on Linux' }).count()).toBeGreaterThanOrEqual(2);
    await snap(admin, 'your-sessions');
    await expectAccessible(admin);
    await admin.getByRole('button', { name: 'Sign out of all other sessions' }).click();
    await expect.poll(() => admin.getByRole('status').textContent()).toContain('Every other session is signed out.');
    expect(await admin.getByRole('cell', { name: 'This session' }).count()).toBe(1);
    expect(await admin.getByRole('button', { name: /^Sign out the session of/ }).count()).toBe(0);

    await other.goto(`${service.base}/`);
    await expect.poll(() => other.url()).toBe(`${service.base}/login`);
    await admin.goto(`${service.base}/`);
    await expect.poll(() => admin.url()).toBe(`${service.base}/`);
  });
});
