import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../../domain/errors.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { roles } from '../../domain/roles.ts';
import { setAccountMfa } from '../../services/account-settings.ts';
import { hasFactor } from '../../services/factors/index.ts';
import { resetMfa } from '../../services/mfa-reset.ts';
import { needsStepUp, stepUp } from '../../services/step-up.ts';
import { getUser, listUsers, updateUser } from '../../services/user-directory.ts';
import type { MfaState, UserDetail } from '../../services/user-directory.ts';
import { createUser } from '../../services/users.ts';
import { onlyWith, requirePermission } from '../guards.ts';
import { setSessionCookie } from '../plugins/session.ts';
import { ErrorBody } from './api-schemas.ts';
import type { RouteOptions } from './sign-in-pages.tsx';
import { actorOf } from './user-pages.tsx';

// Admin endpoints mirroring the pages, with the same services and the same
// permission checks: admins only, and only within their own account.

const Role = Type.Union(roles.map((r) => Type.Literal(r)));
const Mfa = Type.Object({
  state: Type.Union([Type.Literal('not_enrolled'), Type.Literal('enrolled'), Type.Literal('locked')]),
  enrolledAt: Type.Union([Type.String(), Type.Null()]),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
});
const UserSummary = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.String(),
  state: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  skills: Type.Array(Type.String()),
  mfa: Mfa,
});
const UserId = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{32}$' }) });
const admin = { security: [{ session: [] }], tags: ['admin'] };

function mfaJson(mfa: MfaState) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  if (mfa.kind === 'not_enrolled') return { state: 'not_enrolled' as const, enrolledAt: null, lockedUntil: null };
  if (mfa.kind === 'enrolled') return { state: 'enrolled' as const, enrolledAt: iso(mfa.since), lockedUntil: null };
  return { state: 'locked' as const, enrolledAt: iso(mfa.enrolledSince), lockedUntil: iso(mfa.until) };
}

function userJson(u: Pick<UserDetail, 'id' | 'username' | 'role' | 'state' | 'email' | 'skills' | 'mfa'>) {
  return { id: u.id, username: u.username, role: u.role, state: u.state, email: u.email, skills: u.skills, mfa: mfaJson(u.mfa) };
}

