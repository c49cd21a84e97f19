import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { resetMfa } from '../../services/mfa-reset.ts';
import { forgetUserBrowsers } from '../../services/remembered-browsers.ts';
import { getUser } from '../../services/user-directory.ts';
import { actorOf } from '../actor.ts';
import { adminOperation, ErrorBody, IdParams } from '../api-schemas.ts';
import { AppError } from '../app-error.ts';
import { principalOf } from '../access.ts';
import type { RouteContext } from '../route-context.ts';
import { requireApiStepUp } from '../step-up-gate.tsx';

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
        response: { 200: Type.Object({ reset: Type.Literal(true), sessionsEnded: Type.Integer() }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 429: ErrorBody },
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
      await requireApiStepUp(deps, auth, request.body.code, request.ip);
      const result = await resetMfa(deps, auth.account.id, user.id, actorOf(auth, request));
      if (!result.ok) throw new AppError(result.reason === 'only_admin' ? 'only_admin_own_mfa' : 'not_found');
      return { reset: true as const, sessionsEnded: result.sessionsEnded };
    },
  );

  // Remember this browser (issue 15): no step-up, since it only takes a way in away.
  api.post(
    '/api/v1/users/:id/forget-browsers',
    {
      config: { access: { permission: 'resetMfa' } },
      schema: {
        ...adminOperation,
        summary: 'Forget remembered browsers: every browser that signs the user in without a code asks for one again',
        params: IdParams,
        body: Type.Object({}, { additionalProperties: false }),
        response: { 200: Type.Object({ forgotten: Type.Integer() }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
      // A bare POST is a whole request.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      return { forgotten: await forgetUserBrowsers(deps, auth.account.id, user, actorOf(auth, request)) };
    },
  );
}
