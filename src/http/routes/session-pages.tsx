/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance } from 'fastify';
import { endOwnSessions, listOwnSessions } from '../../services/own-sessions.ts';
import { principalOf } from '../access.ts';
import { providerSessionOf } from '../provider-session.ts';
import { viewerOf } from '../viewer.ts';
import { renderPage } from '../views/layout.tsx';
import { SessionsPage } from '../views/sessions.tsx';
import { csrfToken, formField, noticeFor } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';

const notices: Record<string, string> = {
  one: 'That session is signed out.',
  others: 'Every other session is signed out.',
  gone: 'That session had ended already.',
};

/** "Your sessions", for every signed-in user (OWASP ASVS 4.0.3 3.3.4). */
export async function sessionPages(app: FastifyInstance, { deps }: RouteContext) {
  app.get('/account/sessions', { config: { access: 'signed-in' } }, async (request, reply) => {
    const auth = principalOf(request);
    const notice = noticeFor(notices, (request.query as Record<string, unknown>).ended);
    const sessions = await listOwnSessions(deps, auth);
    return reply
      .type('text/html; charset=utf-8')
      .send(renderPage(<SessionsPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} sessions={sessions} notice={notice} />));
  });

  app.post('/account/sessions/end', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const ended = await endOwnSessions(deps, auth, { handle: formField(request.body, 'session').slice(0, 64) }, request.ip);
    return reply.redirect(`/account/sessions?ended=${ended ? 'one' : 'gone'}`, 303);
  });

  app.post('/account/sessions/end-others', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    await endOwnSessions(deps, auth, 'others', request.ip, providerSessionOf(request));
    return reply.redirect('/account/sessions?ended=others', 303);
  });
}
