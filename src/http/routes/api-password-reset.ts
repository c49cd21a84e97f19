import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { issuePasswordReset } from '../../services/password-reset.ts';
import { getUser } from '../../services/user-directory.ts';
import { actorOf } from '../actor.ts';
import { adminOperation, ErrorBody, IdParams } from '../api-schemas.ts';
import { AppError } from '../app-error.ts';
import { principalOf } from '../access.ts';
import { resetBaseUrl } from '../reset-base-url.ts';
import type { RouteContext } from '../route-context.ts';
import { requireApiStepUp } from '../step-up-gate.tsx';

/** Reset password for one user of the admin's account (issue 15), behind a step-up as Reset MFA is. */
export async function apiPasswordResetRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/users/:id/reset-password',
    {
      config: { access: { permission: 'manageUsers' } },
      schema: {
        ...adminOperation,
        summary: 'Reset password: a one-time link, valid 24 hours, to set a new password',
        description:
          'E-mailed to the user when they have an address; otherwise `link` holds it, this once, to pass on. A newer link makes older ones useless. ' +
          'When the caller’s own second factor was verified more than 15 minutes ago, send a current code (step-up).',
        params: IdParams,
        body: Type.Object({ code: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ emailed: Type.Boolean(), expiresAt: Type.String(), link: Type.Optional(Type.String()) }),
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          429: ErrorBody,
        },
      },
      // Only a step-up needs a body: a bare POST is a whole request.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const auth = principalOf(request);
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      await requireApiStepUp(deps, auth, request.body.code, request.ip);
      const result = await issuePasswordReset(deps, auth.account.id, user.id, actorOf(auth, request), resetBaseUrl(deps, request));
      if (!result.ok) throw new AppError('not_found');
      reply.header('cache-control', 'no-store');
      return { emailed: result.emailed, expiresAt: new Date(result.expiresAt).toISOString(), ...(result.emailed ? {} : { link: result.link }) };
    },
  );
}
