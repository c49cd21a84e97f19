import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, launchBrowser, signInWithPassword, startService, writeCsv } from './support.ts';
import type { Browser, BrowserContext, Page, Service } from './support.ts';

// Issue 15: a supervisor on a phone. Every admin page fits a 390-pixel-wide
// screen without scrolling sideways; tables become rows there.

describe('admin pages on a 390-pixel phone in Chromium', () => {
  let service: Service;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let accountId = '';

  beforeAll(async () => {
    service = await startService();
    accountId = (JSON.parse(await service.cli(['account', 'create', '--name', 'Acme Support', '--admin', 'alice'], `${PASSWORD}\n`)) as { accountId: string }).accountId;
    const rows = ['username,role,password,skills', `bob,agent,${PASSWORD},Billing;Sales;Returns;Complaints`];
    for (let i = 0; i < 8; i++) rows.push(`agent-with-a-rather-long-name-${i},agent-manager,${PASSWORD},Technical support;Escalations`);
    await service.cli(['user', 'import', '--account', accountId, writeCsv(service.dir, 'users.csv', rows)]);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    page = await context.newPage();
    await signInWithPassword(page, service.base, accountId, 'alice');
    await page.waitForURL(`${service.base}/`);
  });
  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await service?.stop();
  });

  it.each([
    ['Users & Skills', '/manage/users'],
    ['Account Access Control', '/manage/console/account-access-control'],
    ['the Audit log', '/manage/audit'],
  ])('%s fits without sideways scrolling', async (_name, path) => {
    await page.goto(`${service.base}${path}`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });

  it('Edit user fits too, and the users table reads as rows', async () => {
    await page.goto(`${service.base}/manage/users`);
    // Each cell says what it is when the header row is hidden.
    const label = await page.locator('tbody td').nth(1).evaluate((td) => getComputedStyle(td, '::before').content);
    expect(label).toContain('Role');
    await page.getByRole('link', { name: 'bob' }).click();
    await expect.poll(() => page.url()).toMatch(/\/manage\/users\/[^/]+$/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });
});
