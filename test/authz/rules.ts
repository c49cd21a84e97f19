import type { Access } from '../../src/http/access.ts';
import { can } from '../../src/domain/roles.ts';
import type { Role } from '../../src/domain/roles.ts';

// Who may do what, route by route (SPEC "Who may do what"). Who may call a
// route is not written here: each route declares it once in its config
// (src/http/access.ts), and expectationsFor reads that declaration from the
// registered route and says what each kind of caller then gets. What is
// written here is what the route answers a caller it admits. Every route the
// app registers must have a rule here and a declaration, and every rule must
// name a route the app has: matrix.security.test.ts fails otherwise.
//
// A GET rule covers Fastify's automatic HEAD sibling too (same outcome).

/** Who sends the request. Account A has MFA on; everyone in it is enrolled. */
export const principals = [
  'anonymous', // no cookie at all
  'pending', // A's admin after the password, the code still outstanding
  'agent', // A's agent, full session (password + code)
  'agent-manager', // A's agent-manager, full session
  'admin', // A's admin, full session
  'other-admin', // the admin of account B, full session, acting on A's ids
  'signed-out', // the cookie of A's admin's session after it signed out
  'expired', // the cookie of A's admin's session left idle past 30 minutes
] as const;
export type Principal = (typeof principals)[number];

/**
 * What a request answers:
 * - 'ok': 2xx;
 * - { redirect }: 303 to this place (":id" is the target user's id), a RegExp for generated ids;
 * - 'login': sent to sign in. Page GET: 303 to /login (/login/mfa for a pending sign-in);
 *   page POST or HEAD: 401 "Sign in to continue."; API: 401 JSON unauthenticated/session_expired;
 * - 'forbidden': 403 for the role (not a CSRF or Origin refusal);
 * - 'not-found': 404, what another account's ids answer;
 * - 'conflict': 409, allowed but the state says no;
 * - 'wrong-password': 400, allowed, and the current password given was checked and refused;
 * - 'step-up': 403 step_up_required (API), allowed, and the handler asks for a current code first;
 * - 'key-refused': 400, allowed, and the security key's answer given was checked and refused;
 * - 'passkey-refused': 401, allowed, and the passkey's answer was checked and refused.
 */
export type Outcome = 'ok' | { redirect: string | RegExp } | 'login' | 'forbidden' | 'not-found' | 'conflict' | 'wrong-password' | 'step-up' | 'key-refused' | 'passkey-refused';

export type Expectations = Record<Principal, Outcome>;

/** What a request body may depend on, supplied by the matrix as it runs. */
export interface BodyContext {
  /** A name not used before in this run: created users and skills never collide. */
  unique(prefix: string): string;
  /** A current code for the principal's own authenticator (a fresh step, via oathtool), or a dummy. */
  code(): string;
  /** Account number of account A, and the password of its throwaway sign-in user "pat". */
  accountA: string;
  password: string;
}

export interface Rule {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Exactly as registered; ":id" is filled in with a user of account A (the target). */
  url: string;
  /** page: HTML and form posts with a CSRF token; api: JSON under /api; asset: public, no session needed. */
  kind: 'page' | 'api' | 'asset';
  /** A harmless body: saves current values, creates uniquely named things, or targets the throwaway user. */
  body?: (ctx: BodyContext) => Record<string, unknown>;
  /** What the route answers a caller its declared access admits: the handler's doing, not the access check's. */
  admitted: Outcome;
  /** Admitted principals that get another answer: B's admin naming A's ids (404), a signed-in user on the sign-in page (home). */
  except?: Partial<Expectations>;
  /** Answered only to listed (loopback) addresses: anyone else gets 404. */
  loopbackOnly?: boolean;
}

const fullSessions = ['agent', 'agent-manager', 'admin', 'other-admin'] as const;

function each(names: readonly Principal[], outcome: Outcome): Partial<Expectations> {
  return Object.fromEntries(names.map((p) => [p, outcome]));
}

/** The role of each full session. */
const roleOf: Record<(typeof fullSessions)[number], Role> = { agent: 'agent', 'agent-manager': 'agent-manager', admin: 'admin', 'other-admin': 'admin' };

