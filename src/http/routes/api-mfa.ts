import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../app-error.ts';
import { secondFactorMethods } from '../../domain/auth-methods.ts';
import type { SecondFactorMethod } from '../../domain/auth-methods.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { webauthnDefaults } from '../../config/defaults.ts';
import { submitCode } from '../../services/mfa-challenge.ts';
import { usableFactorsOf } from '../../services/factors/index.ts';
import { totpOffer } from '../../services/factors/totp.ts';
import { signInOptions } from '../../services/factors/webauthn.ts';
import { relyingPartyOf } from '../relying-party.ts';
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
      const usable = await usableFactorsOf(deps, view.account.id, view.user);
      if (usable.factors.length > 0) throw new AppError('conflict', 'An authenticator is already set up; send its code.');
      if (!usable.kinds.includes('totp')) throw new AppError('conflict', 'This account asks you for a security key or passkey: set one up in a browser.');
      const offer = await totpOffer(deps, view);
      if (!offer) throw new Error('could not prepare an enrolment secret');
      return { otpauthUri: offer.uri, manualKey: offer.manualKey };
    },
  );

  api.post(
    '/api/v1/login/mfa/webauthn/options',
    {
      config: { access: 'pending' },
      schema: {
        tags: ['auth'],
        summary: 'Start a security key ceremony for a pending sign-in: create a first key (no factor yet) or sign with one',
        description:
          'Answers `mode` (`register` or `authenticate`) and the options for `navigator.credentials.create()` or `.get()` (WebAuthn JSON). ' +
          'The challenge is kept for this sign-in, used once, and expires with it. Send the browser\'s answer to `POST /api/v1/login/mfa` with `method: "webauthn"`.',
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: {
          200: Type.Object({ mode: Type.Union([Type.Literal('register'), Type.Literal('authenticate')]), options: Type.Object({}, { additionalProperties: true }) }),
          401: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      const view = principalOf(request);
      const ceremony = await signInOptions(deps, view, relyingPartyOf(request, deps.settings.publicUrl));
      if (!ceremony) throw new AppError('conflict', 'No security key is set up for this sign-in; send a code instead.');
      return ceremony;
    },
  );

  api.post(
    '/api/v1/login/mfa',
    {
      config: { access: 'pending' },
      schema: {
        tags: ['auth'],
        summary: 'Complete a sign-in with an authenticator app\'s code or a recovery code (also confirms a new authenticator)',
        description:
          'The client says what it sends: `method` is `totp` (the default) for a code from an authenticator app, `recovery_code` for a recovery code ' +
          '(both in `code`), `webauthn` for a security key\'s answer (in `credential`, the WebAuthn JSON of the credential the browser returned).',
        body: Type.Object(
          {
            code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            credential: Type.Optional(Type.Object({}, { additionalProperties: true })),
            method: Type.Optional(Type.Unsafe<SecondFactorMethod>(Type.Union(secondFactorMethods.map((m) => Type.Literal(m)), { default: 'totp' }))),
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
      const method: SecondFactorMethod = request.body.method ?? 'totp';
      const { code, credential } = request.body;
      let submitted: string;
      if (method === 'webauthn') {
        if (credential === undefined || code !== undefined) throw new AppError('invalid_request', 'A security key\'s answer goes in “credential” (and no “code”).');
        submitted = JSON.stringify(credential);
        if (submitted.length > webauthnDefaults.maxResponseChars) throw new AppError('invalid_request', 'The security key\'s answer is too long.');
      } else {
        if (code === undefined || credential !== undefined) throw new AppError('invalid_request', 'A code goes in “code” (and no “credential”).');
        submitted = code;
      }
      const rp = relyingPartyOf(request, deps.settings.publicUrl);
      const result = await submitCode(deps, view, { method, code: submitted, relyingParty: rp }, request.ip);
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
          if (result.keyRefused) throw new AppError('invalid_code', 'The security key’s answer was not accepted.');
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
