import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../app-error.ts';
import { secondFactorMethods } from '../../domain/auth-methods.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { submitCode } from '../../services/mfa-challenge.ts';
import { hasFactor } from '../../services/factors/index.ts';
import { totpOffer } from '../../services/factors/totp.ts';
import { principalOf } from '../access.ts';
import { nextApiState } from '../next-step.ts';
import { clearSessionCookie, setSessionCookie } from '../plugins/session.ts';
import { ErrorBody, TooMany } from '../api-schemas.ts';
import type { RouteContext } from '../route-context.ts';

export async function apiMfaRoutes(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/login/mfa/enrollment',
    {
      config: { access: 'pending' },
      schema: {
        tags: ['auth'],
        summary: 'The authenticator set-up of a pending sign-in without one: the key URI and the key for typing by hand',
        response: { 200: Type.Object({ otpauthUri: Type.String(), manualKey: Type.String() }), 401: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const view = principalOf(request);
      if (await hasFactor(deps, view.account.id, view.user.id)) throw new AppError('conflict', 'An authenticator is already set up; send its code.');
      const offer = await totpOffer(deps, view);
      if (!offer) throw new Error('could not prepare an enrolment secret');
      return { otpauthUri: offer.uri, manualKey: offer.manualKey };
    },
  );

  api.post(
    '/api/v1/login/mfa',
    {
      config: { access: 'pending' },
      schema: {
        tags: ['auth'],
        summary: 'Complete a sign-in with an authenticator app\'s code or a recovery code (also confirms a new authenticator)',
        description: 'The client says what it sends: `method` is `totp` (the default) for a code from an authenticator app, `recovery_code` for a recovery code.',
        body: Type.Object(
          {
            code: Type.String({ minLength: 1, maxLength: 64 }),
            method: Type.Optional(Type.Union(secondFactorMethods.map((m) => Type.Literal(m)), { default: 'totp' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            state: Type.Union([Type.Literal('authenticated'), Type.Literal('password_change_required')]),
            recoveryCodes: Type.Optional(Type.Array(Type.String(), { description: 'Shown once, after a new authenticator is confirmed' })),
            recoveryCodesLeft: Type.Optional(Type.Integer()),
          }),
          400: ErrorBody,
          401: ErrorBody,
          429: TooMany,
        },
      },
    },
    async (request, reply) => {
      const view = principalOf(request);
      const result = await submitCode(deps, view, { method: request.body.method ?? 'totp', code: request.body.code }, request.ip);
      if (result.ok) {
        setSessionCookie(reply, cookie, result.token);
        return {
          state: nextApiState(request, view.user),
          ...(result.recoveryCodes ? { recoveryCodes: result.recoveryCodes } : {}),
          ...(result.recoveryCodesLeft !== undefined ? { recoveryCodesLeft: result.recoveryCodesLeft } : {}),
        };
      }
      switch (result.reason) {
        case 'invalid':
          throw new AppError('invalid_code', undefined, result.clockSkewMinutes ? { clockSkewMinutes: result.clockSkewMinutes } : {});
        case 'locked':
          clearSessionCookie(reply, cookie);
          throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(result.lockedUntil, deps.clock.now()) });
        case 'restart':
          clearSessionCookie(reply, cookie);
          throw new AppError('session_expired');
      }
    },
  );
}
