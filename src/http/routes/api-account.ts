import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { setAccountMfa } from '../../services/account-settings.ts';
import { hasFactor } from '../../services/factors/index.ts';
import { adminOperation, ErrorBody } from '../api-schemas.ts';
import { principalOf } from '../access.ts';
import { setSessionCookie } from '../plugins/session.ts';
import type { RouteContext } from '../route-context.ts';
import { requireApiStepUp } from '../step-up-gate.tsx';

/** The admin's own account and its Account Access Control setting, mirroring the console pages. */
export async function apiAccountRoutes(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/account',
    { config: { access: { permission: 'manageAccount' } }, schema: { ...adminOperation, summary: 'The account and its settings', response: { 200: Type.Object({ accountId: Type.String(), name: Type.String(), mfaEnabled: Type.Boolean() }) } } },
    async (request) => {
      const auth = principalOf(request);
      return { accountId: auth.account.id, name: auth.account.name, mfaEnabled: auth.account.mfaEnabled };
    },
  );

  api.put(
    '/api/v1/account/settings',
    {
      config: { access: { permission: 'manageAccount' } },
      schema: {
        ...adminOperation,
        summary: 'Account Access Control: switch multi-factor authentication on or off',
        description: 'Switching MFA off is a sensitive action: when the caller’s own second factor was verified more than 15 minutes ago, send a current code (step-up).',
        body: Type.Object({ mfaEnabled: Type.Boolean(), code: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            mfaEnabled: Type.Boolean(),
            sessionsEnded: Type.Integer(),
            state: Type.Union([Type.Literal('authenticated'), Type.Literal('mfa_required'), Type.Literal('mfa_enrollment_required')]),
          }),
          401: ErrorBody,
          403: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const auth = principalOf(request);
      if (!request.body.mfaEnabled && auth.account.mfaEnabled) await requireApiStepUp(deps, auth, request.body.code, request.ip);
      const result = await setAccountMfa(deps, auth, request.body.mfaEnabled, request.ip);
      if (result.change === 'enabled' && result.pendingToken) {
        setSessionCookie(reply, cookie, result.pendingToken);
        const enrolled = await hasFactor(deps, auth.account.id, auth.user);
        return { mfaEnabled: true, sessionsEnded: result.sessionsEnded, state: enrolled ? ('mfa_required' as const) : ('mfa_enrollment_required' as const) };
      }
      return { mfaEnabled: request.body.mfaEnabled, sessionsEnded: result.change === 'enabled' ? result.sessionsEnded : 0, state: 'authenticated' as const };
    },
  );
}
