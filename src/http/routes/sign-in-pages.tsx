/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { minutesLeft } from '../../domain/lockout-policy.ts';
import { launchableApplications } from '../../services/applications.ts';
import { endSession } from '../../services/sessions.ts';
import { signIn } from '../../services/sign-in.ts';
import { accountOffersPasskeys, passkeySignIn } from '../../services/passkey-sign-in.ts';
import { relyingPartyOf } from '../relying-party.ts';
import { endBrowserApplicationSession } from '../../services/oidc/revocation.ts';
import { PROVIDER_SESSION_COOKIE } from '../../services/oidc/index.ts';
import { principalOf } from '../access.ts';
import { nextPage } from '../next-step.ts';
import { viewerOf } from '../viewer.ts';
import { clearPasskeyCookie, clearSessionCookie, passkeyToken, sessionToken, setSessionCookie } from '../plugins/session.ts';
import { HomePage } from '../views/home.tsx';
import { renderPage } from '../views/layout.tsx';
import { LoginPage } from '../views/login.tsx';
import type { LoginPageProps } from '../views/login.tsx';
import type { InteractionContext } from '../../services/oidc/index.ts';
import { csrfToken, formField, noticeFor } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { applicationContext } from './oidc-routes.tsx';
import { allowFormTargets, originsOf } from '../plugins/security.ts';
import { rememberToken } from '../remember-cookie.ts';

/** Why a visitor was sent back to the sign-in page. */
const notices: Record<string, string> = {
  restart: 'Too many wrong codes. Sign in again to get new attempts.',
  expired: 'Your sign-in took too long. Sign in again.',
  signed_out: 'You have been signed out.',
};

function appOf(context: InteractionContext): NonNullable<LoginPageProps['application']> {
  return { name: context.application.name, accountName: context.accountName };
}



function sendLogin(reply: FastifyReply, status: number, props: LoginPageProps) {
  return reply.code(status).type('text/html; charset=utf-8').send(renderPage(<LoginPage {...props} />));
}

export async function signInPages(app: FastifyInstance, ctx: RouteContext) {
  const { deps, cookie } = ctx;
  /** Whether the page offers "Sign in with a passkey": on a plain sign-in page always (it asks the account number first); for an application, when its account allows passkeys. */
  const offersPasskey = async (context: InteractionContext | undefined): Promise<boolean> =>
    context === undefined || (await accountOffersPasskeys(deps, context.application.accountId));
  app.get('/', { config: { access: 'signed-in' } }, async (request, reply) => {
    const auth = principalOf(request);
    const applications = await launchableApplications(deps, auth.account.id);
    return reply.type('text/html; charset=utf-8').send(renderPage(<HomePage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} applications={applications} />));
  });

  app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
    const application = await applicationContext(request, reply, ctx);
    if (request.auth?.session.state === 'full' && !application) return reply.redirect(nextPage(request, request.auth.user), 303);
    const notice = noticeFor(notices, (request.query as Record<string, unknown>).notice);
    if (application) allowFormTargets(reply, originsOf(application.application.redirectUris));
    return sendLogin(reply, 200, { csrf: csrfToken(request, reply), notice, application: application && appOf(application), passkey: await offersPasskey(application) });
  });

  app.post('/login', { config: { access: 'public' }, preHandler: app.csrfProtection }, async (request, reply) => {
    // Sent by an application: its account, whatever the form says (the page does not ask).
    const application = await applicationContext(request, reply, ctx);
    const accountId = application ? application.application.accountId : formField(request.body, 'accountId').trim();
    if (application) allowFormTargets(reply, originsOf(application.application.redirectUris));
    const context = application && appOf(application);
    const passkey = await offersPasskey(application);
    const username = formField(request.body, 'username').trim();
    const password = formField(request.body, 'password');
    const result = await signIn(deps, {
      accountId,
      username,
      password,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      secondFactorRequested: application?.mfaRequested === true,
      rememberedToken: rememberToken(request, cookie),
    });
    if (result.ok) {
      // A new session id on every sign-in: whatever session the browser had ends here.
      const previous = sessionToken(request, cookie);
      if (previous) await endSession(deps, previous);
      setSessionCookie(reply, cookie, result.token);
      return reply.redirect(result.state === 'pending' ? '/login/mfa' : nextPage(request, result), 303);
    }
    const csrf = csrfToken(request, reply);
    switch (result.reason) {
      case 'locked': {
        const minutes = minutesLeft(result.lockedUntil, deps.clock.now());
        return sendLogin(reply, 429, {
          csrf,
          accountId,
          username,
          application: context,
          passkey,
          error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        });
      }
      case 'invalid':
        return sendLogin(reply, 401, {
          csrf,
          accountId,
          username,
          application: context,
          passkey,
          error: context ? 'Incorrect username or password' : 'Incorrect account number, username or password',
        });
      case 'network':
        return sendLogin(reply, 403, { csrf, accountId, username, passkey, error: 'Sign-in is not allowed from this network' });
    }
  });

  // Sign in with a passkey (issue 14): the browser's answer to the options of
  // /api/v1/login/passkey/options, which named the account; no password.
  app.post('/login/passkey', { config: { access: 'public' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const application = await applicationContext(request, reply, ctx);
    if (application) allowFormTargets(reply, originsOf(application.application.redirectUris));
    const context = application && appOf(application);
    const result = await passkeySignIn(deps, {
      token: passkeyToken(request, cookie),
      credential: formField(request.body, 'credential'),
      relyingParty: relyingPartyOf(request, deps.settings.publicUrl),
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      accountId: application?.application.accountId,
    });
    if (result.ok) {
      const previous = sessionToken(request, cookie);
      if (previous) await endSession(deps, previous);
      clearPasskeyCookie(reply, cookie);
      setSessionCookie(reply, cookie, result.token);
      return reply.redirect(nextPage(request, result.user), 303);
    }
    const csrf = csrfToken(request, reply);
    const passkey = await offersPasskey(application);
    switch (result.reason) {
      case 'locked': {
        const minutes = minutesLeft(result.lockedUntil, deps.clock.now());
        return sendLogin(reply, 429, { csrf, application: context, passkey, error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` });
      }
      case 'invalid':
        return sendLogin(reply, 401, { csrf, application: context, passkey, error: 'Your passkey was not accepted. Try again, or sign in with your password.' });
      case 'network':
        return sendLogin(reply, 403, { csrf, application: context, passkey, error: 'Sign-in is not allowed from this network' });
    }
  });

  app.post('/logout', { config: { access: 'public' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const token = sessionToken(request, cookie);
    if (token) await endSession(deps, token);
    clearSessionCookie(reply, cookie);
    // Signing out of Portcullis signs this browser out of its applications too.
    const providerSession = request.cookies[PROVIDER_SESSION_COOKIE];
    if (providerSession && /^[A-Za-z0-9_-]{1,64}$/.test(providerSession)) {
      await endBrowserApplicationSession(deps, providerSession);
      reply.clearCookie(PROVIDER_SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax' });
    }
    return reply.redirect('/login', 303);
  });
}