/**
 * What each principal gets from a route that declares this access, whose
 * handler answers `rule.admitted` (or `rule.except`) to those it admits:
 * - 'public': everyone is admitted;
 * - 'session': any live session; no session is sent to sign in;
 * - 'signed-in': full sessions; no session, or a pending one, is sent to sign in;
 * - { permission }: full sessions whose role has it (domain/roles.ts, pinned by roles.test.ts); other roles 403;
 * - 'pending': only the pending sign-in. The API sends anyone else to sign in;
 *   a page sends a full session home and no session to /login (a form post with notice=expired).
 */
export function expectationsFor(rule: Rule, access: Access): Expectations {
  const admitted = (p: Principal): boolean => {
    if (access === 'public') return true;
    if (access === 'pending') return p === 'pending';
    if (access === 'session') return p === 'pending' || (fullSessions as readonly string[]).includes(p);
    const role = roleOf[p as (typeof fullSessions)[number]];
    return role !== undefined && (access === 'signed-in' || can(role, access.permission));
  };
  const refused = (p: Principal): Outcome => {
    const full = (fullSessions as readonly string[]).includes(p);
    if (access === 'pending') {
      if (rule.kind !== 'page') return 'login';
      if (full) return { redirect: '/' };
      return { redirect: rule.method === 'GET' ? '/login' : '/login?notice=expired' };
    }
    return full ? 'forbidden' : 'login';
  };
  return Object.fromEntries(principals.map((p) => [p, admitted(p) ? (rule.except?.[p] ?? rule.admitted) : refused(p)])) as Expectations;
}

/** The principals an access admits, whatever the route answers them (to check that `except` names only those). */
export function admittedBy(rule: Rule, access: Access): Principal[] {
  const probe = { ...rule, admitted: 'ok' as const, except: {} };
  return principals.filter((p) => {
    const outcome = expectationsFor(probe, access)[p];
    return outcome === 'ok';
  });
}

/** B's admin, naming A's ids in the URL, finds nothing. */
const otherAccountNotFound: Partial<Expectations> = { 'other-admin': 'not-found' };

/** A password change that fails on the current password: harmless, and the same for everyone. */
const wrongPasswordChange = { currentPassword: 'not anyone’s password at all', newPassword: 'a new password nobody gets', confirmation: 'a new password nobody gets' };

/** A user's current values, so saving them changes nothing. */
const unchangedTarget = { role: 'agent', state: 'active', email: '' };

