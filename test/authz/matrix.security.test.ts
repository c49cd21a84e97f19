import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { become, buildWorld, fetchAs, jsonAs, postFormAs } from './principals.ts';
import type { Actor, World } from './principals.ts';
import { routeTable } from './route-table.ts';
import { admittedBy, expectationsFor, principals, rules } from './rules.ts';
import type { Expectations, Outcome, Principal, Rule } from './rules.ts';
import { isAccess } from '../../src/http/access.ts';
import type { Access } from '../../src/http/access.ts';

// The authorization matrix (SPEC "Who may do what"): every route the real app
// registers × every kind of caller, each with the outcome rules.ts gives it.
// The route list comes from the app itself (see route-table.ts), so a route
// added without a rule, or a rule left behind by a removed route, fails here;
// so does a route without a declared access. Who may call each route is read
// from that declaration (config.access, as registered), not from a copy.

vi.mock('fastify', async (importOriginal) => {
  const { withRouteTable } = await import('./route-table.ts');
  return withRouteTable(await importOriginal());
});

const FORBIDDEN = 'You do not have permission to do that.';
const SIGN_IN = 'Sign in to continue.';
const NOT_LOOPBACK = '203.0.113.7';

const routeKey = (method: string, url: string) => `${method} ${url}`;

/** What the rules cover: each rule's method and URL, and the HEAD Fastify adds beside each GET. */
function ruledRoutes(): string[] {
  return rules.flatMap((r) => (r.method === 'GET' ? [routeKey('GET', r.url), routeKey('HEAD', r.url)] : [routeKey(r.method, r.url)]));
}

function jsonError(res: LightMyRequestResponse): string | undefined {
  if (!String(res.headers['content-type']).startsWith('application/json') || res.body === '') return undefined;
  const body = res.json<{ error?: unknown }>();
  return typeof body.error === 'string' ? body.error : undefined;
}

function describeOutcome(outcome: Outcome): string {
  if (typeof outcome === 'string') return outcome;
  return `redirect ${String(outcome.redirect)}`;
}

/** Answers what is wrong with a response for the expected outcome, or undefined when it matches. */
function mismatch(res: LightMyRequestResponse, outcome: Outcome, rule: Rule, method: string, principal: Principal, targetId: string): string | undefined {
  const got = `${res.statusCode}${res.headers.location ? ` → ${String(res.headers.location)}` : ''}${jsonError(res) ? ` ${jsonError(res)}` : ''}`;
  const fail = (why: string) => `${method} ${rule.url} as ${principal}: expected ${describeOutcome(outcome)}, got ${got}${why ? ` (${why})` : ''}`;
  const hasBody = method !== 'HEAD';
  const api = rule.kind === 'api';

  if (typeof outcome === 'object') {
    const location = String(res.headers.location ?? '');
    const wanted = outcome.redirect;
    const matches = typeof wanted === 'string' ? location === wanted.replace(':id', targetId) : wanted.test(location);
    return res.statusCode === 303 && matches ? undefined : fail('');
  }
  switch (outcome) {
    case 'ok':
      return res.statusCode >= 200 && res.statusCode < 300 ? undefined : fail('');
    case 'login': {
      if (api) {
        if (res.statusCode !== 401) return fail('');
        return !hasBody || ['unauthenticated', 'session_expired'].includes(jsonError(res) ?? '') ? undefined : fail('not the sign-in refusal');
      }
      if (method === 'GET' || method === 'HEAD') {
        const to = principal === 'pending' ? '/login/mfa' : '/login';
        return res.statusCode === 303 && res.headers.location === to ? undefined : fail(`wanted 303 → ${to}`);
      }
      if (res.statusCode !== 401) return fail('wanted 401');
      return !hasBody || res.body.includes(SIGN_IN) ? undefined : fail('not the sign-in refusal');
    }
    case 'forbidden': {
      if (res.statusCode !== 403) return fail('');
      // A 403 from the CSRF or Origin check would prove nothing about roles.
      if (api) return !hasBody || jsonError(res) === 'forbidden' ? undefined : fail('not the role refusal');
      return !hasBody || res.body.includes(FORBIDDEN) ? undefined : fail('not the role refusal');
    }
    case 'not-found':
      if (res.statusCode !== 404) return fail('');
      return !api || !hasBody || jsonError(res) === 'not_found' ? undefined : fail('not the catalogued not_found');
    case 'conflict':
      return res.statusCode === 409 ? undefined : fail('');
    case 'step-up':
      // The handler ran and asked for a current code: not the role refusal (which is 'forbidden').
      if (res.statusCode !== 403) return fail('');
      return !hasBody || jsonError(res) === 'step_up_required' ? undefined : fail('not the step-up refusal');
    case 'key-refused':
      if (res.statusCode !== 400) return fail('');
      if (!hasBody) return undefined;
      return (api ? jsonError(res) === 'key_refused' : res.body.includes('Your security key’s answer was not accepted.')) ? undefined : fail('not the key refusal');
    case 'passkey-refused':
      // The handler ran and checked the answer: not a schema, CSRF or policy refusal.
      if (res.statusCode !== 401) return fail('');
      if (!hasBody) return undefined;
      return (api ? jsonError(res) === 'invalid_passkey' : res.body.includes('Your passkey was not accepted.')) ? undefined : fail('not the passkey refusal');
    case 'wrong-password':
      // The handler ran and checked the password: not a schema or policy refusal.
      if (res.statusCode !== 400) return fail('');
      if (!hasBody) return undefined;
      return (api ? jsonError(res) === 'wrong_password' : res.body.includes('The current password is not correct.')) ? undefined : fail('not the wrong-password refusal');
  }
}

