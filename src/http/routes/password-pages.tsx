/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { minutesLeft, retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { changePassword } from '../../services/password-change.ts';
import { principalOf } from '../access.ts';
import { nextPage } from '../next-step.ts';
import { viewerOf } from '../viewer.ts';
import { setSessionCookie } from '../plugins/session.ts';
import { renderPage } from '../views/layout.tsx';
import { PasswordPage } from '../views/password.tsx';
import { accountPasswordRules } from '../../services/access-rules.ts';
import { csrfToken, formField } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';

const REQUIRED = 'Your password was set by an administrator. Choose your own password to continue: type the one you were given, then a new one.';

/** Change password, for every signed-in user (OWASP ASVS 4.0.3 2.1.5, 2.1.6, 3.3.3). */
export async function passwordPages(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const send = async (request: FastifyRequest, reply: FastifyReply, status: number, text: { error?: string; notice?: string } = {}) => {
    const auth = principalOf(request);
    // The account's login policy may ask for a longer password than the service does.
    const { minLength, maxLength } = await accountPasswordRules(deps, auth.account.id);
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(renderPage(<PasswordPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} minLength={minLength} maxLength={maxLength} {...text} />));
  };

  // The one page a user whose password an admin set can reach (issue 15): beforePasswordChange.
  app.get('/account/password', { config: { access: 'signed-in', beforePasswordChange: true } }, async (request, reply) => {
    const changed = (request.query as Record<string, unknown>).changed === '1';
    if (principalOf(request).user.passwordChangeRequired) return send(request, reply, 200, { notice: REQUIRED });
    return send(request, reply, 200, changed ? { notice: 'Your password is changed. Your other sessions are signed out.' } : {});
  });

  app.post('/account/password', { config: { access: 'signed-in', beforePasswordChange: true }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const result = await changePassword(
      deps,
      auth,
      {
        currentPassword: formField(request.body, 'currentPassword'),
        newPassword: formField(request.body, 'newPassword'),
        confirmation: formField(request.body, 'confirmation'),
      },
      request.ip,
    );
    if (result.ok) {
      setSessionCookie(reply, cookie, result.token);
      // A required change done, the sign-in goes on where it was going; the password is now the user's own.
      if (auth.user.passwordChangeRequired) return reply.redirect(nextPage(request, { passwordChangeRequired: false }), 303);
      return reply.redirect('/account/password?changed=1', 303);
    }
    switch (result.reason) {
      case 'conflict':
        return send(request, reply, 409, { error: 'Your password or session changed while this was sent. Sign in again if you are signed out.' });
      case 'invalid':
        return send(request, reply, 400, { error: result.message });
      case 'wrong_password':
        return send(request, reply, 400, { error: 'The current password is not correct.' });
      case 'locked': {
        const minutes = minutesLeft(result.lockedUntil, deps.clock.now());
        reply.header('retry-after', String(retryAfterSeconds(result.lockedUntil, deps.clock.now())));
        return send(request, reply, 429, { error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` });
      }
    }
  });
}
