import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { visibleText } from '../../src/domain/visible-text.ts';
import { tableRows } from '../admin/admin-support.ts';
import { addressSource, apiPost, throttleRows } from './http-support.ts';

// Issue 16, finding 6: anyone who knows an account number writes into its
// audit log (a failed sign-in stores the typed username). Every form field is
// bounded at the door as the API bounds it, and the audit page shows what was
// typed without letting it pass for a user or an entry.

for (const kind of await storeKinds()) {
  describe(`typed names at the door and in the audit log (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    let admin: TestBrowser;
    const nextIp = addressSource('10.86');

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await seedTenant(t.deps);
      admin = new TestBrowser(t.app, undefined, nextIp());
      expect((await admin.signIn(tenant.accountId, 'alice', PASSWORD)).headers.location).toBe('/');
    });
    afterAll(async () => {
      await t?.close();
    });

    const auditCount = async () => (await t.deps.store.audit.list(tenant.accountId, { limit: 1000, offset: 0 })).length;

    it('refuses a 60,000-character username on the sign-in form, as the API does, and stores nothing', async () => {
      const audit = await auditCount();
      const throttles = await throttleRows(t);
      const browser = new TestBrowser(t.app, undefined, nextIp());
      const form = await browser.signIn(tenant.accountId, 'x'.repeat(60_000), 'some password');
      expect(form.statusCode).toBe(400);
      expect(form.body).toContain('at most 256 characters');
      const api = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: 'x'.repeat(60_000), password: 'p' }, { ip: nextIp() });
      expect(api.statusCode).toBe(400);
      const longPassword = await browser.signIn(tenant.accountId, 'bob', 'p'.repeat(1025));
      expect(longPassword.statusCode).toBe(400);
      expect(await auditCount()).toBe(audit);
      expect(await throttleRows(t)).toEqual(throttles);
      // The bound is the API's: 256 characters still reach the service.
      expect((await browser.signIn(tenant.accountId, 'y'.repeat(256), 'some password')).statusCode).toBe(401);
    });

    it('bounds the other forms too: an over-long current password is refused before it is checked', async () => {
      const audit = await auditCount();
      await admin.get('/account/password');
      const res = await admin.post('/account/password', { currentPassword: 'p'.repeat(1025), newPassword: 'n'.repeat(20), confirmation: 'n'.repeat(20) });
      expect(res.statusCode).toBe(400);
      expect(await auditCount()).toBe(audit);
    });

    it('shows a typed username as typed, marked as an unknown user, with line breaks and bidi controls visible', async () => {
      const typed = 'mallory (admin) reset MFA for everyone\n2026-12-01 alice \u202Eenoyreve\u202C\u2066x\u2069\u200B\u0007';
      const res = await apiPost(t.app, '/api/v1/login', { accountId: tenant.accountId, username: typed, password: 'nope' }, { ip: nextIp() });
      expect(res.statusCode, res.body).toBe(401);
      const page = await admin.get('/manage/audit?action=sign_in.password');
      expect(page.statusCode).toBe(200);
      for (const c of ['\u202E', '\u202C', '\u2066', '\u2069', '\u200B', '\u0007']) expect(page.body).not.toContain(c);
      const rows = tableRows(page.body).filter((cells) => cells.length === 7);
      const row = rows.find((cells) => cells[1]?.includes('mallory'));
      const shown = 'mallory (admin) reset MFA for everyone⟨U+000A⟩2026-12-01 alice ⟨U+202E⟩enoyreve⟨U+202C⟩⟨U+2066⟩x⟨U+2069⟩⟨U+200B⟩⟨U+0007⟩';
      expect(row?.[1]).toBe(`unknown user “${shown}”`);
      expect(row?.[3]).toBe(`unknown user “${shown}”`);
      // A known user is shown by name, unmarked.
      expect(rows.some((cells) => cells[1] === 'alice')).toBe(true);
    });

    it('makes visible only what hides or moves text: letters of any script are kept', () => {
      expect(visibleText('Zoë 山田 שלום')).toBe('Zoë 山田 שלום');
      expect(visibleText('a\tb\r\nc\u0085d\u2028e\u00ADf\uFEFF')).toBe('a⟨U+0009⟩b⟨U+000D⟩⟨U+000A⟩c⟨U+0085⟩d⟨U+2028⟩e⟨U+00AD⟩f⟨U+FEFF⟩');
    });
  });
}
