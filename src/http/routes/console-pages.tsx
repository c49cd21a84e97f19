/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance } from 'fastify';
import { setAccountMfa } from '../../services/account-settings.ts';
import { principalOf } from '../access.ts';
import { viewerOf } from '../viewer.ts';
import { setSessionCookie } from '../plugins/session.ts';
import { AdminSecurePage, ConsolePage } from '../views/console.tsx';
import { sendAccessControlPage } from './access-rules-pages.tsx';
import type { SettingEntry } from '../views/console.tsx';
import { renderPage } from '../views/layout.tsx';
import { csrfToken, formField } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { requirePageStepUp } from '../step-up-gate.tsx';

/** What the console's search knows: each settings page with the words people type for it. */
const settings: Array<SettingEntry & { keywords: string[] }> = [
  {
    title: 'Account Access Control',
    section: 'Admin & Secure',
    href: '/manage/console/account-access-control',
    description: 'Multi-factor authentication (MFA), the second factors allowed, allowed networks (IP address ranges) and the login policy of this account.',
    keywords: [
      // Allowed networks and the login policy (issue 15).
      'ip',
      'ip address',
      'address',
      'network',
      'networks',
      'cidr',
      'office',
      'password',
      'password length',
      'lock',
      'lockout',
      'failed passwords',
      'session',
      'timeout',
      'idle',
      'inactive',
      'inactivity',
      'deactivate',
      'remember',
      'remember this browser',
      // The second factors allowed (issue 14).
      'security key',
      'passkey',
      'webauthn',
      'fido',
      'factor',
      'phishing',
      'mfa', 'multi-factor', 'multi factor', 'multifactor', 'two-factor', 'two factor', '2fa', 'totp', 'authenticator', 'access control', 'security', 'sign-in', 'login', 'otp'],
  },
  {
    title: 'Applications',
    section: 'Admin & Secure',
    href: '/manage/console/applications',
    description: 'The applications (OpenID Connect clients) that sign their users in through Portcullis: redirect URIs, secrets, launch links.',
    keywords: ['application', 'applications', 'oidc', 'openid', 'openid connect', 'client', 'clients', 'client id', 'client secret', 'sso', 'single sign-on', 'redirect', 'launcher'],
  },
  {
    title: 'Users & Skills',
    section: 'Management Console',
    href: '/manage/users',
    description: 'Add users, assign skills, reset a user’s MFA.',
    keywords: ['users', 'user', 'skills', 'agents', 'roles', 'reset mfa', 'people'],
  },
  {
    title: 'Audit log',
    section: 'Admin & Secure',
    href: '/manage/audit',
    description: 'Who did what, to whom, when and from where.',
    keywords: ['audit', 'log', 'events', 'history', 'activity'],
  },
];

export function searchSettings(query: string): SettingEntry[] {
  const q = query.trim().toLowerCase().replace(/\s+/g, ' ');
  if (q === '') return [];
  return settings
    .filter((s) => s.title.toLowerCase().includes(q) || s.keywords.some((k) => k.includes(q) || (q.length >= 3 && q.includes(k))))
    .map(({ keywords: _keywords, ...entry }) => entry);
}

export async function consolePages(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const html = 'text/html; charset=utf-8';

  app.get('/manage/console', { config: { access: { permission: 'manageAccount' } } }, async (request, reply) => {
    const auth = principalOf(request);
    const raw = (request.query as Record<string, unknown>).q;
    const query = typeof raw === 'string' ? raw.slice(0, 100) : '';
    const results = typeof raw === 'string' ? searchSettings(query) : undefined;
    return reply.type(html).send(renderPage(<ConsolePage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} query={query} results={results} />));
  });

  app.get('/manage/console/admin-secure', { config: { access: { permission: 'manageAccount' } } }, async (request, reply) => {
    const auth = principalOf(request);
    return reply.type(html).send(renderPage(<AdminSecurePage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} />));
  });

  app.get('/manage/console/account-access-control', { config: { access: { permission: 'manageAccount' } } }, async (request, reply) => {
    const auth = principalOf(request);
    const saved = (request.query as Record<string, unknown>).saved === '1';
    return sendAccessControlPage(deps, request, reply, auth, 200, { notice: saved ? 'Saved.' : undefined });
  });

  app.post('/manage/console/account-access-control', { config: { access: { permission: 'manageAccount' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const enabled = formField(request.body, 'mfaEnabled') === 'on';
    if (!enabled && auth.account.mfaEnabled) {
      if (await requirePageStepUp(deps, request, reply, auth, { action: '/manage/console/account-access-control', what: 'switch multi-factor authentication off', fields: { mfaEnabled: 'off' } })) return reply;
    }
    const result = await setAccountMfa(deps, auth, enabled, request.ip);
    if (result.change === 'enabled' && result.pendingToken) {
      // The admin's own session had no second factor: set up (or verify) now.
      setSessionCookie(reply, cookie, result.pendingToken);
      return reply.redirect('/login/mfa', 303);
    }
    return reply.redirect('/manage/console/account-access-control?saved=1', 303);
  });
}
