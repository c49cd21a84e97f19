import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../../domain/errors.ts';
import { endOwnSessions, listOwnSessions } from '../../services/own-sessions.ts';
import { requireFull } from '../guards.ts';
import { ErrorBody } from './api-schemas.ts';
import type { RouteOptions } from './sign-in-pages.tsx';

const OwnSession = Type.Object({
  id: Type.String({ description: 'A handle for this session (not its token)' }),
  current: Type.Boolean({ description: 'The session this request came with' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  device: Type.Union([Type.String(), Type.Null()], { description: 'A short name for the browser and system, from the User-Agent' }),
});

/** The signed-in user's own sessions (OWASP ASVS 4.0.3 3.3.4), mirroring "Your sessions". */
export async function apiSessionRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const iso = (ms: number) => new Date(ms).toISOString();

  api.get(
    '/api/v1/sessions',
    {
      onRequest: async (request) => void requireFull(request),
      schema: {
        tags: ['sessions'],
        summary: 'Your sessions: where you are signed in, the most recently used first',
        response: { 200: Type.Object({ sessions: Type.Array(OwnSession) }), 401: ErrorBody },
      },
    },
    async (request) => {
      const sessions = await listOwnSessions(deps, requireFull(request));
      return { sessions: sessions.map((s) => ({ id: s.handle, current: s.current, createdAt: iso(s.createdAt), lastSeenAt: iso(s.lastSeenAt), ip: s.ip, device: s.device })) };
    },
  );

  api.delete(
    '/api/v1/sessions/:id',
    {
      onRequest: async (request) => void requireFull(request),
      schema: {
        tags: ['sessions'],
        summary: 'Sign out one of your other sessions (your own is POST /api/v1/logout)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Type.Object({ ended: Type.Integer() }), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const ended = await endOwnSessions(deps, requireFull(request), { handle: request.params.id }, request.ip);
      if (ended === undefined) throw new AppError('not_found');
      return { ended };
    },
  );

  api.post(
    '/api/v1/sessions/end-others',
    {
      onRequest: async (request) => void requireFull(request),
      schema: {
        tags: ['sessions'],
        summary: 'Sign out every one of your sessions but this one',
        response: { 200: Type.Object({ ended: Type.Integer() }), 401: ErrorBody },
      },
    },
    async (request) => ({ ended: (await endOwnSessions(deps, requireFull(request), 'others', request.ip)) ?? 0 }),
  );
}
