import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { factorTypes } from '../../domain/auth-methods.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { confirmTotpAddition, startTotpAddition } from '../../services/factor-addition.ts';
import { FACTOR_NAME_MAX, listOwnFactors, regenerateRecoveryCodes, removeOwnFactor, renameOwnFactor } from '../../services/own-factors.ts';
import type { OwnFactor, ProofRefusal } from '../../services/own-factors.ts';
import type { Deps } from '../../services/deps.ts';
import { principalOf } from '../access.ts';
import { AppError } from '../app-error.ts';
import { ErrorBody, IdParams, TooMany, oneOf } from '../api-schemas.ts';
import type { RouteContext } from '../route-context.ts';

// "Your security" in the API (issue 14), mirroring /account/security: the
// signed-in user's own factors only. A factor id that is not one of theirs
// answers 404 whether or not it exists.

export const Factor = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: oneOf(factorTypes),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  allowed: Type.Boolean({ description: 'Whether your account’s settings let it be used (a kind no longer allowed stays listed, and may be removed)' }),
});

export const CurrentCode = Type.String({ minLength: 1, maxLength: 64, description: 'A current code from one of your authenticator apps (not needed when you hold security keys only)' });
const CodeBody = Type.Optional(Type.Object({ code: Type.Optional(CurrentCode) }, { additionalProperties: false }));
export const RecoveryCodes = Type.Array(Type.String(), { description: 'Shown once: only their hashes are kept' });
export const proofErrors = { 401: ErrorBody, 403: ErrorBody, 429: TooMany };

const iso = (ms: number) => new Date(ms).toISOString();
export const factorJson = (f: OwnFactor) => ({
  id: f.id,
  name: f.name,
  type: f.type,
  createdAt: iso(f.createdAt),
  lastUsedAt: f.lastUsedAt === null ? null : iso(f.lastUsedAt),
  allowed: f.allowed,
});

/** The refusal of a current-factor proof, as the API tells it. */
export function proofError(deps: Deps, refusal: ProofRefusal): AppError {
  switch (refusal.reason) {
    case 'code_required':
      return new AppError('step_up_required');
    case 'invalid_code':
      return new AppError('invalid_code');
    case 'locked':
      return new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(refusal.lockedUntil, deps.clock.now()) });
    case 'reauthenticate': {
      const minutes = Math.round(deps.settings.mfa.stepUpMaxAgeMs / 60_000);
      return new AppError('reauthentication_required', `Sign out and sign in again with your security key, then do this within ${minutes} minutes.`);
    }
  }
}

export async function apiFactorRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['security'];

  api.get(
    '/api/v1/factors',
    { config: { access: 'signed-in' }, schema: { tags, summary: 'Your second factors: name, type, added, last used; the oldest first', response: { 200: Type.Object({ factors: Type.Array(Factor) }), 401: ErrorBody } } },
    async (request) => ({ factors: (await listOwnFactors(deps, principalOf(request))).factors.map(factorJson) }),
  );

  api.patch(
    '/api/v1/factors/:id',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'Rename one of your factors',
        params: IdParams,
        body: Type.Object({ name: Type.String({ maxLength: FACTOR_NAME_MAX * 4, description: `1–${FACTOR_NAME_MAX} characters once trimmed` }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ factor: Factor }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const result = await renameOwnFactor(deps, principalOf(request), request.params.id, request.body.name, request.ip);
      if (result.ok) return { factor: factorJson(result.factor) };
      if (result.reason === 'invalid_name') throw new AppError('invalid_name', result.message);
      throw new AppError('not_found');
    },
  );

  api.delete(
    '/api/v1/factors/:id',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'Remove one of your factors, with a current code; never the last one while your account requires MFA',
        params: IdParams,
        body: CodeBody,
        response: { 200: Type.Object({ removed: Factor, factorsLeft: Type.Integer() }), 400: ErrorBody, ...proofErrors, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const result = await removeOwnFactor(deps, principalOf(request), request.params.id, request.body?.code, request.ip);
      if (result.ok) return { removed: factorJson(result.removed), factorsLeft: result.factorsLeft };
      if (result.reason === 'not_found') throw new AppError('not_found');
      if (result.reason === 'last_factor') throw new AppError('last_factor');
      throw proofError(deps, result);
    },
  );

  api.post(
    '/api/v1/factors/totp',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'Start adding an authenticator app: a new secret for this session, confirmed by POST /api/v1/factors/totp/confirm',
        description: 'A user who holds a factor sends a current code first. Each call replaces the secret this session was adding.',
        body: CodeBody,
        response: { 200: Type.Object({ otpauthUri: Type.String(), manualKey: Type.String() }), 400: ErrorBody, ...proofErrors, 409: ErrorBody },
      },
    },
    async (request) => {
      const result = await startTotpAddition(deps, principalOf(request), request.body?.code, request.ip);
      if (!result.ok) throw result.reason === 'not_allowed' ? new AppError('factor_not_allowed', 'Your account does not allow authenticator apps.') : proofError(deps, result);
      return { otpauthUri: result.offer.uri, manualKey: result.offer.manualKey };
    },
  );

  api.post(
    '/api/v1/factors/totp/confirm',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'Confirm the authenticator app being added with a code from it; only then is it a factor',
        body: Type.Object(
          { code: Type.String({ minLength: 1, maxLength: 64 }), name: Type.Optional(Type.String({ maxLength: FACTOR_NAME_MAX * 4 })) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ factor: Factor, recoveryCodes: Type.Optional(RecoveryCodes) }),
          400: ErrorBody,
          401: ErrorBody,
          409: ErrorBody,
          429: TooMany,
        },
      },
    },
    async (request, reply) => {
      const result = await confirmTotpAddition(deps, principalOf(request), request.body, request.ip);
      if (result.ok) return reply.code(201).send({ factor: factorJson(result.factor), ...(result.recoveryCodes ? { recoveryCodes: result.recoveryCodes } : {}) });
      switch (result.reason) {
        case 'invalid_name':
          throw new AppError('invalid_name', result.message);
        case 'not_started':
          throw new AppError('not_started', 'No authenticator app is being added in this session: start with POST /api/v1/factors/totp.');
        case 'not_allowed':
          throw new AppError('factor_not_allowed', 'Your account does not allow authenticator apps.');
        case 'invalid_code':
          throw new AppError('invalid_code');
        case 'locked':
          throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(result.lockedUntil, deps.clock.now()) });
      }
    },
  );

  api.post(
    '/api/v1/recovery-codes',
    {
      config: { access: 'signed-in' },
      schema: {
        tags,
        summary: 'New recovery codes, with a current code: the old ones stop working; the new ones are answered once',
        body: CodeBody,
        response: { 200: Type.Object({ recoveryCodes: RecoveryCodes }), 400: ErrorBody, ...proofErrors, 409: ErrorBody },
      },
    },
    async (request) => {
      const result = await regenerateRecoveryCodes(deps, principalOf(request), request.body?.code, request.ip);
      if (result.ok) return { recoveryCodes: result.codes };
      if (result.reason === 'no_factor') throw new AppError('no_factor');
      throw proofError(deps, result);
    },
  );
}
