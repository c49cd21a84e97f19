import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, enterCode, launchBrowser, phoneCode, scanQrOnScreen, secretOf, signInWithPassword, snap, startService } from './support.ts';
import type { Browser, Page, Service } from './support.ts';

// Issue 15 as an admin and an agent do it: the admin adds an agent with an
// initial password; the agent signs in, sets up MFA, must choose their own
// password; later the admin sends a Reset password link and the agent uses it.

const INITIAL = 'welcome to the team 2026';
const OWN = 'kim chose this passphrase';
const RESET = 'kim after the reset link';

describe('passwords an admin sets, in Chromium', () => {
  let service: Service;
  let browser: Browser;
  let accountId = '';
  let admin: Page;
  let kimSecret = '';

  const newPage = async () => (await browser.newContext({ viewport: { width: 1100, height: 850 } })).newPage();

  beforeAll(async () => {
    service = await startService();
    accountId = (JSON.parse(await service.cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    browser = await launchBrowser();
    admin = await newPage();
    await signInWithPassword(admin, service.base, accountId, 'alice');
    await admin.goto(`${service.base}/manage/console/account-access-control`);
    await admin.getByLabel('Multi-factor authentication').check();
    await admin.getByRole('button', { name: 'Save', exact: true }).click();
    await enterCode(admin, phoneCode(secretOf(await scanQrOnScreen(admin))));
    await admin.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('an admin adds an agent, who sets up MFA and must then choose their own password', async () => {
    await admin.goto(`${service.base}/manage/users`);
    await admin.getByLabel('Username', { exact: true }).fill('kim');
    await admin.getByLabel('Initial password').fill(INITIAL);
    await Promise.all([admin.waitForNavigation({ waitUntil: 'load' }), admin.getByRole('button', { name: 'Add user' }).click()]);
    await admin.getByText('User kim was created.').waitFor();

    const kim = await newPage();
    await signInWithPassword(kim, service.base, accountId, 'kim', INITIAL);
    await kim.getByRole('heading', { name: 'Set up multi-factor authentication' }).waitFor();
    kimSecret = secretOf(await scanQrOnScreen(kim));
    await enterCode(kim, phoneCode(kimSecret));
    await kim.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await kim.getByRole('link', { name: 'Continue' }).click();
    await kim.getByRole('heading', { name: 'Change password' }).waitFor();
    await kim.getByText('Your password was set by an administrator.').waitFor();
    // Nothing else before it: home sends kim back.
    await kim.goto(`${service.base}/`);
    await kim.getByRole('heading', { name: 'Change password' }).waitFor();
    await snap(kim, 'initial-password-change');
    await kim.getByLabel('Current password').fill(INITIAL);
    await kim.getByLabel('New password', { exact: true }).fill(OWN);
    await kim.getByLabel('Confirm new password').fill(OWN);
    await Promise.all([kim.waitForNavigation({ waitUntil: 'load' }), kim.getByRole('button', { name: 'Change password' }).click()]);
    await expect.poll(() => kim.getByRole('heading', { name: 'Welcome, kim' }).isVisible()).toBe(true);
    await kim.context().close();
  });

  it('the admin sends a Reset password link, and the agent sets a new password with it, once', async () => {
    await admin.goto(`${service.base}/manage/users`);
    await admin.getByRole('link', { name: 'kim', exact: true }).click();
    await admin.getByRole('heading', { name: 'Edit user' }).waitFor();
    await Promise.all([admin.waitForNavigation({ waitUntil: 'load' }), admin.getByRole('button', { name: 'Reset password' }).click()]);
    await admin.getByRole('heading', { name: 'Reset password link' }).waitFor();
    await snap(admin, 'reset-password-link');
    const link = await admin.getByLabel('Link for kim').inputValue();
    expect(link).toMatch(new RegExp(`^${service.base}/password/reset/[A-Za-z0-9_-]{43}$`));

    const kim = await newPage();
    await kim.goto(link);
    await kim.getByRole('heading', { name: 'Set a new password' }).waitFor();
    await kim.getByLabel('New password', { exact: true }).fill(RESET);
    await kim.getByLabel('Confirm new password').fill(RESET);
    await Promise.all([kim.waitForNavigation({ waitUntil: 'load' }), kim.getByRole('button', { name: 'Set password' }).click()]);
    await kim.getByRole('heading', { name: 'Password set' }).waitFor();

    // Once only.
    await kim.goto(link);
    await kim.getByRole('heading', { name: 'Link no longer valid' }).waitFor();

    // The new password signs in, with the second factor as before; the old one does not.
    await signInWithPassword(kim, service.base, accountId, 'kim', OWN);
    await kim.getByText('Incorrect account number, username or password').waitFor();
    await signInWithPassword(kim, service.base, accountId, 'kim', RESET);
    await kim.getByLabel('Authentication code').waitFor();
    await enterCode(kim, phoneCode(kimSecret, 1));
    await expect.poll(() => kim.getByRole('heading', { name: 'Welcome, kim' }).isVisible()).toBe(true);
  });
});
