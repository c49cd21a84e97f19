/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RESET_PATH, resetLinkTarget, usePasswordReset } from '../../services/password-reset.ts';
import { csrfToken, formField } from '../forms.ts';
import { renderPage } from '../views/layout.tsx';
import { MessagePage } from '../views/message.tsx';
import { SetPasswordPage } from '../views/password-reset.tsx';
import type { RouteContext } from '../route-context.ts';

// The page a Reset password link opens (issue 15), for anyone holding the
// link: no session is needed and none is made. A link used, expired or
// replaced by a newer one answers one clear page and changes nothing.

const GONE =
  'This link no longer works: it was used already, it expired (links last 24 hours), or a newer link was sent. Ask your administrator for a new one.';

export async function passwordResetPages(app: FastifyInstance, { deps }: RouteContext) {
  const { minLength, maxLength } = deps.settings.password;
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
  const gone = (request: FastifyRequest, reply: FastifyReply) =>
    html(reply, 404, renderPage(<MessagePage title="Link no longer valid" message={GONE} csrf={csrfToken(request, reply)} alert />));
  const token = (request: FastifyRequest) => (request.params as { token: string }).token;

  app.get(`${RESET_PATH}:token`, { config: { access: 'public' } }, async (request, reply) => {
    const target = await resetLinkTarget(deps, token(request));
    if (!target) return gone(request, reply);
    return html(
      reply,
      200,
      renderPage(<SetPasswordPage csrf={csrfToken(request, reply)} action={RESET_PATH + token(request)} {...target} minLength={minLength} maxLength={maxLength} />),
    );
  });

  app.post(`${RESET_PATH}:token`, { config: { access: 'public' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const result = await usePasswordReset(
      deps,
      token(request),
      { newPassword: formField(request.body, 'newPassword'), confirmation: formField(request.body, 'confirmation') },
      request.ip,
    );
    if (result.ok) {
      return html(
        reply,
        200,
        renderPage(<MessagePage title="Password set" message={`Your new password is set, ${result.username}, and your sessions are signed out. Sign in with it now.`} csrf={csrfToken(request, reply)} />),
      );
    }
    switch (result.reason) {
      case 'gone':
        return gone(request, reply);
      case 'invalid': {
        const target = await resetLinkTarget(deps, token(request));
        if (!target) return gone(request, reply);
        return html(
          reply,
          400,
          renderPage(
            <SetPasswordPage csrf={csrfToken(request, reply)} action={RESET_PATH + token(request)} {...target} minLength={minLength} maxLength={maxLength} error={result.message} />,
          ),
        );
      }
    }
  });
}
