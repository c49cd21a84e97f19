import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import { base32Decode } from '../../src/domain/base32.ts';
import { sqlitePath } from '../../src/storage/database.ts';
import { createSecretBox } from '../../src/services/secret-box.ts';
import { systemRandom } from '../../src/runtime.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { TestBrowser, PASSWORD } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
import {
  STEP,
  addUser,
  apiCode,
  apiPending,
  codeNow,
  containsCode,
  enrolByApi,
  mfaTenant,
  pendingBrowser,
  spaced,
  wrongCode, apiRecoveryCode } from './support.ts';

// TOTP secrets are stored only encrypted under PORTCULLIS_SECRET_KEY, and
// neither secrets nor codes reach the logs. We look where an attacker with a
// copy of the database would: the SQLite file and its WAL byte by byte, the
// PostgreSQL rows as text.

/** Every encoding of a secret someone might store: base32 (either case), hex (either case), base64, base64url, raw. */
function encodings(base32: string): { text: string[]; raw: Buffer } {
  const decoded = base32Decode(base32);
  if (!decoded) throw new Error(`not base32: ${base32}`);
  const raw = Buffer.from(decoded);
  expect(raw).toHaveLength(20);
  const hex = raw.toString('hex');
  return {
    text: [base32, base32.toLowerCase(), hex, hex.toUpperCase(), raw.toString('base64'), raw.toString('base64url')],
    raw,
  };
}

function expectNoSecretIn(haystack: Buffer, base32: string, where: string) {
  const { text, raw } = encodings(base32);
  for (const form of text) expect(haystack.includes(Buffer.from(form, 'latin1')), `${form} in ${where}`).toBe(false);
  expect(haystack.includes(raw), `raw secret bytes in ${where}`).toBe(false);
}

