// Who may do what, route by route (SPEC "Who may do what"). Every route the
// app registers must have a rule here, and every rule must name a route the
// app has: matrix.security.test.ts fails otherwise, so a new route cannot ship
// without someone deciding, in this table, who may use it.
//
// A GET rule covers Fastify's automatic HEAD sibling too (same outcome,
// except that an unauthenticated HEAD of a page answers 401 rather than a
// redirect: the error handler redirects GET only).

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
 * - 'wrong-password': 400, allowed, and the current password given was checked and refused.
 */
export type Outcome = 'ok' | { redirect: string | RegExp } | 'login' | 'forbidden' | 'not-found' | 'conflict' | 'wrong-password';

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
  expect: Expectations;
  /** Answered only to listed (loopback) addresses: anyone else gets 404. */
  loopbackOnly?: boolean;
}

const noSession = ['anonymous', 'signed-out', 'expired'] as const;
const fullSessions = ['agent', 'agent-manager', 'admin', 'other-admin'] as const;

function table(parts: Partial<Expectations>): Expectations {
  const missing = principals.filter((p) => parts[p] === undefined);
  if (missing.length > 0) throw new Error(`rule without an outcome for ${missing.join(', ')}`);
  return parts as Expectations;
}

function each(names: readonly Principal[], outcome: Outcome): Partial<Expectations> {
  return Object.fromEntries(names.map((p) => [p, outcome]));
}

/** Public: the same answer for everyone. */
export function everyone(outcome: Outcome): Expectations {
  return table(each(principals, outcome));
}

/** Any full session, any role; nobody else. */
export function signedIn(outcome: Outcome): Expectations {
  return table({ ...each(noSession, 'login'), pending: 'login', ...each(fullSessions, outcome) });
}

/** Admins only; `otherAccount` is what B's admin gets (404 where A's ids are in the URL). */
export function adminOnly(outcome: Outcome, otherAccount: Outcome = outcome): Expectations {
  return table({
    ...each(noSession, 'login'),
    pending: 'login',
    agent: 'forbidden',
    'agent-manager': 'forbidden',
    admin: outcome,
    'other-admin': otherAccount,
  });
}

/** A password change that fails on the current password: harmless, and the same for everyone. */
const wrongPasswordChange = { currentPassword: 'not anyone’s password at all', newPassword: 'a new password nobody gets', confirmation: 'a new password nobody gets' };

/** A user's current values, so saving them changes nothing. */
const unchangedTarget = { role: 'agent', state: 'active', email: '' };