export async function apiAdminRoutes(app: FastifyInstance, { deps, cookie }: RouteOptions) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/account',
    { onRequest: onlyWith('manageAccount'), schema: { ...admin, summary: 'The account and its settings', response: { 200: Type.Object({ accountId: Type.String(), name: Type.String(), mfaEnabled: Type.Boolean() }) } } },
    async (request) => {
      const auth = requirePermission(request, 'manageAccount');
      return { accountId: auth.account.id, name: auth.account.name, mfaEnabled: auth.account.mfaEnabled };
    },
  );

  api.put(
    '/api/v1/account/settings',
    {
      onRequest: onlyWith('manageAccount'),
      schema: {
        ...admin,
        summary: 'Account Access Control: switch multi-factor authentication on or off',
        body: Type.Object({ mfaEnabled: Type.Boolean() }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            mfaEnabled: Type.Boolean(),
            sessionsEnded: Type.Integer(),
            state: Type.Union([Type.Literal('authenticated'), Type.Literal('mfa_required'), Type.Literal('mfa_enrollment_required')]),
          }),
          403: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const auth = requirePermission(request, 'manageAccount');
      const result = await setAccountMfa(deps, auth, request.body.mfaEnabled, request.ip);
      if (result.kind === 'enabled' && result.pendingToken) {
        setSessionCookie(reply, cookie, result.pendingToken);
        const enrolled = await hasFactor(deps, auth.account.id, auth.user.id);
        return { mfaEnabled: true, sessionsEnded: result.sessionsEnded, state: enrolled ? ('mfa_required' as const) : ('mfa_enrollment_required' as const) };
      }
      return { mfaEnabled: request.body.mfaEnabled, sessionsEnded: result.kind === 'enabled' ? result.sessionsEnded : 0, state: 'authenticated' as const };
    },
  );

  api.get(
    '/api/v1/users',
    {
      onRequest: onlyWith('manageUsers'),
      schema: {
        ...admin,
        summary: 'Users & Skills: the account’s users, 25 a page',
        querystring: Type.Object({
          search: Type.Optional(Type.String({ maxLength: 64 })),
          mfa: Type.Optional(Type.Union([Type.Literal('enrolled'), Type.Literal('not_enrolled'), Type.Literal('locked')])),
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        }),
        response: { 200: Type.Object({ users: Type.Array(UserSummary), total: Type.Integer(), page: Type.Integer(), pages: Type.Integer() }) },
      },
    },
    async (request) => {
      const auth = requirePermission(request, 'manageUsers');
      const { search, mfa, page } = request.query;
      const result = await listUsers(deps, auth.account.id, { ...(search ? { search } : {}), ...(mfa ? { mfa } : {}), ...(page ? { page } : {}) });
      return { users: result.users.map(userJson), total: result.total, page: result.page, pages: result.pages };
    },
  );

  api.post(
    '/api/v1/users',
    {
      onRequest: onlyWith('manageUsers'),
      schema: {
        ...admin,
        summary: 'Add a user',
        body: Type.Object(
          {
            username: Type.String({ maxLength: 64 }),
            role: Role,
            password: Type.String({ maxLength: 1024 }),
            email: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
            skills: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ userId: Type.String() }), 400: ErrorBody },
      },
    },
    async (request, reply) => {
      const auth = requirePermission(request, 'manageUsers');
      const result = await createUser(deps, auth.account.id, { ...request.body, email: request.body.email ?? null }, actorOf(auth, request));
      if (!result.ok) throw new AppError('invalid_request', result.errors.join(' '));
      return reply.code(201).send({ userId: result.userId });
    },
  );

  api.get(
    '/api/v1/users/:id',
    {
      onRequest: onlyWith('manageUsers'),
      schema: {
        ...admin,
        summary: 'One user of the account',
        params: UserId,
        response: {
          200: Type.Object({ ...UserSummary.properties, enrolledFrom: Type.Union([Type.String(), Type.Null()]), recoveryCodesLeft: Type.Integer() }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const auth = requirePermission(request, 'manageUsers');
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      return { ...userJson(user), enrolledFrom: user.enrolledIp, recoveryCodesLeft: user.recoveryCodesLeft };
    },
  );

  api.patch(
    '/api/v1/users/:id',
    {
      onRequest: onlyWith('manageUsers'),
      schema: {
        ...admin,
        summary: 'Change a user’s role, state, email or skills',
        params: UserId,
        body: Type.Object(
          {
            role: Type.Optional(Role),
            state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
            email: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
            skillIds: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: UserSummary, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const auth = requirePermission(request, 'manageUsers');
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      const b = request.body;
      const result = await updateUser(
        deps,
        auth.account.id,
        user.id,
        { role: b.role ?? user.role, state: b.state ?? user.state, email: b.email === undefined ? (user.email ?? '') : (b.email ?? ''), skillIds: b.skillIds ?? user.skillIds },
        actorOf(auth, request),
      );
      if (!result.ok) throw 'errors' in result ? new AppError('invalid_request', result.errors.join(' ')) : new AppError('not_found');
      const updated = await getUser(deps, auth.account.id, user.id);
      if (!updated) throw new AppError('not_found');
      return userJson(updated);
    },
  );

  api.post(
    '/api/v1/users/:id/reset-mfa',
    {
      onRequest: onlyWith('resetMfa'),
      schema: {
        ...admin,
        summary: 'Reset MFA: revoke the authenticator and recovery codes, end the user’s sessions',
        description: 'When the caller’s own second factor was verified more than 15 minutes ago, send a current code (step-up).',
        params: UserId,
        body: Type.Object({ code: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ reset: Type.Literal(true), sessionsEnded: Type.Integer() }), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
      // Only a step-up needs a body: a bare POST is a whole request.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const auth = requirePermission(request, 'resetMfa');
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      if (await needsStepUp(deps, auth)) {
        const code = request.body.code;
        if (!code) throw new AppError('step_up_required');
        const verified = await stepUp(deps, auth, code, request.ip);
        if (!verified.ok) {
          if (verified.kind === 'locked') throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(verified.lockedUntil, deps.clock.now()) });
          throw new AppError('invalid_code');
        }
      }
      const result = await resetMfa(deps, auth.account.id, user.id, actorOf(auth, request));
      if (!result.ok) throw new AppError('not_found');
      return { reset: true as const, sessionsEnded: result.sessionsEnded };
    },
  );

  api.get(
    '/api/v1/audit',
    {
      onRequest: onlyWith('viewAudit'),
      schema: {
        ...admin,
        summary: 'The audit log, newest first, 50 a page',
        querystring: Type.Object({
          userId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
          action: Type.Optional(Type.String({ maxLength: 64 })),
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        }),
      },
    },
    async (request) => {
      const auth = requirePermission(request, 'viewAudit');
      const { userId, action, page = 1 } = request.query;
      const events = await deps.store.audit.list(auth.account.id, { ...(userId ? { userId } : {}), ...(action ? { action } : {}), limit: 50, offset: (page - 1) * 50 });
      return {
        events: events.map((e) => ({
          at: new Date(e.at).toISOString(),
          actor: e.actor,
          action: e.action,
          target: e.target,
          ip: e.ip,
          result: e.result,
          detail: e.detail,
        })),
        page,
      };
    },
  );
}