/** Sends the rule's request as the actor: GET/HEAD bare, page posts with a CSRF token, API calls as same-origin JSON. */
async function send(w: World, actor: Actor, rule: Rule, method: string, url: string, unique: (prefix: string) => string): Promise<LightMyRequestResponse> {
  const ctx = { unique, code: () => actor.code(), accountA: w.a.accountId, password: PASSWORD };
  if (method === 'GET' || method === 'HEAD') return fetchAs(w, actor, method, url);
  if (rule.kind === 'page') {
    return postFormAs(actor, url, () => Object.fromEntries(Object.entries(rule.body?.(ctx) ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)])));
  }
  return jsonAs(w, actor, rule.method, url, rule.body?.(ctx));
}

/** Each route's declared access, read from the routes an app registers ("METHOD url" → access). */
function declarations(app: TestApp['app']): Map<string, unknown> {
  return new Map(routeTable(app).map((r) => [routeKey(r.method, r.url), r.access]));
}

// The declarations decide which tests exist (which routes refuse someone), so
// they are read once before the tests are collected, from an app built for it.
const declared = await (async () => {
  const probe = await buildTestApp('sqlite');
  try {
    return declarations(probe.app);
  } finally {
    await probe.close();
  }
})();

function accessOf(rule: Rule): Access {
  const access = declared.get(routeKey(rule.method, rule.url));
  if (!isAccess(access)) throw new Error(`${routeKey(rule.method, rule.url)} declares no access the matrix knows: ${JSON.stringify(access)}`);
  return access;
}

/** What each principal gets from this rule's route, by its declared access; undefined when it declares none. */
function expected(rule: Rule): Expectations | undefined {
  const access = declared.get(routeKey(rule.method, rule.url));
  return isAccess(access) ? expectationsFor(rule, access) : undefined;
}

