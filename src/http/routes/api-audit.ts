import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { listAudit } from '../../services/audit.ts';
import { adminOperation, Id } from '../api-schemas.ts';
import { principalOf } from '../access.ts';
import type { RouteContext } from '../route-context.ts';

const PAGE = 50;

const AuditEventJson = Type.Object({
  at: Type.String({ format: 'date-time' }),
  actor: Type.String({ description: 'Who acted: a username, "cli" or "anonymous"' }),
  action: Type.String({ description: 'What happened, e.g. "mfa.reset" or "sign_in.password"' }),
  target: Type.Union([Type.String(), Type.Null()], { description: 'The user acted on, by username' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'Facts of the event (never a secret or a code)' }),
});

/** The audit log, mirroring the audit page. */
export async function apiAuditRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/audit',
    {
      config: { access: { permission: 'viewAudit' } },
      schema: {
        ...adminOperation,
        summary: 'The audit log, newest first, 50 a page',
        querystring: Type.Object({
          userId: Type.Optional(Id),
          action: Type.Optional(Type.String({ maxLength: 64 })),
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        }),
        response: { 200: Type.Object({ events: Type.Array(AuditEventJson), page: Type.Integer() }) },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const { userId, action, page = 1 } = request.query;
      const events = await listAudit(deps, auth.account.id, { ...(userId ? { userId } : {}), ...(action ? { action } : {}), limit: PAGE, offset: (page - 1) * PAGE });
      return {
        events: events.map((e) => ({
          at: new Date(e.at).toISOString(),
          actor: e.actor,
          action: e.action,
          target: e.target,
          ip: e.ip,
          result: e.result,
          detail: e.detail,
        })),
        page,
      };
    },
  );
}
