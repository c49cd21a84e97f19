/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance } from 'fastify';
import { isId } from '../../domain/ids.ts';
import { listAudit } from '../../services/audit.ts';
import { accountUserNames } from '../../services/user-directory.ts';
import { principalOf } from '../access.ts';
import { viewerOf } from '../viewer.ts';
import { AuditPage, auditActions } from '../views/audit.tsx';
import { renderPage } from '../views/layout.tsx';
import { csrfToken } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';

const PAGE = 50;

export async function auditPages(app: FastifyInstance, { deps }: RouteContext) {
  app.get('/manage/audit', { config: { access: { permission: 'viewAudit' } } }, async (request, reply) => {
    const auth = principalOf(request);
    const q = request.query as Record<string, unknown>;
    const userId = isId(q.user) ? q.user : '';
    const action = typeof q.action === 'string' && auditActions.some(([v]) => v === q.action) ? q.action : '';
    const page = typeof q.page === 'string' && /^\d{1,6}$/.test(q.page) ? Math.max(1, Number(q.page)) : 1;
    const [events, users] = await Promise.all([
      listAudit(deps, auth.account.id, { ...(userId ? { userId } : {}), ...(action ? { action } : {}), limit: PAGE + 1, offset: (page - 1) * PAGE }),
      accountUserNames(deps, auth.account.id, 500),
    ]);
    return reply.type('text/html; charset=utf-8').send(
      renderPage(
        <AuditPage
          csrf={csrfToken(request, reply)}
          viewer={viewerOf(auth)}
          events={events.slice(0, PAGE)}
          users={users}
          userId={userId}
          action={action}
          page={page}
          hasMore={events.length > PAGE}
        />,
      ),
    );
  });
}