for (const kind of await storeKinds()) {
  describe(`authorization matrix (${kind})`, () => {
    let t: TestApp;
    let w: World;
    let counter = 0;
    const unique = (prefix: string) => `${prefix}-${kind}-${++counter}`;

    beforeAll(async () => {
      t = await buildTestApp(kind);
      w = await buildWorld(t);
    });
    afterAll(async () => {
      await t?.close();
    });

    describe('the route table', () => {
      it('has a rule for every route the app registers', () => {
        const ruled = new Set(ruledRoutes());
        const registered = routeTable(t.app).map((r) => routeKey(r.method, r.url));
        expect(registered.length, 'routes seen by the onRoute hook').toBeGreaterThan(0);
        expect(registered.filter((r) => !ruled.has(r)), 'routes without a rule in test/authz/rules.ts').toEqual([]);
      });

      it('has no rule for a route the app does not have', () => {
        const registered = new Set(routeTable(t.app).map((r) => routeKey(r.method, r.url)));
        expect(ruledRoutes().filter((r) => !registered.has(r)), 'rules naming no route').toEqual([]);
        // Cross-check the hook against Fastify's own lookup.
        const unknown = rules.filter((r) => !t.app.hasRoute({ method: r.method, url: r.url }));
        expect(unknown.map((r) => routeKey(r.method, r.url))).toEqual([]);
      });

      it('lists each route once', () => {
        const keys = rules.map((r) => routeKey(r.method, r.url));
        expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
      });

      it('finds a declared access on every route this app registers, the same as the one read before collecting', () => {
        const mine = declarations(t.app);
        const undeclared = [...mine].filter(([, access]) => !isAccess(access)).map(([key]) => key);
        expect(undeclared, 'routes without config.access').toEqual([]);
        expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(declared));
      });

      it('gives exceptions only for principals the route admits', () => {
        for (const rule of rules) {
          const admitted = admittedBy(rule, accessOf(rule));
          const strays = Object.keys(rule.except ?? {}).filter((p) => !admitted.includes(p as Principal));
          expect(strays, routeKey(rule.method, rule.url)).toEqual([]);
        }
      });
    });

    describe('who may do what', () => {
      for (const rule of rules) {
        const methods = rule.method === 'GET' ? ['GET', 'HEAD'] : [rule.method];
        for (const method of methods) {
          it(`${method} ${rule.url}`, async () => {
            const url = rule.url.replace(':id', w.targetId);
            const outcomes = expectationsFor(rule, accessOf(rule));
            const problems: string[] = [];
            for (const principal of principals) {
              const actor = await become(w, principal);
              const res = await send(w, actor, rule, method, url, unique);
              const problem = mismatch(res, outcomes[principal], rule, method, principal, w.targetId);
              if (problem) problems.push(problem);
              if (rule.loopbackOnly && (method === 'GET' || method === 'HEAD')) {
                const away = await fetchAs(w, actor, method, url, NOT_LOOPBACK);
                if (away.statusCode !== 404) problems.push(`${method} ${rule.url} as ${principal} from ${NOT_LOOPBACK}: expected 404, got ${away.statusCode}`);
              }
            }
            expect(problems).toEqual([]);
          });
        }
      }
    });

    describe('refuses before it reads the request: a caller without the role learns nothing of what a route accepts', () => {
      const guarded = rules.filter((r) => r.kind === 'api' && Object.values(expected(r) ?? {}).includes('forbidden'));
      it('covers the admin API', () => expect(guarded.length).toBeGreaterThanOrEqual(8));
      for (const rule of guarded) {
        it(`${rule.method} ${rule.url} with a malformed request`, async () => {
          const url = rule.url.replace(':id', w.targetId);
          const problems: string[] = [];
          const outcomes = expectationsFor(rule, accessOf(rule));
          for (const principal of principals) {
            const outcome = outcomes[principal];
            if (outcome !== 'forbidden' && outcome !== 'login') continue;
            const actor = await become(w, principal);
            const res =
              rule.method === 'GET'
                ? await fetchAs(w, actor, 'GET', `${url}?limit=lots&offset=-1&mfa=maybe`)
                : await jsonAs(w, actor, rule.method, url, { role: 42, mfaEnabled: 'yes', unexpected: ['field'] });
            const problem = mismatch(res, outcome, rule, rule.method, principal, w.targetId);
            if (problem) problems.push(problem);
          }
          expect(problems).toEqual([]);
        });
      }
    });

    it('left the world as it was: MFA still on in both accounts, every authenticator of A and B still there', async () => {
      expect((await t.deps.store.accounts.get(w.a.accountId))?.mfaEnabled).toBe(true);
      expect((await t.deps.store.accounts.get(w.b.accountId))?.mfaEnabled).toBe(true);
      for (const [accountId, userId] of [
        [w.a.accountId, w.a.adminId],
        [w.a.accountId, w.a.managerId],
        [w.a.accountId, w.a.agentId],
        [w.b.accountId, w.b.adminId],
      ] as const) {
        expect(await t.deps.store.factors.forUser(accountId, userId)).toHaveLength(1);
      }
      const tess = await t.deps.store.users.get(w.a.accountId, w.targetId);
      expect({ role: tess?.role, state: tess?.state }).toEqual({ role: 'agent', state: 'active' });
      // Users were made only by the two admins' two creating requests (page and API), each in its own account.
      const made = await t.db.database.db.selectFrom('users').select(['account_id']).where('username', 'like', 'made-%').execute();
      expect(made.filter((u) => u.account_id === w.a.accountId)).toHaveLength(2);
      expect(made.filter((u) => u.account_id === w.b.accountId)).toHaveLength(2);
    });
  });
}
