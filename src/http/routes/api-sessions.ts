import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../app-error.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { endOwnSessions, listOwnSessions } from '../../services/own-sessions.ts';
import { changePassword } from '../../services/password-change.ts';
import { principalOf } from '../access.ts';
import { providerSessionOf } from '../provider-session.ts';
import { setSessionCookie } from '../plugins/session.ts';
import { ErrorBody, TooMany, Unavailable } from '../api-schemas.ts';
import type { RouteContext } from '../route-context.ts';

const OwnSession = Type.Object({
  id: Type.String({ description: 'A handle for this session (not its token)' }),
  current: Type.Boolean({ description: 'The session this request came with' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  device: Type.Union([Type.String(), Type.Null()], { description: 'A short name for the browser and system, from the User-Agent' }),
  signedInWith: Type.String({ description: 'How it was signed in, e.g. "password and authenticator app"' }),
  amr: Type.Array(Type.String(), { description: 'The same as RFC 8176 authentication method values: pwd, otp, mfa' }),
});

/** The signed-in user's own sessions (OWASP ASVS 4.0.3 3.3.4) and password, mirroring "Your sessions" and "Change password". */
export async function apiSessionRoutes(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const iso = (ms: number) => new Date(ms).toISOString();

  api.get(
    '/api/v1/sessions',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['sessions'],
        summary: 'Your sessions: where you are signed in, the most recently used first',
        response: { 200: Type.Object({ sessions: Type.Array(OwnSession) }), 401: ErrorBody },
      },
    },
    async (request) => {
      const sessions = await listOwnSessions(deps, principalOf(request));
      return { sessions: sessions.map((s) => ({ id: s.handle, current: s.current, createdAt: iso(s.createdAt), lastSeenAt: iso(s.lastSeenAt), ip: s.ip, device: s.device, signedInWith: s.signedInWith, amr: s.amr })) };
    },
  );

  api.delete(
    '/api/v1/sessions/:id',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['sessions'],
        summary: 'Sign out one of your other sessions (your own is POST /api/v1/logout)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Type.Object({ ended: Type.Integer() }), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const ended = await endOwnSessions(deps, principalOf(request), { handle: request.params.id }, request.ip);
      if (ended === undefined) throw new AppError('not_found');
      return { ended };
    },
  );

  api.post(
    '/api/v1/sessions/end-others',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['sessions'],
        summary: 'Sign out every one of your sessions but this one (and the applications of every other browser)',
        response: { 200: Type.Object({ ended: Type.Integer() }), 401: ErrorBody },
      },
    },
    async (request) => ({ ended: (await endOwnSessions(deps, principalOf(request), 'others', request.ip, providerSessionOf(request))) ?? 0 }),
  );

  api.post(
    '/api/v1/password',
    {
      config: { access: 'signed-in', beforePasswordChange: true },
      schema: {
        tags: ['sessions'],
        summary: 'Change your password: the current one and the new one; your other sessions end',
        body: Type.Object(
          { currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Type.String({ minLength: 1, maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        description: 'This session continues under a new cookie; every other session of yours ends.',
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }), 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 429: TooMany, 503: Unavailable },
      },
    },
    async (request, reply) => {
      const result = await changePassword(deps, principalOf(request), request.body, request.ip);
      if (result.ok) {
        setSessionCookie(reply, cookie, result.token);
        return { sessionsEnded: result.sessionsEnded };
      }
      switch (result.reason) {
        case 'conflict':
          throw new AppError('conflict', 'Your password or session changed while this was sent.');
        case 'invalid':
          throw new AppError('invalid_request', result.message);
        case 'wrong_password':
          throw new AppError('wrong_password');
        case 'locked':
          throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(result.lockedUntil, deps.clock.now()) });
      }
    },
  );
}