for (const kind of await storeKinds()) {
  describe(`TOTP secrets at rest and in logs (${kind})`, () => {
    let t: TestApp;
    let tenant: Tenant;
    /** The enrolled users' secrets, and a secret offered to a pending set-up still open. */
    const secrets: string[] = [];
    const recovery: string[] = [];
    const typed: string[] = [];
    let samSecret = '';

    beforeAll(async () => {
      t = await buildTestApp(kind);
      tenant = await mfaTenant(t);
      await addUser(t, tenant, 'sam');
      await addUser(t, tenant, 'sia');
      await addUser(t, tenant, 'syd');

      // sam enrols on the page, after a wrong code; sia on the API; both use codes and recovery codes.
      const { browser, page } = await pendingBrowser(t, tenant, 'sam');
      samSecret = secretOf(scanQr(page.body));
      const wrong = wrongCode(t, samSecret);
      typed.push(wrong);
      await browser.post('/login/mfa', { code: wrong });
      const enrolCode = codeNow(t, samSecret);
      typed.push(enrolCode);
      const done = await browser.post('/login/mfa', { code: spaced(enrolCode) });
      expect(done.statusCode).toBe(200);
      const sia = await enrolByApi(t, tenant, 'sia');
      secrets.push(samSecret, sia.secret);
      recovery.push(...sia.recoveryCodes);

      t.clock.advance(STEP);
      const code = codeNow(t, sia.secret);
      typed.push(code);
      const pending = await apiPending(t, tenant, 'sia');
      expect((await apiCode(pending.client, code)).statusCode).toBe(200);
      const viaRecovery = await apiPending(t, tenant, 'sia');
      expect((await apiRecoveryCode(viaRecovery.client, sia.recoveryCodes[0]!)).statusCode).toBe(200);
      const badRecovery = await apiPending(t, tenant, 'sia');
      expect((await apiRecoveryCode(badRecovery.client, sia.recoveryCodes[0]!)).statusCode).toBe(401);

      // syd has the set-up page open: the offered secret waits, sealed, on the pending session.
      const syd = await pendingBrowser(t, tenant, 'syd');
      secrets.push(secretOf(scanQr(syd.page.body)));
    });
    afterAll(async () => {
      await t?.close();
    });

    it('keeps no form of any secret in the authenticators, sessions, recovery-code or audit rows', async () => {
      const db = t.db.database.db;
      const rows = {
        authenticators: await db.selectFrom('factors').selectAll().execute(),
        sessions: await db.selectFrom('sessions').selectAll().execute(),
        recovery_codes: await db.selectFrom('recovery_codes').selectAll().execute(),
        audit_events: await db.selectFrom('audit_events').selectAll().execute(),
      };
      expect(rows.authenticators.length).toBe(2);
      expect(rows.sessions.some((s) => s.enrolment_state !== null)).toBe(true);
      const text = Buffer.from(JSON.stringify(rows), 'utf8');
      for (const secret of secrets) expectNoSecretIn(text, secret, 'the tables');
      // What is stored instead: AES-GCM ciphertext (12-byte IV + 20 bytes + 16-byte tag) under the key's id.
      for (const a of rows.authenticators) {
        expect(a.secret_key_id).toBe('test');
        expect(Buffer.from(a.secret_ciphertext ?? '', 'base64url')).toHaveLength(12 + 20 + 16);
      }
    });

    if (kind === 'sqlite') {
      it('keeps no form of any secret or recovery code in the SQLite file or its WAL', async () => {
        const path = sqlitePath(t.db.url);
        const files = [path, `${path}-wal`].filter((f) => existsSync(f));
        expect(files).toContain(path);
        const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
        // We are reading the right bytes: the ciphertexts are there.
        const stored = await t.db.database.db.selectFrom('factors').select('secret_ciphertext').execute();
        for (const row of stored) expect(bytes.includes(Buffer.from(row.secret_ciphertext ?? '', 'latin1'))).toBe(true);
        for (const secret of secrets) expectNoSecretIn(bytes, secret, files.join(' + '));
        for (const code of recovery) {
          for (const form of [code, code.replaceAll('-', '')]) expect(bytes.includes(Buffer.from(form, 'latin1')), form).toBe(false);
        }
      });
    }

    it('logs no secret, no code typed and no recovery code', () => {
      const logs = t.logs.text;
      expect(logs).toContain('second factor refused');
      for (const secret of secrets) expectNoSecretIn(Buffer.from(logs, 'utf8'), secret, 't.logs');
      expect(logs).not.toContain('otpauth://');
      for (const code of typed) {
        expect(containsCode(logs, code), code).toBe(false);
        expect(logs).not.toContain(spaced(code));
      }
      for (const code of recovery) {
        expect(logs).not.toContain(code);
        expect(logs).not.toContain(code.replaceAll('-', ''));
      }
    });

    it('needs the key: an instance with another key on the same store refuses the right code, the right key takes it', async () => {
      const keys = parseKeyRing(`test:${randomBytes(32).toString('base64')}`);
      const other: FastifyInstance = await buildApp({ deps: { ...t.deps, secrets: createSecretBox(keys, systemRandom) }, keys });
      await other.ready();
      try {
        t.clock.advance(STEP);
        const code = codeNow(t, samSecret);
        const browser = new TestBrowser(other);
        expect((await browser.signIn(tenant.accountId, 'sam', PASSWORD)).headers.location).toBe('/login/mfa');
        await browser.get('/login/mfa');
        const refused = await browser.post('/login/mfa', { code });
        expect(refused.statusCode).toBe(401);
        expect((await browser.get('/')).headers.location).toBe('/login/mfa');
        const api = new TestBrowser(other);
        await api.json('POST', '/api/v1/login', { accountId: tenant.accountId, username: 'sam', password: PASSWORD });
        expect((await apiCode(api, code)).statusCode).toBe(401);
        expect(t.logs.text).toContain('TOTP secret does not decrypt');

        // The same code, unspent, works with the right key.
        const right = await apiPending(t, tenant, 'sam');
        expect((await apiCode(right.client, code)).statusCode).toBe(200);
      } finally {
        await other.close();
      }
    });
  });
}
