import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PASSWORD } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { CaseCounter, clientIp, expectApiRefusal, hostileCode, hostileEntries, hostileText, hostileValue, invalidName, jsonOf, pct, runs, SEED } from './fuzz-support.ts';
import type { Entries } from './fuzz-support.ts';
import { buildWorld } from './fuzz-world.ts';
import { checkFactorName } from '../../src/services/own-factors.ts';
import type { Caller, World } from './fuzz-world.ts';

// Hostile JSON at every API call that takes a body: anonymous, as a signed-in
// admin and as a pending sign-in. Every answer is a 4xx with exactly
// {error, message} (retryAfter on a 429), never a 5xx or a stack, and a
// refused call writes nothing an admin could see.

const sizes = { sqlite: 1, postgres: 0.1 };
const ROLES: unknown[] = ['admin', 'agent', 'agent-manager'];

for (const kind of await storeKinds()) {
  // Hundreds of cases a property (thousands of rows for the search): the default 30 s is too tight a
  // bound on a busy two-core machine (a CI run beside other work took 30 s for one).
  describe(`hostile input at the JSON API (${kind}, seed ${SEED})`, { timeout: 120_000 }, () => {
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

    function call(method: string, url: string, caller: Caller | undefined, entries: Entries | string, ip: string) {
      return w.inject({ method, url, ip, ...(caller ? { caller } : {}), headers: { 'content-type': 'application/json' }, payload: typeof entries === 'string' ? entries : jsonOf(entries) });
    }

    async function expectNothingWritten(label: string) {
      expect(await w.protectedState(), `${label}: protected rows changed`).toBe(before.state);
      expect(await w.fullSessions(), `${label}: full sessions changed`).toBe(before.sessions);
    }

    /** A body that is not even an object, sometimes. */
    const orNotAnObject = (entries: fc.Arbitrary<Entries>) =>
      fc.oneof(
        { weight: 6, arbitrary: entries },
        // An empty object is a whole request where every field is optional: leave it out.
        { weight: 1, arbitrary: hostileValue.map((v) => JSON.stringify(v) ?? 'null').filter((text) => text !== '{}') },
      );

    it('POST /api/v1/login refuses hostile credentials and makes no session', async () => {
      const field = (good: unknown[]) => fc.oneof(fc.constantFrom(...good), hostileValue.filter((v) => v !== PASSWORD));
      const entries = hostileEntries({}, []).chain((extra) =>
        fc
          .record({
            accountId: fc.option(field([w.acme.accountId, ` ${w.acme.accountId}`, Number(w.acme.accountId)]), { nil: undefined }),
            username: fc.option(field(['alice', 'ａｌｉｃｅ', 'al\u200bice', '\u202ealice', 'a\u0301lice']), { nil: undefined }),
            password: fc.option(field(['wrong password']), { nil: undefined }),
          })
          .map((r) => [...Object.entries(r).filter(([, v]) => v !== undefined), ...extra] as Entries),
      );
      const arb = fc.record({ body: orNotAnObject(entries), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ body, ip }) => {
          const res = await call('POST', '/api/v1/login', undefined, body, ip);
          expectApiRefusal(res, 'POST /api/v1/login', [400, 401, 429]);
          expect(res.cookies.some((c) => c.name === 'portcullis')).toBe(false);
          await expectNothingWritten('POST /api/v1/login');
        }),
        n(1200),
      );
    });

    it('POST /api/v1/login/mfa refuses hostile codes from pending, anonymous and signed-in callers', async () => {
      const arb = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin' | 'pending'>('anonymous', 'admin', 'pending'),
        body: orNotAnObject(hostileEntries({ code: fc.oneof(hostileCode, hostileValue) }, ['rememberBrowser'])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, body, ip }) => {
          const caller = who === 'pending' ? await w.pending() : w[who];
          const res = await call('POST', '/api/v1/login/mfa', caller, body, ip);
          expectApiRefusal(res, `POST /api/v1/login/mfa as ${who}`, [400, 401, 429]);
          if (who === 'pending') await w.settlePending(caller, res);
          await expectNothingWritten('POST /api/v1/login/mfa');
        }),
        n(900),
      );
    });

    it('POST /api/v1/login/mfa refuses hostile security-key answers, and the options call hostile bodies', async () => {
      // A security key's answer looks like the browser's JSON, with hostile values where its strings go.
      const b64 = fc.oneof(hostileText, fc.base64String({ maxLength: 200 }).map((t) => t.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '')));
      const credential = fc.oneof(
        hostileValue,
        fc.record({ id: b64, rawId: b64, type: fc.oneof(fc.constant('public-key'), hostileText), response: fc.record({ clientDataJSON: b64, authenticatorData: b64, signature: b64 }) }),
      );
      const arb = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin' | 'pending'>('anonymous', 'admin', 'pending'),
        body: orNotAnObject(hostileEntries({ method: fc.constant('webauthn'), credential }, ['code'])),
        options: orNotAnObject(hostileEntries({}, [])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, body, options, ip }) => {
          const caller = who === 'pending' ? await w.pending() : w[who];
          const start = await call('POST', '/api/v1/login/mfa/webauthn/options', caller, options, ip);
          // The world's pending sign-in is still setting up: with a fine body it is offered a key to create.
          if (!(who === 'pending' && start.statusCode === 200)) expectApiRefusal(start, `POST /api/v1/login/mfa/webauthn/options as ${who}`, [400, 401]);
          const res = await call('POST', '/api/v1/login/mfa', caller, body, ip);
          expectApiRefusal(res, `POST /api/v1/login/mfa (webauthn) as ${who}`, [400, 401, 429]);
          if (who === 'pending') await w.settlePending(caller, res);
          await expectNothingWritten('POST /api/v1/login/mfa (webauthn)');
        }),
        n(300),
      );
    });

    it('POST /api/v1/login/passkey refuses hostile passkey answers, and its options call hostile bodies, making no session', async () => {
      const b64 = fc.oneof(hostileText, fc.base64String({ maxLength: 200 }).map((t) => t.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '')));
      const credential = fc.oneof(
        hostileValue,
        fc.record({
          id: b64,
          rawId: b64,
          type: fc.oneof(fc.constant('public-key'), hostileText),
          response: fc.record({ clientDataJSON: b64, authenticatorData: b64, signature: b64, userHandle: b64 }),
        }),
      );
      const arb = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin'>('anonymous', 'admin'),
        options: orNotAnObject(hostileEntries({ accountId: fc.oneof(fc.constant(w.acme.accountId), hostileValue) }, [])),
        body: orNotAnObject(hostileEntries({ credential }, [])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, options, body, ip }) => {
          const caller = w[who];
          const start = await call('POST', '/api/v1/login/passkey/options', caller, options, ip);
          if (start.statusCode !== 200) expectApiRefusal(start, `POST /api/v1/login/passkey/options as ${who}`, [400, 429]);
          // The answer comes with the cookie its challenge is bound to, as from the browser that asked.
          const bound = start.cookies.find((c) => c.name === 'portcullis-passkey');
          const cookie = [caller.cookie, bound ? `${bound.name}=${bound.value}` : ''].filter(Boolean).join('; ');
          const res = await call('POST', '/api/v1/login/passkey', { ...caller, cookie }, body, ip);
          expectApiRefusal(res, `POST /api/v1/login/passkey as ${who}`, [400, 401, 429]);
          expect(res.cookies.some((c) => c.name === 'portcullis' && c.value !== '')).toBe(false);
          await expectNothingWritten('POST /api/v1/login/passkey');
        }),
        n(300),
      );
    });

    it('POST /api/v1/logout refuses a body that is not JSON and keeps the admin signed in', async () => {
      const notJson = fc.oneof(
        hostileText.filter((s) => s.trim() !== '' && !isJson(s)),
        fc.constantFrom('{', '{"a":', '[1,]', "{'a':1}", '{"a":1}}', 'nul', '\u0000'),
      );
      const arb = fc.record({ body: notJson, type: fc.constantFrom('application/json', 'text/plain', 'application/xml', 'application/x-www-form-urlencoded'), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ body, type, ip }) => {
          const res = await w.inject({ method: 'POST', url: '/api/v1/logout', ip, caller: w.admin, headers: { 'content-type': type }, payload: body });
          expectApiRefusal(res, 'POST /api/v1/logout', [400, 415]);
          await expectNothingWritten('POST /api/v1/logout');
        }),
        n(500),
      );
    });

    it('PUT /api/v1/account/settings refuses anything but {mfaEnabled: boolean}', async () => {
      const arb = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin' | 'pending'>('anonymous', 'admin', 'admin', 'pending'),
        body: orNotAnObject(hostileEntries({ mfaEnabled: hostileValue.filter((v) => typeof v !== 'boolean') }, [])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, body, ip }) => {
          const caller = who === 'pending' ? await w.pending() : w[who];
          const res = await call('PUT', '/api/v1/account/settings', caller, body, ip);
          expectApiRefusal(res, `PUT /api/v1/account/settings as ${who}`, [400, 401, 403]);
          await expectNothingWritten('PUT /api/v1/account/settings');
        }),
        n(500),
      );
    });

    it('PUT /api/v1/account/access-rules/network and /policy refuse hostile ranges and out-of-bounds policies', async () => {
      const range = fc.oneof(hostileValue, fc.record({ cidr: fc.oneof(hostileText, hostileValue), label: fc.oneof(hostileText, hostileValue) }));
      const network = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin' | 'pending'>('anonymous', 'admin', 'admin', 'pending'),
        // An empty list is valid (it clears the ranges), so never a hostile value.
        body: orNotAnObject(hostileEntries({ ranges: fc.oneof(hostileValue.filter((v) => !(Array.isArray(v) && v.length === 0)), fc.array(range, { minLength: 1, maxLength: 4 })), appliesTo: fc.oneof(fc.constantFrom('everyone', 'everyone_but_admins'), hostileValue) }, [])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(network), async ({ who, body, ip }) => {
          const caller = who === 'pending' ? await w.pending() : w[who];
          const res = await call('PUT', '/api/v1/account/access-rules/network', caller, body, ip);
          // A valid list of ranges that leaves the caller out is asked about (409), never saved.
          expectApiRefusal(res, `PUT network as ${who}`, [400, 401, 403, 409]);
          await expectNothingWritten('PUT /api/v1/account/access-rules/network');
        }),
        n(400),
      );
      const outOfBounds = fc.oneof(fc.integer({ min: -1000, max: 2 }), fc.integer({ min: 4000, max: 1e9 }), hostileValue.filter((v) => v !== null && !Number.isInteger(v)));
      const policy = fc.record({
        body: orNotAnObject(hostileEntries({ minPasswordLength: outOfBounds }, ['lockAfterFailures', 'idleTimeoutMinutes', 'absoluteTimeoutMinutes', 'inactiveDays'])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(policy), async ({ body, ip }) => {
          expectApiRefusal(await call('PUT', '/api/v1/account/access-rules/policy', w.admin, body, ip), 'PUT policy', [400]);
          await expectNothingWritten('PUT /api/v1/account/access-rules/policy');
        }),
        n(400),
      );
    });

    it('PUT /api/v1/account/access-rules/remember-browser refuses days outside 0 to 30 and hostile bodies', async () => {
      const days = fc.oneof(fc.integer({ min: -1e9, max: -1 }), fc.integer({ min: 31, max: 1e9 }), hostileValue.filter((v) => !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 30)));
      const arb = fc.record({
        who: fc.constantFrom<'anonymous' | 'admin' | 'pending'>('anonymous', 'admin', 'admin', 'pending'),
        body: orNotAnObject(hostileEntries({ rememberBrowserDays: days }, [])),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, body, ip }) => {
          const caller = who === 'pending' ? await w.pending() : w[who];
          expectApiRefusal(await call('PUT', '/api/v1/account/access-rules/remember-browser', caller, body, ip), `PUT remember-browser as ${who}`, [400, 401, 403]);
          await expectNothingWritten('PUT /api/v1/account/access-rules/remember-browser');
        }),
        n(300),
      );
    });

    it('POST /api/v1/users refuses a hostile new user and creates none', async () => {
      const role = fc.oneof(invalidName, hostileValue.filter((v) => !ROLES.includes(v)));
      const arb = fc.record({ body: orNotAnObject(hostileEntries({ role }, ['username', 'password', 'email', 'skills'])), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ body, ip }) => {
          expectApiRefusal(await call('POST', '/api/v1/users', w.admin, body, ip), 'POST /api/v1/users', [400]);
          await expectNothingWritten('POST /api/v1/users');
        }),
        n(700),
      );
    });

    const targetId = () =>
      fc.oneof(
        fc.constantFrom(w.acme.agentId, w.acme.managerId, w.acme.adminId, w.pendingCo.agentId),
        fc.stringMatching(/^[0-9a-f]{32}$/),
        hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100),
      );

    it('PATCH /api/v1/users/:id refuses a hostile edit and changes no user', async () => {
      const state = fc.oneof(invalidName, hostileValue.filter((v) => v !== 'active' && v !== 'disabled'));
      const arb = fc.record({ id: targetId(), body: orNotAnObject(hostileEntries({ state }, ['role', 'email', 'skillIds'])), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ id, body, ip }) => {
          expectApiRefusal(await call('PATCH', `/api/v1/users/${id}`, w.admin, body, ip), 'PATCH /api/v1/users/:id', [400, 404]);
          await expectNothingWritten('PATCH /api/v1/users/:id');
        }),
        n(700),
      );
    });

    it('POST /api/v1/users/:id/reset-mfa refuses wrong step-up codes and unknown users', async () => {
      const arb = fc.record({
        who: fc.constantFrom<'admin' | 'stepUpAdmin' | 'anonymous'>('admin', 'stepUpAdmin', 'stepUpAdmin', 'anonymous'),
        known: fc.constantFrom(w.pendingCo.agentId, w.pendingCo.adminId),
        id: targetId(),
        body: orNotAnObject(hostileEntries({}, ['code'], fc.oneof(hostileCode, hostileValue))),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, known, id, body, ip }) => {
          // Acme's admin has no second factor, so a reset there needs none: it only meets users it cannot see.
          const target = who === 'stepUpAdmin' ? known : [w.acme.agentId, w.acme.managerId, w.acme.adminId].includes(id) ? w.pendingCo.agentId : id;
          const res = await call('POST', `/api/v1/users/${target}/reset-mfa`, w[who], body, ip);
          expectApiRefusal(res, `POST reset-mfa as ${who}`, [400, 401, 403, 404, 429]);
          if (res.statusCode === 429) await w.liftCodeLocks();
          await expectNothingWritten('POST /api/v1/users/:id/reset-mfa');
        }),
        n(700),
      );
    });

    it('POST /api/v1/users/:id/reset-password refuses wrong step-up codes and unknown users, issuing no link', async () => {
      const arb = fc.record({
        who: fc.constantFrom<'admin' | 'stepUpAdmin' | 'anonymous'>('admin', 'stepUpAdmin', 'stepUpAdmin', 'anonymous'),
        known: fc.constantFrom(w.pendingCo.agentId, w.pendingCo.adminId),
        id: targetId(),
        body: orNotAnObject(hostileEntries({}, ['code'], fc.oneof(hostileCode, hostileValue))),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, known, id, body, ip }) => {
          const target = who === 'stepUpAdmin' ? known : [w.acme.agentId, w.acme.managerId, w.acme.adminId].includes(id) ? w.pendingCo.agentId : id;
          const res = await call('POST', `/api/v1/users/${target}/reset-password`, w[who], body, ip);
          expectApiRefusal(res, `POST reset-password as ${who}`, [400, 401, 403, 404, 429]);
          if (res.statusCode === 429) await w.liftCodeLocks();
          await expectNothingWritten('POST /api/v1/users/:id/reset-password');
        }),
        n(500),
      );
    });

    // Applications (issue 13): redirect URIs that are never acceptable keep every body invalid.
    const badUris = fc.oneof(
      hostileValue.filter((v) => !Array.isArray(v)),
      fc.constant([]),
      fc.array(hostileText.filter((s) => !/https?:/i.test(s)), { minLength: 1, maxLength: 4 }),
      fc.constantFrom(['http://example.com/cb'], ['https://ok.example.com/cb#frag'], ['javascript:alert(1)'], ['https://user:pw@example.com/cb'], Array.from({ length: 11 }, (_, i) => `https://ok.example.com/cb${i}`)),
    );

    it('POST /api/v1/applications refuses a hostile registration and registers none', async () => {
      const arb = fc.record({ body: orNotAnObject(hostileEntries({ redirectUris: badUris }, ['name', 'postLogoutRedirectUris', 'backchannelLogoutUri', 'launchUrl', 'public'])), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ body, ip }) => {
          expectApiRefusal(await call('POST', '/api/v1/applications', w.admin, body, ip), 'POST /api/v1/applications', [400]);
          await expectNothingWritten('POST /api/v1/applications');
        }),
        n(500),
      );
    });

    it('PATCH, DELETE and rotate-secret at /api/v1/applications/:id refuse hostile edits and unknown ids, changing nothing', async () => {
      const made = await call('POST', '/api/v1/applications', w.admin, [['name', 'Fuzz Target'], ['redirectUris', ['https://app.example.com/cb']]], '10.254.0.1');
      expect(made.statusCode, made.body).toBe(201);
      const ownId = made.json<{ clientId: string }>().clientId;
      before = { state: await w.protectedState(), sessions: await w.fullSessions() };
      const anyId = fc.oneof(fc.constant(ownId), fc.stringMatching(/^[0-9a-f]{32}$/), hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100));
      const arb = fc.record({ id: anyId, body: orNotAnObject(hostileEntries({ redirectUris: badUris }, ['name', 'backchannelLogoutUri', 'launchUrl'])), ip: clientIp });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ id, body, ip }) => {
          expectApiRefusal(await call('PATCH', `/api/v1/applications/${id}`, w.admin, body, ip), 'PATCH /api/v1/applications/:id', [400, 404]);
          if (id !== ownId) {
            expectApiRefusal(await w.inject({ method: 'DELETE', url: `/api/v1/applications/${id}`, ip, caller: w.admin }), 'DELETE /api/v1/applications/:id', [400, 404]);
            expectApiRefusal(await w.inject({ method: 'POST', url: `/api/v1/applications/${id}/rotate-secret`, ip, caller: w.admin }), 'POST /api/v1/applications/:id/rotate-secret', [400, 404]);
          }
          await expectNothingWritten('/api/v1/applications/:id');
        }),
        n(300),
      );
    });

    it('Your security at /api/v1/factors and /api/v1/recovery-codes refuses hostile names, codes, ids and key answers, changing no factor or recovery code', async () => {
      // Pending Co's alice holds one authenticator app in an account with MFA on: its removal is the last-factor refusal, and every code here is wrong.
      const [own] = await w.t.deps.store.factors.forUser(w.pendingCo.accountId, w.pendingCo.adminId);
      expect(own).toBeDefined();
      const anyId = fc.oneof(fc.constant(own!.id), fc.constant(own!.id), fc.stringMatching(/^[0-9a-f]{32}$/), hostileText.map(pct).filter((s) => s.length > 0 && s.length <= 100));
      const badName = fc.oneof(
        hostileValue.filter((v) => typeof v !== 'string' || !checkFactorName(v).ok),
        hostileText.filter((v) => !checkFactorName(v).ok),
        fc.constantFrom('', '   ', 'x'.repeat(65), 'a\u202eb', 'a\u0007b', 'a\u200bb'),
      );
      const code = fc.oneof(hostileCode, hostileValue);
      const arb = fc.record({
        who: fc.constantFrom<'admin' | 'stepUpAdmin' | 'anonymous' | 'pending'>('admin', 'stepUpAdmin', 'stepUpAdmin', 'stepUpAdmin', 'anonymous', 'pending'),
        id: anyId,
        rename: orNotAnObject(hostileEntries({ name: badName }, [])),
        remove: orNotAnObject(hostileEntries({}, ['code'], code)),
        confirm: orNotAnObject(hostileEntries({ code }, ['name'])),
        recovery: orNotAnObject(hostileEntries({}, ['code'], code)),
        // A security key's answer shaped like the browser's, with hostile values where its strings go (or no object at all).
        key: orNotAnObject(
          hostileEntries(
            {
              credential: fc.oneof(
                hostileValue,
                fc.record({ id: hostileText, rawId: hostileText, type: fc.oneof(fc.constant('public-key'), hostileText), response: fc.record({ clientDataJSON: hostileText, attestationObject: hostileText }) }),
              ),
            },
            ['code', 'name'],
          ),
        ),
        ip: clientIp,
      });
      await fc.assert(
        fc.asyncProperty(counter.count(arb), async ({ who, id, rename, remove, confirm, recovery, key, ip }) => {
          const caller = who === 'pending' ? await w.pending() : w[who];
          expectApiRefusal(await call('PATCH', `/api/v1/factors/${id}`, caller, rename, ip), `PATCH /api/v1/factors/:id as ${who}`, [400, 401, 404]);
          expectApiRefusal(await call('DELETE', `/api/v1/factors/${id}`, caller, remove, ip), `DELETE /api/v1/factors/:id as ${who}`, [400, 401, 404, 409]);
          // Nothing is being added in these sessions (and a start needs a right code): no confirmation finds a secret.
          expectApiRefusal(await call('POST', '/api/v1/factors/totp/confirm', caller, confirm, ip), `POST /api/v1/factors/totp/confirm as ${who}`, [400, 401, 409]);
          // Acme's admin holds no factor (409); Pending Co's alice is asked for a code and every one here is wrong.
          const made = await call('POST', '/api/v1/recovery-codes', caller, recovery, ip);
          expectApiRefusal(made, `POST /api/v1/recovery-codes as ${who}`, [400, 401, 403, 409, 429]);
          if (made.statusCode === 429) await w.liftCodeLocks();
          // The answer is checked before any code: hostile ones never get that far.
          expectApiRefusal(await call('POST', '/api/v1/factors/webauthn', caller, key, ip), `POST /api/v1/factors/webauthn as ${who}`, [400, 401]);
          await expectNothingWritten('/api/v1/factors');
        }),
        n(400),
      );
    });

    it('still serves: /healthz answers and a fresh sign-in works', async () => {
      expect((await w.inject({ method: 'GET', url: '/healthz', ip: '10.250.0.1' })).statusCode).toBe(200);
      expect((await w.inject({ method: 'GET', url: '/api/v1/users', ip: '10.250.0.1', caller: w.admin })).statusCode).toBe(200);
      const login = await call('POST', '/api/v1/login', undefined, jsonOf([['accountId', w.acme.accountId], ['username', 'mia'], ['password', PASSWORD]]), '10.250.0.2');
      expect(login.json()).toEqual({ state: 'authenticated' });
      process.stdout.write(`hostile API (${kind}): ${counter.total} cases, seed ${SEED}\n`);
    });
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
