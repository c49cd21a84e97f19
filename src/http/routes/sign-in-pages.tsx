/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { minutesLeft } from '../../domain/lockout-policy.ts';
import { endSession } from '../../services/sessions.ts';
import { signIn } from '../../services/sign-in.ts';
import { principalOf } from '../access.ts';
import { viewerOf } from '../viewer.ts';
import { clearSessionCookie, sessionToken, setSessionCookie } from '../plugins/session.ts';
import { HomePage } from '../views/home.tsx';
import { renderPage } from '../views/layout.tsx';
import { LoginPage } from '../views/login.tsx';
import type { LoginPageProps } from '../views/login.tsx';
import { csrfToken, formField, noticeFor } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';

/** Why a visitor was sent back to the sign-in page. */
const notices: Record<string, string> = {
  restart: 'Too many wrong codes. Sign in again to get new attempts.',
  expired: 'Your sign-in took too long. Sign in again.',
  signed_out: 'You have been signed out.',
};

function sendLogin(reply: FastifyReply, status: number, props: LoginPageProps) {
  return reply.code(status).type('text/html; charset=utf-8').send(renderPage(<LoginPage {...props} />));
}

export async function signInPages(app: FastifyInstance, { deps, cookie }: RouteContext) {
  app.get('/', { config: { access: 'signed-in' } }, async (request, reply) => {
    const auth = principalOf(request);
    return reply.type('text/html; charset=utf-8').send(renderPage(<HomePage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} />));
  });

  app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
    if (request.auth?.session.state === 'full') return reply.redirect('/', 303);
    const notice = noticeFor(notices, (request.query as Record<string, unknown>).notice);
    return sendLogin(reply, 200, { csrf: csrfToken(request, reply), notice });
  });

  app.post('/login', { config: { access: 'public' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const accountId = formField(request.body, 'accountId').trim();
    const username = formField(request.body, 'username').trim();
    const password = formField(request.body, 'password');
    const result = await signIn(deps, { accountId, username, password, ip: request.ip, userAgent: request.headers['user-agent'] });
    if (result.ok) {
      // A new session id on every sign-in: whatever session the browser had ends here.
      const previous = sessionToken(request, cookie);
      if (previous) await endSession(deps, previous);
      setSessionCookie(reply, cookie, result.token);
      return reply.redirect(result.state === 'pending' ? '/login/mfa' : '/', 303);
    }
    const csrf = csrfToken(request, reply);
    switch (result.reason) {
      case 'locked': {
        const minutes = minutesLeft(result.lockedUntil, deps.clock.now());
        return sendLogin(reply, 429, {
          csrf,
          accountId,
          username,
          error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        });
      }
      case 'invalid':
        return sendLogin(reply, 401, { csrf, accountId, username, error: 'Incorrect account number, username or password' });
      case 'network':
        return sendLogin(reply, 403, { csrf, accountId, username, error: 'Sign-in is not allowed from this network' });
    }
  });

  app.post('/logout', { config: { access: 'public' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const token = sessionToken(request, cookie);
    if (token) await endSession(deps, token);
    clearSessionCookie(reply, cookie);
    return reply.redirect('/login', 303);
  });
}
