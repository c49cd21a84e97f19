import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { signInRefusal } from '../app-error.ts';
import { endSession, resolveSession } from '../../services/sessions.ts';
import { signIn } from '../../services/sign-in.ts';
import { principalOf } from '../access.ts';
import { nextApiState } from '../next-step.ts';
import { clearSessionCookie, sessionToken, setSessionCookie } from '../plugins/session.ts';
import { ErrorBody, TooMany, Unavailable } from '../api-schemas.ts';
import type { RouteContext } from '../route-context.ts';
import { totpOffer } from '../../services/factors/totp.ts';
import { rememberToken } from '../remember-cookie.ts';
import { usableFactorsOf } from '../../services/factors/index.ts';

const LoginBody = Type.Object(
  {
    accountId: Type.String({ minLength: 1, maxLength: 20, description: 'The account number, e.g. "73411025"' }),
    username: Type.String({ minLength: 1, maxLength: 256 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
const LoginState = Type.Object({
  state: Type.Union([Type.Literal('authenticated'), Type.Literal('password_change_required'), Type.Literal('mfa_required'), Type.Literal('mfa_enrollment_required')], {
    description: '`password_change_required`: signed in, but the password was set by an administrator: change it (POST /api/v1/password) before anything else answers.',
  }),
  otpauthUri: Type.Optional(Type.String()),
});

export async function apiAuthRoutes(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with account number, username and password',
        body: LoginBody,
        response: { 200: LoginState, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 415: ErrorBody, 429: TooMany, 503: Unavailable },
      },
    },
    async (request, reply) => {
      const { accountId, username, password } = request.body;
      const result = await signIn(deps, {
        accountId: accountId.trim(),
        username: username.trim(),
        password,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        rememberedToken: rememberToken(request, cookie),
      });
      if (!result.ok) throw signInRefusal(result, 'invalid_credentials', deps.clock.now());
      const previous = sessionToken(request, cookie);
      if (previous) await endSession(deps, previous);
      setSessionCookie(reply, cookie, result.token);
      if (result.state === 'full') return { state: nextApiState(request, result) };
      if (result.mfaEnrolled) return { state: 'mfa_required' as const };
      // The API client is the user's own app: it gets the key URI to show as a QR code,
      // unless the account allows this user security keys only (set up in a browser).
      const view = await resolveSession(deps, result.token);
      if (view && !(await usableFactorsOf(deps, view.account.id, view.user)).kinds.includes('totp')) return { state: 'mfa_enrollment_required' as const };
      const offer = view && (await totpOffer(deps, view));
      if (!offer) throw new Error('could not prepare an enrolment secret');
      return { state: 'mfa_enrollment_required' as const, otpauthUri: offer.uri };
    },
  );

  api.post(
    '/api/v1/logout',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'End the current session',
        response: { 200: Type.Object({ state: Type.Literal('signed_out') }) },
      },
    },
    async (request, reply) => {
      const token = sessionToken(request, cookie);
      if (token) await endSession(deps, token);
      clearSessionCookie(reply, cookie);
      return { state: 'signed_out' as const };
    },
  );

  api.get(
    '/api/v1/session',
    {
      config: { access: 'session' },
      schema: {
        tags: ['auth'],
        summary: 'The current session and its user',
        response: {
          200: Type.Object({
            state: Type.Union([Type.Literal('authenticated'), Type.Literal('password_change_required'), Type.Literal('pending')]),
            accountId: Type.String(),
            userId: Type.String(),
            username: Type.String(),
            role: Type.String(),
          }),
          401: ErrorBody,
        },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      return {
        state: auth.session.state === 'full' ? nextApiState(request, auth.user) : ('pending' as const),
        accountId: auth.account.id,
        userId: auth.user.id,
        username: auth.user.username,
        role: auth.user.role,
      };
    },
  );
}
