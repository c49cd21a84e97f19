import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { webauthnDefaults } from '../../config/defaults.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { passkeyOptions, passkeySignIn } from '../../services/passkey-sign-in.ts';
import { endSession } from '../../services/sessions.ts';
import { AppError, signInRefusal } from '../app-error.ts';
import { ErrorBody, TooMany } from '../api-schemas.ts';
import { nextApiState } from '../next-step.ts';
import { clearPasskeyCookie, passkeyToken, sessionToken, setPasskeyCookie, setSessionCookie } from '../plugins/session.ts';
import { relyingPartyOf } from '../relying-party.ts';
import type { RouteContext } from '../route-context.ts';
import { applicationContext } from './oidc-routes.tsx';

// Passkey sign-in for the sign-in page's script and for API clients: options
// for the account named (or the application's), then the browser's answer.
// The page posts its answer to /login/passkey instead (sign-in-pages.tsx).

export async function apiPasskeyRoutes(app: FastifyInstance, ctx: RouteContext) {
  const { deps, cookie } = ctx;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/login/passkey/options',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Start a passkey sign-in: options for navigator.credentials.get() for the account named',
        description:
          'Answers the options (WebAuthn JSON: a challenge, no credential list, user verification required) and sets a short-lived cookie the challenge is bound to. ' +
          'Send the browser\'s answer to `POST /api/v1/login/passkey` with that cookie. Within an application\'s sign-in the account is the application\'s, whatever `accountId` says.',
        body: Type.Object({ accountId: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'The account number, e.g. "73411025"' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ options: Type.Object({}, { additionalProperties: true }) }), 400: ErrorBody, 429: TooMany },
      },
    },
    async (request, reply) => {
      const application = await applicationContext(request, reply, ctx);
      const accountId = application ? application.application.accountId : (request.body.accountId ?? '').trim();
      const result = await passkeyOptions(deps, accountId, relyingPartyOf(request, deps.settings.publicUrl), request.ip);
      if (!result.ok) {
        if (result.reason === 'locked') throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(result.lockedUntil ?? 0, deps.clock.now()) });
        throw new AppError('invalid_request', 'Enter your account number first.');
      }
      setPasskeyCookie(reply, cookie, result.token, Math.floor(webauthnDefaults.challengeTtlMs / 1000));
      return { options: result.options };
    },
  );

  api.post(
    '/api/v1/login/passkey',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with a passkey: the browser\'s answer to the options',
        description:
          'A passkey of the account the options were asked for, with user verification, signs in without the password and counts as multi-factor ' +
          '(the session\'s methods: hwk, user, mfa). Refused alike for any reason (401 invalid_passkey); counted against the client address and the user\'s second-factor lock.',
        body: Type.Object({ credential: Type.Object({}, { additionalProperties: true }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ state: Type.Union([Type.Literal('authenticated'), Type.Literal('password_change_required')]) }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          429: TooMany,
        },
      },
    },
    async (request, reply) => {
      const credential = JSON.stringify(request.body.credential);
      if (credential.length > webauthnDefaults.maxResponseChars) throw new AppError('invalid_request', 'The passkey\'s answer is too long.');
      const application = await applicationContext(request, reply, ctx);
      const result = await passkeySignIn(deps, {
        token: passkeyToken(request, cookie),
        credential,
        relyingParty: relyingPartyOf(request, deps.settings.publicUrl),
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        accountId: application?.application.accountId,
      });
      if (!result.ok) throw signInRefusal(result, 'invalid_passkey', deps.clock.now());
      const previous = sessionToken(request, cookie);
      if (previous) await endSession(deps, previous);
      clearPasskeyCookie(reply, cookie);
      setSessionCookie(reply, cookie, result.token);
      return { state: nextApiState(request, result.user) };
    },
  );
}
