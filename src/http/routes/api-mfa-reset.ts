import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { resetMfa } from '../../services/mfa-reset.ts';
import { needsStepUp, stepUp } from '../../services/step-up.ts';
import { getUser } from '../../services/user-directory.ts';
import { actorOf } from '../actor.ts';
import { adminOperation, ErrorBody, IdParams } from '../api-schemas.ts';
import { AppError } from '../app-error.ts';
import { principalOf } from '../access.ts';
import type { RouteContext } from '../route-context.ts';

/** Reset MFA for one user of the admin's account, behind a step-up of the admin's own code. */
export async function apiMfaResetRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/users/:id/reset-mfa',
    {
      config: { access: { permission: 'resetMfa' } },
      schema: {
        ...adminOperation,
        summary: 'Reset MFA: revoke the authenticator and recovery codes, end the user’s sessions',
        description: 'When the caller’s own second factor was verified more than 15 minutes ago, send a current code (step-up).',
        params: IdParams,
        body: Type.Object({ code: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ reset: Type.Literal(true), sessionsEnded: Type.Integer() }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
      // Only a step-up needs a body: a bare POST is a whole request.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      if (await needsStepUp(deps, auth)) {
        const code = request.body.code;
        if (!code) throw new AppError('step_up_required');
        const verified = await stepUp(deps, auth, code, request.ip);
        if (!verified.ok) {
          switch (verified.reason) {
            case 'locked':
              throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(verified.lockedUntil, deps.clock.now()) });
            case 'invalid':
              throw new AppError('invalid_code');
          }
        }
      }
      const result = await resetMfa(deps, auth.account.id, user.id, actorOf(auth, request));
      if (!result.ok) throw new AppError('not_found');
      return { reset: true as const, sessionsEnded: result.sessionsEnded };
    },
  );
}
