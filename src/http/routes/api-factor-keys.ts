import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { webauthnDefaults } from '../../config/defaults.ts';
import { FACTOR_NAME_MAX } from '../../services/own-factors.ts';
import { addSecurityKey, keyAdditionOptions } from '../../services/key-addition.ts';
import { principalOf } from '../access.ts';
import { AppError } from '../app-error.ts';
import { ErrorBody } from '../api-schemas.ts';
import { relyingPartyOf } from '../relying-party.ts';
import type { RouteContext } from '../route-context.ts';
import { CurrentCode, Factor, RecoveryCodes, factorJson, proofError, proofErrors } from './api-factors.ts';

// Adding a security key or passkey from "Your security" (issue 14): the
// registration ceremony's options, then the browser's answer with a current
// code beside it (services/key-addition.ts).

export async function apiFactorKeyRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['security'];

  api.post(
    '/api/v1/factors/webauthn/options',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'Start adding a security key or passkey: the options for navigator.credentials.create() (WebAuthn JSON)',
        description: 'The challenge is kept for this session, used once, and expires after 5 minutes. Send the browser\'s answer to `POST /api/v1/factors/webauthn`.',
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 200: Type.Object({ mode: Type.Literal('register'), options: Type.Object({}, { additionalProperties: true }) }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => keyAdditionOptions(deps, principalOf(request), relyingPartyOf(request, deps.settings.publicUrl)),
  );

  api.post(
    '/api/v1/factors/webauthn',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'Add a security key or passkey: the browser\'s answer, with a current code when you hold an authenticator app',
        body: Type.Object(
          { credential: Type.Object({}, { additionalProperties: true }), code: Type.Optional(CurrentCode), name: Type.Optional(Type.String({ maxLength: FACTOR_NAME_MAX * 4 })) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ factor: Factor, recoveryCodes: Type.Optional(RecoveryCodes) }), 400: ErrorBody, ...proofErrors, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const credential = JSON.stringify(request.body.credential);
      if (credential.length > webauthnDefaults.maxResponseChars) throw new AppError('invalid_request', 'The security key\'s answer is too long.');
      const rp = relyingPartyOf(request, deps.settings.publicUrl);
      const result = await addSecurityKey(deps, principalOf(request), { credential, code: request.body.code, name: request.body.name }, rp, request.ip);
      if (result.ok) return reply.code(201).send({ factor: factorJson(result.factor), ...(result.recoveryCodes ? { recoveryCodes: result.recoveryCodes } : {}) });
      if (result.reason === 'invalid_name') throw new AppError('invalid_name', result.message);
      if (result.reason === 'key_refused') throw new AppError('key_refused');
      if (result.reason === 'not_allowed') throw new AppError('factor_not_allowed', 'Your account does not allow security keys or passkeys.');
      throw proofError(deps, result);
    },
  );
}