export const rules: Rule[] = [
  // Meta: public, no session needed.
  { method: 'GET', url: '/metrics', kind: 'asset', admitted: 'ok', loopbackOnly: true },
  { method: 'GET', url: '/healthz', kind: 'asset', admitted: 'ok' },
  { method: 'GET', url: '/style.css', kind: 'asset', admitted: 'ok' },
  { method: 'GET', url: '/app.js', kind: 'asset', admitted: 'ok' },
  { method: 'GET', url: '/assets/webauthn.js', kind: 'asset', admitted: 'ok' },
  { method: 'GET', url: '/assets/webauthn-client.js', kind: 'asset', admitted: 'ok' },
  { method: 'GET', url: '/api/openapi.json', kind: 'asset', admitted: 'ok' },

  // Sign-in pages.
  { method: 'GET', url: '/', kind: 'page', admitted: 'ok' },
  { method: 'GET', url: '/login', kind: 'page', admitted: 'ok', except: each(fullSessions, { redirect: '/' }) },
  {
    // Signs in the throwaway user "pat" (MFA on: a pending sign-in), whoever asks.
    method: 'POST',
    url: '/login',
    kind: 'page',
    body: (c) => ({ accountId: c.accountA, username: 'pat', password: c.password }),
    admitted: { redirect: '/login/mfa' },
  },
  { method: 'POST', url: '/logout', kind: 'page', admitted: { redirect: '/login' } },
  // Passkey sign-in: an answer without a challenge of this browser is refused, whoever sends it.
  { method: 'POST', url: '/login/passkey', kind: 'page', body: () => ({ credential: '{}' }), admitted: 'passkey-refused' },
  {
    method: 'GET',
    url: '/login/mfa',
    kind: 'page',
    admitted: 'ok',
  },
  {
    method: 'POST',
    url: '/login/mfa',
    kind: 'page',
    body: (c) => ({ code: c.code() }),
    admitted: { redirect: '/' },
  },

  // Management Console (admins, own account: no ids in these URLs).
  { method: 'GET', url: '/manage/console', kind: 'page', admitted: 'ok' },
  { method: 'GET', url: '/manage/console/admin-secure', kind: 'page', admitted: 'ok' },
  { method: 'GET', url: '/manage/console/account-access-control', kind: 'page', admitted: 'ok' },
  {
    // Saves the current value (MFA on): nothing changes.
    method: 'POST',
    url: '/manage/console/account-access-control',
    kind: 'page',
    body: () => ({ mfaEnabled: 'on' }),
    admitted: { redirect: '/manage/console/account-access-control?saved=1' },
  },
  // Allowed networks and login policy (issue 15): saving none and the service's own values changes nothing.
  {
    method: 'POST',
    url: '/manage/console/account-access-control/network',
    kind: 'page',
    body: () => ({ ranges: '', appliesTo: 'everyone' }),
    admitted: { redirect: '/manage/console/account-access-control?saved=1' },
  },
  {
    method: 'POST',
    url: '/manage/console/account-access-control/policy',
    kind: 'page',
    body: () => ({ minPasswordLength: '', lockAfterFailures: '', idleTimeoutMinutes: '', absoluteTimeoutMinutes: '', inactiveDays: '' }),
    admitted: { redirect: '/manage/console/account-access-control?saved=1' },
  },
  // The second factors allowed (issue 14): both kinds, no key required for admins (the default) changes nothing.
  {
    method: 'POST',
    url: '/manage/console/account-access-control/factors',
    kind: 'page',
    body: () => ({ allowed: ['totp', 'webauthn'] }),
    admitted: { redirect: '/manage/console/account-access-control?saved=1' },
  },
  // Remember this browser (issue 15): saving it off, as it is, changes nothing.
  {
    method: 'POST',
    url: '/manage/console/account-access-control/remember-browser',
    kind: 'page',
    body: () => ({ rememberBrowserDays: '0' }),
    admitted: { redirect: '/manage/console/account-access-control?saved=1' },
  },

  // Applications (issue 13), admins of the account. ":id" is a user's id, no client id of anyone's: 404 for every admin.
  { method: 'GET', url: '/manage/console/applications', kind: 'page', admitted: 'ok' },
  { method: 'GET', url: '/manage/console/applications/new', kind: 'page', admitted: 'ok' },
  {
    // A uniquely named application: its secret page (200, no-store).
    method: 'POST',
    url: '/manage/console/applications',
    kind: 'page',
    body: (c) => ({ appName: c.unique('App'), redirectUris: 'http://127.0.0.1:9/callback' }),
    admitted: 'ok',
  },
  { method: 'GET', url: '/manage/console/applications/:id', kind: 'page', admitted: 'not-found' },
  { method: 'POST', url: '/manage/console/applications/:id', kind: 'page', body: () => ({ appName: 'Renamed', redirectUris: 'http://127.0.0.1:9/callback' }), admitted: 'not-found' },
  { method: 'POST', url: '/manage/console/applications/:id/rotate-secret', kind: 'page', admitted: 'not-found' },
  { method: 'GET', url: '/manage/console/applications/:id/delete', kind: 'page', admitted: 'not-found' },
  { method: 'POST', url: '/manage/console/applications/:id/delete', kind: 'page', admitted: 'not-found' },

  // Users & Skills.
  { method: 'GET', url: '/manage/users', kind: 'page', admitted: 'ok' },
  {
    method: 'POST',
    url: '/manage/users',
    kind: 'page',
    body: (c) => ({ username: c.unique('made'), role: 'agent', password: c.password }),
    admitted: { redirect: /^\/manage\/users\/[0-9a-f]{32}\?notice=created$/ },
  },
  {
    method: 'POST',
    url: '/manage/skills',
    kind: 'page',
    body: (c) => ({ name: c.unique('Skill') }),
    admitted: { redirect: '/manage/users?notice=skill' },
  },
  { method: 'GET', url: '/manage/users/:id', kind: 'page', admitted: 'ok', except: otherAccountNotFound },
  {
    method: 'POST',
    url: '/manage/users/:id',
    kind: 'page',
    body: () => unchangedTarget,
    admitted: { redirect: '/manage/users/:id?notice=saved' },
    except: otherAccountNotFound,
  },
  { method: 'GET', url: '/manage/users/:id/reset-mfa', kind: 'page', admitted: 'ok', except: otherAccountNotFound },
  {
    // The target is a throwaway user: a reset is harmless and repeatable.
    method: 'POST',
    url: '/manage/users/:id/reset-mfa',
    kind: 'page',
    admitted: { redirect: '/manage/users/:id?notice=reset' },
    except: otherAccountNotFound,
  },
  {
    // The target is a throwaway user: a new link replaces the last one, harmlessly. No e-mail: the link is shown.
    method: 'POST',
    url: '/manage/users/:id/reset-password',
    kind: 'page',
    admitted: 'ok',
    except: otherAccountNotFound,
  },
  {
    // Remember this browser (issue 15): the throwaway user has none; forgetting them is harmless and repeatable.
    method: 'POST',
    url: '/manage/users/:id/forget-browsers',
    kind: 'page',
    admitted: { redirect: '/manage/users/:id?notice=browsers-forgotten' },
    except: otherAccountNotFound,
  },
  { method: 'GET', url: '/manage/audit', kind: 'page', admitted: 'ok' },

  // Your sessions: every signed-in user, their own sessions only. The principals
  // have no other live session each, so ending "the others" ends nothing here.
  { method: 'GET', url: '/account/sessions', kind: 'page', admitted: 'ok' },
  {
    method: 'POST',
    url: '/account/sessions/end',
    kind: 'page',
    body: () => ({ session: 'no-such-session-handle' }),
    admitted: { redirect: '/account/sessions?ended=gone' },
  },
  { method: 'POST', url: '/account/sessions/end-others', kind: 'page', admitted: { redirect: '/account/sessions?ended=others' } },
  // Remember this browser (issue 15): the principals have no remembered browser, so Forget finds none.
  {
    method: 'POST',
    url: '/account/sessions/forget-browser',
    kind: 'page',
    body: () => ({ browser: 'no-such-browser' }),
    admitted: { redirect: '/account/sessions?ended=forgotten-gone' },
  },
  // A Reset password link's page, for anyone holding it: ':token' is no live link, so everyone gets the clear "no longer works" page (404).
  { method: 'GET', url: '/password/reset/:token', kind: 'page', admitted: 'not-found' },
  // An application's sign-in: ':uid' is no interaction (and there is no provider cookie), so everyone gets "This sign-in has expired" (404).
  { method: 'GET', url: '/oidc/interaction/:uid', kind: 'page', admitted: 'not-found' },
  { method: 'POST', url: '/password/reset/:token', kind: 'page', body: () => ({ newPassword: 'a fine new passphrase', confirmation: 'a fine new passphrase' }), admitted: 'not-found' },
  // Change password: with a wrong current password, so nobody's password changes (one failure counted each run).
  { method: 'GET', url: '/account/password', kind: 'page', admitted: 'ok' },
  { method: 'POST', url: '/account/password', kind: 'page', body: () => wrongPasswordChange, admitted: 'wrong-password' },
  // Your security (issue 14): the user's own factors. ":id" is a user id, no factor: the page says it is not there (404).
  { method: 'GET', url: '/account/security', kind: 'page', admitted: 'ok' },
  { method: 'POST', url: '/account/security/factors/:id/rename', kind: 'page', body: () => ({ name: 'Renamed' }), admitted: 'not-found' },
  { method: 'POST', url: '/account/security/factors/:id/remove', kind: 'page', admitted: 'not-found' },
  // Without confirm=1 these show "Confirm it’s you" (the step-up page) and change nothing.
  { method: 'POST', url: '/account/security/recovery-codes', kind: 'page', admitted: 'ok' },
  { method: 'POST', url: '/account/security/authenticator', kind: 'page', admitted: 'ok' },
  // Nothing is being added in these sessions: back to Your security.
  { method: 'GET', url: '/account/security/authenticator', kind: 'page', admitted: { redirect: '/account/security?done=expired' } },
  { method: 'POST', url: '/account/security/authenticator/confirm', kind: 'page', body: () => ({ code: '000000' }), admitted: { redirect: '/account/security?done=expired' } },
  { method: 'GET', url: '/account/security/security-key', kind: 'page', admitted: 'ok' },
  { method: 'POST', url: '/account/security/security-key', kind: 'page', body: () => ({ credential: '{}' }), admitted: 'key-refused' },

  // JSON API: sign-in.
  {
    method: 'POST',
    url: '/api/v1/login',
    kind: 'api',
    body: (c) => ({ accountId: c.accountA, username: 'pat', password: c.password }),
    admitted: 'ok',
  },
  { method: 'POST', url: '/api/v1/logout', kind: 'api', body: () => ({}), admitted: 'ok' },
  { method: 'POST', url: '/api/v1/login/passkey/options', kind: 'api', body: (c) => ({ accountId: c.accountA }), admitted: 'ok' },
  { method: 'POST', url: '/api/v1/login/passkey', kind: 'api', body: () => ({ credential: {} }), admitted: 'passkey-refused' },
  // A pending sign-in may read its own state (that is how a client learns a code is due).
  { method: 'GET', url: '/api/v1/session', kind: 'api', admitted: 'ok' },
  // Only a pending sign-in; this one's user is enrolled already, so: 409.
  { method: 'GET', url: '/api/v1/login/mfa/enrollment', kind: 'api', admitted: 'conflict' },
  { method: 'POST', url: '/api/v1/login/mfa', kind: 'api', body: (c) => ({ code: c.code() }), admitted: 'ok' },
  // Only a pending sign-in; this one's user has an authenticator app and no security key, so: 409.
  { method: 'POST', url: '/api/v1/login/mfa/webauthn/options', kind: 'api', body: () => ({}), admitted: 'conflict' },

  // JSON API: administration, mirroring the pages.
  { method: 'GET', url: '/api/v1/account', kind: 'api', admitted: 'ok' },
  { method: 'PUT', url: '/api/v1/account/settings', kind: 'api', body: () => ({ mfaEnabled: true }), admitted: 'ok' },
  { method: 'GET', url: '/api/v1/account/access-rules', kind: 'api', admitted: 'ok' },
  { method: 'PUT', url: '/api/v1/account/access-rules/network', kind: 'api', body: () => ({ ranges: [], appliesTo: 'everyone' }), admitted: 'ok' },
  {
    method: 'PUT',
    url: '/api/v1/account/access-rules/policy',
    kind: 'api',
    body: () => ({ minPasswordLength: null, lockAfterFailures: null, idleTimeoutMinutes: null, absoluteTimeoutMinutes: null, inactiveDays: null }),
    admitted: 'ok',
  },
  { method: 'PUT', url: '/api/v1/account/access-rules/factors', kind: 'api', body: () => ({ allowed: ['totp', 'webauthn'], adminsNeedKey: false }), admitted: 'ok' },
  { method: 'PUT', url: '/api/v1/account/access-rules/remember-browser', kind: 'api', body: () => ({ rememberBrowserDays: 0 }), admitted: 'ok' },
  { method: 'GET', url: '/api/v1/users', kind: 'api', admitted: 'ok' },
  {
    method: 'POST',
    url: '/api/v1/users',
    kind: 'api',
    body: (c) => ({ username: c.unique('made'), role: 'agent', password: c.password }),
    admitted: 'ok',
  },
  { method: 'GET', url: '/api/v1/users/:id', kind: 'api', admitted: 'ok', except: otherAccountNotFound },
  { method: 'PATCH', url: '/api/v1/users/:id', kind: 'api', body: () => ({ role: 'agent' }), admitted: 'ok', except: otherAccountNotFound },
  { method: 'POST', url: '/api/v1/users/:id/reset-mfa', kind: 'api', body: () => ({}), admitted: 'ok', except: otherAccountNotFound },
  { method: 'POST', url: '/api/v1/users/:id/reset-password', kind: 'api', body: () => ({}), admitted: 'ok', except: otherAccountNotFound },
  { method: 'POST', url: '/api/v1/users/:id/forget-browsers', kind: 'api', body: () => ({}), admitted: 'ok', except: otherAccountNotFound },
  { method: 'GET', url: '/api/v1/audit', kind: 'api', admitted: 'ok' },
  // Applications (issue 13): as the pages; ":id" names no application.
  { method: 'GET', url: '/api/v1/applications', kind: 'api', admitted: 'ok' },
  { method: 'POST', url: '/api/v1/applications', kind: 'api', body: (c) => ({ name: c.unique('App'), redirectUris: ['http://127.0.0.1:9/callback'] }), admitted: 'ok' },
  { method: 'GET', url: '/api/v1/applications/:id', kind: 'api', admitted: 'not-found' },
  { method: 'PATCH', url: '/api/v1/applications/:id', kind: 'api', body: () => ({ name: 'Renamed' }), admitted: 'not-found' },
  { method: 'DELETE', url: '/api/v1/applications/:id', kind: 'api', admitted: 'not-found' },
  { method: 'POST', url: '/api/v1/applications/:id/rotate-secret', kind: 'api', body: () => ({}), admitted: 'not-found' },

  // JSON API: your sessions. A user id is no session handle: 404 for everyone signed in.
  { method: 'GET', url: '/api/v1/sessions', kind: 'api', admitted: 'ok' },
  { method: 'DELETE', url: '/api/v1/sessions/:id', kind: 'api', admitted: 'not-found' },
  { method: 'POST', url: '/api/v1/sessions/end-others', kind: 'api', body: () => ({}), admitted: 'ok' },
  // Remember this browser (issue 15): a user id is no remembered browser: 404 for everyone signed in.
  { method: 'GET', url: '/api/v1/remembered-browsers', kind: 'api', admitted: 'ok' },
  { method: 'DELETE', url: '/api/v1/remembered-browsers/:id', kind: 'api', admitted: 'not-found' },
  {
    method: 'POST',
    url: '/api/v1/password',
    kind: 'api',
    body: () => ({ currentPassword: wrongPasswordChange.currentPassword, newPassword: wrongPasswordChange.newPassword }),
    admitted: 'wrong-password',
  },

  // JSON API: your security (issue 14). ":id" is a user id, no factor of anyone's: 404 for everyone signed in.
  // Removing a factor, new recovery codes and adding an app ask for a current code first: none is sent.
  { method: 'GET', url: '/api/v1/factors', kind: 'api', admitted: 'ok' },
  { method: 'PATCH', url: '/api/v1/factors/:id', kind: 'api', body: () => ({ name: 'Renamed' }), admitted: 'not-found' },
  { method: 'DELETE', url: '/api/v1/factors/:id', kind: 'api', body: () => ({}), admitted: 'not-found' },
  { method: 'POST', url: '/api/v1/factors/totp', kind: 'api', body: () => ({}), admitted: 'step-up' },
  // Nothing is being added in these sessions: 409.
  { method: 'POST', url: '/api/v1/factors/totp/confirm', kind: 'api', body: () => ({ code: '000000' }), admitted: 'conflict' },
  { method: 'POST', url: '/api/v1/recovery-codes', kind: 'api', body: () => ({}), admitted: 'step-up' },
  // Adding a security key: options are a challenge for this session (harmless); an empty answer is refused.
  { method: 'POST', url: '/api/v1/factors/webauthn/options', kind: 'api', body: () => ({}), admitted: 'ok' },
  { method: 'POST', url: '/api/v1/factors/webauthn', kind: 'api', body: () => ({ credential: {} }), admitted: 'key-refused' },
];