export const rules: Rule[] = [
  // Meta: public, no session needed.
  { method: 'GET', url: '/metrics', kind: 'asset', expect: everyone('ok'), loopbackOnly: true },
  { method: 'GET', url: '/healthz', kind: 'asset', expect: everyone('ok') },
  { method: 'GET', url: '/style.css', kind: 'asset', expect: everyone('ok') },
  { method: 'GET', url: '/app.js', kind: 'asset', expect: everyone('ok') },
  { method: 'GET', url: '/api/openapi.json', kind: 'asset', expect: everyone('ok') },

  // Sign-in pages.
  { method: 'GET', url: '/', kind: 'page', expect: signedIn('ok') },
  { method: 'GET', url: '/login', kind: 'page', expect: table({ ...each(noSession, 'ok'), pending: 'ok', ...each(fullSessions, { redirect: '/' }) }) },
  {
    // Signs in the throwaway user "pat" (MFA on: a pending sign-in), whoever asks.
    method: 'POST',
    url: '/login',
    kind: 'page',
    body: (c) => ({ accountId: c.accountA, username: 'pat', password: c.password }),
    expect: everyone({ redirect: '/login/mfa' }),
  },
  { method: 'POST', url: '/logout', kind: 'page', expect: everyone({ redirect: '/login' }) },
  {
    method: 'GET',
    url: '/login/mfa',
    kind: 'page',
    expect: table({ ...each(noSession, { redirect: '/login' }), pending: 'ok', ...each(fullSessions, { redirect: '/' }) }),
  },
  {
    method: 'POST',
    url: '/login/mfa',
    kind: 'page',
    body: (c) => ({ code: c.code() }),
    expect: table({ ...each(noSession, { redirect: '/login?notice=expired' }), pending: { redirect: '/' }, ...each(fullSessions, { redirect: '/' }) }),
  },

  // Management Console (admins, own account: no ids in these URLs).
  { method: 'GET', url: '/manage/console', kind: 'page', expect: adminOnly('ok') },
  { method: 'GET', url: '/manage/console/admin-secure', kind: 'page', expect: adminOnly('ok') },
  { method: 'GET', url: '/manage/console/account-access-control', kind: 'page', expect: adminOnly('ok') },
  {
    // Saves the current value (MFA on): nothing changes.
    method: 'POST',
    url: '/manage/console/account-access-control',
    kind: 'page',
    body: () => ({ mfaEnabled: 'on' }),
    expect: adminOnly({ redirect: '/manage/console/account-access-control?saved=1' }),
  },

  // Users & Skills.
  { method: 'GET', url: '/manage/users', kind: 'page', expect: adminOnly('ok') },
  {
    method: 'POST',
    url: '/manage/users',
    kind: 'page',
    body: (c) => ({ username: c.unique('made'), role: 'agent', password: c.password }),
    expect: adminOnly({ redirect: /^\/manage\/users\/[0-9a-f]{32}\?notice=created$/ }),
  },
  {
    method: 'POST',
    url: '/manage/skills',
    kind: 'page',
    body: (c) => ({ name: c.unique('Skill') }),
    expect: adminOnly({ redirect: '/manage/users?notice=skill' }),
  },
  { method: 'GET', url: '/manage/users/:id', kind: 'page', expect: adminOnly('ok', 'not-found') },
  {
    method: 'POST',
    url: '/manage/users/:id',
    kind: 'page',
    body: () => unchangedTarget,
    expect: adminOnly({ redirect: '/manage/users/:id?notice=saved' }, 'not-found'),
  },
  { method: 'GET', url: '/manage/users/:id/reset-mfa', kind: 'page', expect: adminOnly('ok', 'not-found') },
  {
    // The target is a throwaway user: a reset is harmless and repeatable.
    method: 'POST',
    url: '/manage/users/:id/reset-mfa',
    kind: 'page',
    expect: adminOnly({ redirect: '/manage/users/:id?notice=reset' }, 'not-found'),
  },
  { method: 'GET', url: '/manage/audit', kind: 'page', expect: adminOnly('ok') },

  // Your sessions: every signed-in user, their own sessions only. The principals
  // have no other live session each, so ending "the others" ends nothing here.
  { method: 'GET', url: '/account/sessions', kind: 'page', expect: signedIn('ok') },
  {
    method: 'POST',
    url: '/account/sessions/end',
    kind: 'page',
    body: () => ({ session: 'no-such-session-handle' }),
    expect: signedIn({ redirect: '/account/sessions?ended=gone' }),
  },
  { method: 'POST', url: '/account/sessions/end-others', kind: 'page', expect: signedIn({ redirect: '/account/sessions?ended=others' }) },
  // Change password: with a wrong current password, so nobody's password changes (one failure counted each run).
  { method: 'GET', url: '/account/password', kind: 'page', expect: signedIn('ok') },
  { method: 'POST', url: '/account/password', kind: 'page', body: () => wrongPasswordChange, expect: signedIn('wrong-password') },

  // JSON API: sign-in.
  {
    method: 'POST',
    url: '/api/v1/login',
    kind: 'api',
    body: (c) => ({ accountId: c.accountA, username: 'pat', password: c.password }),
    expect: everyone('ok'),
  },
  { method: 'POST', url: '/api/v1/logout', kind: 'api', body: () => ({}), expect: everyone('ok') },
  // A pending sign-in may read its own state (that is how a client learns a code is due).
  { method: 'GET', url: '/api/v1/session', kind: 'api', expect: table({ ...signedIn('ok'), pending: 'ok' }) },
  // Only a pending sign-in; this one's user is enrolled already, so: 409.
  { method: 'GET', url: '/api/v1/login/mfa/enrollment', kind: 'api', expect: table({ ...everyone('login'), pending: 'conflict' }) },
  { method: 'POST', url: '/api/v1/login/mfa', kind: 'api', body: (c) => ({ code: c.code() }), expect: table({ ...everyone('login'), pending: 'ok' }) },

  // JSON API: administration, mirroring the pages.
  { method: 'GET', url: '/api/v1/account', kind: 'api', expect: adminOnly('ok') },
  { method: 'PUT', url: '/api/v1/account/settings', kind: 'api', body: () => ({ mfaEnabled: true }), expect: adminOnly('ok') },
  { method: 'GET', url: '/api/v1/users', kind: 'api', expect: adminOnly('ok') },
  {
    method: 'POST',
    url: '/api/v1/users',
    kind: 'api',
    body: (c) => ({ username: c.unique('made'), role: 'agent', password: c.password }),
    expect: adminOnly('ok'),
  },
  { method: 'GET', url: '/api/v1/users/:id', kind: 'api', expect: adminOnly('ok', 'not-found') },
  { method: 'PATCH', url: '/api/v1/users/:id', kind: 'api', body: () => ({ role: 'agent' }), expect: adminOnly('ok', 'not-found') },
  { method: 'POST', url: '/api/v1/users/:id/reset-mfa', kind: 'api', body: () => ({}), expect: adminOnly('ok', 'not-found') },
  { method: 'GET', url: '/api/v1/audit', kind: 'api', expect: adminOnly('ok') },

  // JSON API: your sessions. A user id is no session handle: 404 for everyone signed in.
  { method: 'GET', url: '/api/v1/sessions', kind: 'api', expect: signedIn('ok') },
  { method: 'DELETE', url: '/api/v1/sessions/:id', kind: 'api', expect: signedIn('not-found') },
  { method: 'POST', url: '/api/v1/sessions/end-others', kind: 'api', body: () => ({}), expect: signedIn('ok') },
  {
    method: 'POST',
    url: '/api/v1/password',
    kind: 'api',
    body: () => ({ currentPassword: wrongPasswordChange.currentPassword, newPassword: wrongPasswordChange.newPassword }),
    expect: signedIn('wrong-password'),
  },
];
