// 400 is the answer to a NUL character anywhere in a form (refused before any handler runs).
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PASSWORD } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { CaseCounter, clientIp, expectPage, formOf, hostileCode, hostileEntries, hostileText, hostileValue, invalidName, pct, runs, SEED } from './fuzz-support.ts';
import type { Entries } from './fuzz-support.ts';
import { buildWorld, ORIGIN } from './fuzz-world.ts';
import { checkFactorName } from '../../src/services/own-factors.ts';
import type { Caller, World } from './fuzz-world.ts';

// Hostile input at every form: anonymous, as a signed-in admin with a valid
// CSRF token (so the input reaches the handler), and as a pending sign-in.
// Every answer is a page or a redirect, never a 5xx or a stack; a refused
// form writes nothing: accounts, users, skills and authenticators stay as
// they were, no full session is made or ended. Throttle counts and failure
// audit events do change, by design.

const sizes = { sqlite: 1, postgres: 0.1 };

for (const kind of await storeKinds()) {
  // Hundreds of cases a property (thousands of rows for the search): the default 30 s is too tight a
  // bound on a busy two-core machine (a CI run beside other work took 30 s for one).
  describe(`hostile input at the forms (${kind}, seed ${SEED})`, { timeout: 120_000 }, () => {
    let w: World;
    let before: { state: string; sessions: string };
    const counter = new CaseCounter();
    const n = (count: number) => runs(count * sizes[kind]);

    beforeAll(async () => {
      w = await buildWorld(kind);
    });
    // Each property starts from what is there now, so one failure does not cascade into the next.
    beforeEach(async () => {
      before = { state: await w.protectedState(), sessions: await w.fullSessions() };
    });
    afterAll(async () => {
      await w?.close();
    });

    async function post(url: string, caller: Caller, entries: Entries, ip: string, csrf: string | null = caller.csrf) {
      const body = formOf(csrf === null ? entries : [['_csrf', csrf], ...entries]);
      return w.inject({ method: 'POST', url, ip, caller, headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, payload: body });
    }

    async function expectNothingWritten(label: string) {
      expect(await w.protectedState(), `${label}: protected rows changed`).toBe(before.state);
      expect(await w.fullSessions(), `${label}: full sessions changed`).toBe(before.sessions);
    }

    const anyCaller = () => fc.constantFrom<'anonymous' | 'admin' | 'stepUpAdmin' | 'pending'>('anonymous', 'admin', 'stepUpAdmin', 'pending');
    const callerNamed = async (name: 'anonymous' | 'admin' | 'stepUpAdmin' | 'pending') => (name === 'pending' ? w.pending() : w[name]);
    const wrongPassword = hostileText.filter((p) => p !== PASSWORD);

    it('POST /login refuses hostile credentials with a page and signs no one in', async () => {
      const entries = hostileEntries(
        {},
        [],
      ).chain((extra) =>
        fc
          .record({
            accountId: fc.option(fc.oneof(fc.constant(w.acme.accountId), fc.constant(` ${w.acme.accountId} `), hostileValue), { nil: undefined }),
            username: fc.option(fc.oneof(fc.constantFrom('alice', 'ALICE', 'ａｌｉｃｅ', 'al\u200bice', '\u202ealice', 'a\u0301lice', 'bob'), hostileValue), { nil: undefined }),
            password: fc.option(fc.oneof(wrongPassword, hostileValue.filter((p) => p !== PASSWORD)), { nil: undefined }),
          })
          .map((r) => [...Object.entries(r).filter(([, v]) => v !== undefined), ...extra] as Entries),
      );
      await fc.assert(
        fc.asyncProperty(counter.count(fc.record({ entries, ip: clientIp })), async ({ entries, ip }) => {
          const res = await post('/login', w.anonymous, entries, ip);
          expectPage(res, 'POST /login', [400, 401, 403, 413, 429]);
          expect(res.cookies.some((c) => c.name === 'portcullis')).toBe(false);
          await expectNothingWritten('POST /login');
        }),
        n(1200),
      );
    });

    it('POST /logout with a forged or missing CSRF token leaves the admin signed in', async () => {
      const forged = fc.oneof(hostileText.filter((s) => s !== w.admin.csrf), fc.constant(w.anonymous.csrf), fc.constant(w.stepUpAdmin.csrf));
      const arb = fc.record({ entries: hostileEntries({}, ['_csrf']), csrf: fc.option(forged, { nil: null }), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ entries, csrf, ip }) => {
          const res = await post('/logout', w.admin, entries, ip, csrf);
          expectPage(res, 'POST /logout', [400, 403, 413]);
          await expectNothingWritten('POST /logout');
        }),
        n(400),
      );
    });

    it('POST /login/mfa refuses hostile codes from pending, anonymous and signed-in callers', async () => {
      const arb = fc.record({ who: anyCaller(), entries: hostileEntries({ code: fc.oneof(hostileCode, hostileValue) }, []), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, entries, ip }) => {
          const caller = await callerNamed(who);
          const res = await post('/login/mfa', caller, entries, ip);
          expectPage(res, `POST /login/mfa as ${who}`, who === 'pending' ? [303, 400, 401, 403, 413, 429] : [303, 400, 413]);
          if (who === 'pending') await w.settlePending(caller, res);
          await expectNothingWritten('POST /login/mfa');
        }),
        n(900),
      );
    });

    it('POST /manage/console/account-access-control changes nothing unless asked exactly to switch MFA on', async () => {
      const notOn = hostileValue.filter((v) => v !== 'on');
      const arb = fc.record({ who: fc.constantFrom<'anonymous' | 'admin'>('anonymous', 'admin'), entries: hostileEntries({ mfaEnabled: notOn }, []), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, entries, ip }) => {
          const res = await post('/manage/console/account-access-control', w[who], entries, ip);
          // The admin's form is valid with any value: MFA stays off, and the page says so.
          expectPage(res, 'POST account-access-control', who === 'admin' ? [303, 400, 403, 413] : [400, 401, 403, 413]);
          await expectNothingWritten('POST account-access-control');
        }),
        n(400),
      );
    });

    it('POST /manage/users refuses a hostile new user and creates none', async () => {
      const arb = fc.record({
        entries: hostileEntries({ role: fc.oneof(invalidName, hostileValue.filter((v) => !['admin', 'agent', 'agent-manager'].includes(v as string))) }, [
          'username',
          'password',
          'email',
          'skills',
        ]),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ entries, ip }) => {
          expectPage(await post('/manage/users', w.admin, entries, ip), 'POST /manage/users', [400, 403, 413]);
          await expectNothingWritten('POST /manage/users');
        }),
        n(800),
      );
    });

    it('POST /manage/skills refuses invalid and duplicate skill names', async () => {
      const name = fc.oneof(invalidName, fc.constantFrom('Billing', 'billing', ' BILLING ', 'Ｂｉｌｌｉｎｇ', 'Billing\t'));
      const arb = fc.record({ entries: hostileEntries({ name }, []), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ entries, ip }) => {
          expectPage(await post('/manage/skills', w.admin, entries, ip), 'POST /manage/skills', [400, 403, 413]);
          await expectNothingWritten('POST /manage/skills');
        }),
        n(500),
      );
    });

    const targetId = () =>
      fc.oneof(
        fc.constantFrom(w.acme.agentId, w.acme.managerId, w.acme.adminId, w.pendingCo.agentId, w.pendingCo.adminId),
        fc.stringMatching(/^[0-9a-f]{32}$/),
        // Malformed and over-long paths have their own test (hostile-transport).
        hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100),
      );

    it('POST /manage/users/:id refuses a hostile edit and changes no user', async () => {
      const state = fc.oneof(invalidName, hostileValue.filter((v) => v !== 'active' && v !== 'disabled'));
      const arb = fc.record({ id: targetId(), entries: hostileEntries({ state }, ['role', 'email', 'skills']), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ id, entries, ip }) => {
          expectPage(await post(`/manage/users/${id}`, w.admin, entries, ip), 'POST /manage/users/:id', [400, 403, 404, 413]);
          await expectNothingWritten('POST /manage/users/:id');
        }),
        n(800),
      );
    });

    it('POST /manage/users/:id/reset-mfa refuses wrong step-up codes and unknown users', async () => {
      const arb = fc.record({
        who: fc.constantFrom<'admin' | 'stepUpAdmin'>('admin', 'stepUpAdmin'),
        known: fc.constantFrom(w.pendingCo.agentId, w.pendingCo.adminId, w.pendingCo.managerId),
        id: targetId(),
        entries: hostileEntries({ code: fc.oneof(hostileCode, hostileValue), confirm: fc.oneof(fc.constant('1'), hostileValue) }, []),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, known, id, entries, ip }) => {
          // Acme's admin has no second factor, so a reset there needs none: it only meets users it cannot see.
          const target = who === 'stepUpAdmin' ? known : [w.acme.agentId, w.acme.managerId, w.acme.adminId].includes(id) ? w.pendingCo.agentId : id;
          const res = await post(`/manage/users/${target}/reset-mfa`, w[who], entries, ip);
          expectPage(res, `POST reset-mfa as ${who}`, who === 'stepUpAdmin' ? [200, 400, 401, 403, 413, 429] : [400, 403, 404, 413]);
          if (res.statusCode === 429) await w.liftCodeLocks();
          await expectNothingWritten('POST reset-mfa');
        }),
        n(700),
      );
    });

    it('POST /manage/users/:id/reset-password refuses wrong step-up codes and unknown users, issuing no link', async () => {
      const arb = fc.record({
        who: fc.constantFrom<'admin' | 'stepUpAdmin'>('admin', 'stepUpAdmin'),
        known: fc.constantFrom(w.pendingCo.agentId, w.pendingCo.adminId, w.pendingCo.managerId),
        id: targetId(),
        entries: hostileEntries({ code: fc.oneof(hostileCode, hostileValue), confirm: fc.oneof(fc.constant('1'), hostileValue) }, []),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, known, id, entries, ip }) => {
          // As for Reset MFA: Acme's admin needs no step-up, so it only meets users it cannot see.
          const target = who === 'stepUpAdmin' ? known : [w.acme.agentId, w.acme.managerId, w.acme.adminId].includes(id) ? w.pendingCo.agentId : id;
          const res = await post(`/manage/users/${target}/reset-password`, w[who], entries, ip);
          expectPage(res, `POST reset-password as ${who}`, who === 'stepUpAdmin' ? [200, 400, 401, 403, 413, 429] : [400, 403, 404, 413]);
          if (res.statusCode === 429) await w.liftCodeLocks();
          await expectNothingWritten('POST reset-password');
        }),
        n(500),
      );
    });

    it('POST /password/reset/:token with no live link changes nothing, whatever the token and passwords', async () => {
      const token = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100));
      const arb = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin'>('anonymous', 'admin'),
        token,
        entries: hostileEntries({}, ['newPassword', 'confirmation']),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, token, entries, ip }) => {
          const res = await post(`/password/reset/${token}`, w[who], entries, ip);
          expectPage(res, 'POST /password/reset/:token', [400, 403, 404, 413]);
          await expectNothingWritten('POST /password/reset/:token');
        }),
        n(400),
      );
    });

    // Applications (issue 13): redirect URIs that are never acceptable keep every form invalid.
    const badUriLines = fc.oneof(
      fc.constant(''),
      hostileText.filter((s) => !/https?:/i.test(s)),
      fc.constantFrom('http://example.com/cb', 'https://ok.example.com/cb#frag', 'javascript:alert(1)', 'https://user:pw@example.com/cb', Array.from({ length: 11 }, (_, i) => `https://ok.example.com/cb${i}`).join('\n')),
    );

    it('POST /manage/console/applications refuses a hostile registration and registers none', async () => {
      const arb = fc.record({ entries: hostileEntries({ redirectUris: badUriLines }, ['appName', 'postLogoutRedirectUris', 'backchannelLogoutUri', 'launchUrl', 'public']), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ entries, ip }) => {
          expectPage(await post('/manage/console/applications', w.admin, entries, ip), 'POST /manage/console/applications', [400, 403, 413]);
          await expectNothingWritten('POST /manage/console/applications');
        }),
        n(500),
      );
    });

    it('POST /manage/console/applications/:id (and /delete, /rotate-secret) refuses hostile edits and unknown ids, changing nothing', async () => {
      const ids = fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100));
      const arb = fc.record({ id: ids, entries: hostileEntries({ redirectUris: badUriLines }, ['appName', 'launchUrl']), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ id, entries, ip }) => {
          for (const suffix of ['', '/delete', '/rotate-secret']) {
            expectPage(await post(`/manage/console/applications/${id}${suffix}`, w.admin, entries, ip), `POST /manage/console/applications/:id${suffix}`, [400, 403, 404, 413]);
          }
          await expectNothingWritten('POST /manage/console/applications/:id');
        }),
        n(300),
      );
    });

    it('Your security’s forms refuse hostile names, codes, ids and key answers, changing no factor or recovery code', async () => {
      // Pending Co's alice holds one authenticator app (MFA on: it is her last factor); Acme's alice holds none (MFA off).
      const [own] = await w.t.deps.store.factors.forUser(w.pendingCo.accountId, w.pendingCo.adminId);
      expect(own).toBeDefined();
      const anyId = fc.oneof(fc.constant(own!.id), fc.stringMatching(/^[0-9a-f]{32}$/), hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100));
      const badName = fc.oneof(hostileText.filter((v) => !checkFactorName(v).ok), fc.constantFrom('', '   ', 'x'.repeat(65), 'a\u202eb', 'a\u0007b'));
      const code = fc.oneof(hostileCode, hostileValue);
      const arb = fc.record({
        who: anyCaller(),
        id: anyId,
        rename: hostileEntries({ name: badName }, []),
        remove: hostileEntries({ code, confirm: fc.oneof(fc.constant('1'), hostileValue) }, []),
        recovery: hostileEntries({ code, confirm: fc.oneof(fc.constant('1'), hostileValue) }, []),
        confirm: hostileEntries({ code }, ['name']),
        key: hostileEntries({ credential: fc.oneof(hostileText, hostileValue) }, ['code', 'name']),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, id, rename, remove, recovery, confirm, key, ip }) => {
          const caller = await callerNamed(who);
          const signedIn = who === 'admin' || who === 'stepUpAdmin';
          // Anyone not signed in is refused before the form is read; a hostile extra _csrf field is the CSRF refusal (403).
          const refusedCaller = [401, 403];
          expectPage(await post(`/account/security/factors/${id}/rename`, caller, rename, ip), `rename as ${who}`, signedIn ? [400, 403, 404, 413] : refusedCaller);
          expectPage(await post(`/account/security/factors/${id}/remove`, caller, remove, ip), `remove as ${who}`, signedIn ? [400, 403, 404, 409, 413] : refusedCaller);
          const made = await post('/account/security/recovery-codes', caller, recovery, ip);
          // Pending Co's alice is asked for a code (200 when none reads as one) and every one here is wrong; Acme's alice holds no factor (409).
          expectPage(made, `recovery codes as ${who}`, who === 'stepUpAdmin' ? [200, 400, 401, 403, 413, 429] : who === 'admin' ? [400, 403, 409, 413] : refusedCaller);
          if (made.statusCode === 429) await w.liftCodeLocks();
          // Nothing is being added in these sessions: back to Your security (303), or the name refused first (400).
          expectPage(await post('/account/security/authenticator/confirm', caller, confirm, ip), `confirm as ${who}`, signedIn ? [303, 400, 403, 413] : refusedCaller);
          expectPage(await post('/account/security/security-key', caller, key, ip), `security key as ${who}`, signedIn ? [400, 403, 413] : refusedCaller);
          await expectNothingWritten('Your security');
        }),
        n(300),
      );
    });

    it('still serves: /healthz answers and the admin and a fresh sign-in still work', async () => {
      const health = await w.inject({ method: 'GET', url: '/healthz', ip: '10.250.0.1' });
      expect(health.statusCode).toBe(200);
      expect((await w.inject({ method: 'GET', url: '/manage/users', ip: '10.250.0.1', caller: w.admin })).statusCode).toBe(200);
      const login = await w.inject({
        method: 'POST',
        url: '/api/v1/login',
        ip: '10.250.0.2',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ accountId: w.acme.accountId, username: 'mia', password: PASSWORD }),
      });
      expect(login.json()).toEqual({ state: 'authenticated' });
      process.stdout.write(`hostile forms (${kind}): ${counter.total} cases, seed ${SEED}\n`);
    });
  });
}
