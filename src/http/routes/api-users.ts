import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { changesAdminStanding, roles } from '../../domain/roles.ts';
import { getUser, listUsers, updateUser } from '../../services/user-directory.ts';
import type { MfaState, UserDetail } from '../../services/user-directory.ts';
import { createUser } from '../../services/users.ts';
import { actorOf } from '../actor.ts';
import { adminOperation, ErrorBody, FactorTypeName, IdParams, MfaFilterName, MfaStateName, oneOf } from '../api-schemas.ts';
import { AppError } from '../app-error.ts';
import { principalOf } from '../access.ts';
import type { RouteContext } from '../route-context.ts';
import { requireApiStepUp } from '../step-up-gate.tsx';

// Users & Skills for API clients: the same services and rules as the pages,
// admins only, and only within their own account.

const Role = oneOf(roles);
/** A current code, asked for when the change grants or takes admin (step-up; see step-up-gate.tsx). */
const STEP_UP_CODE = Type.Optional(Type.String({ maxLength: 64, description: 'A current code from your authenticator app: needed to create or make an admin, or to demote or disable one, when your own code is more than 15 minutes old.' }));
const Mfa = Type.Object({
  state: MfaStateName,
  enrolledAt: Type.Union([Type.String(), Type.Null()]),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
  factorTypes: Type.Array(FactorTypeName, { description: 'The types of factor the user holds: `totp` (an authenticator app), `webauthn` (a security key or passkey).' }),
});
const Factor = Type.Object({
  id: Type.String(),
  type: FactorTypeName,
  name: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
const UserSummary = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.String(),
  state: Type.String(),
  inactiveSince: Type.Union([Type.String(), Type.Null()], {
    description: 'set when the inactivity rule disabled the user: when their inactivity began (shown as "Disabled — inactive since …"); null otherwise',
  }),
  email: Type.Union([Type.String(), Type.Null()]),
  skills: Type.Array(Type.String()),
  mfa: Mfa,
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function mfaJson(mfa: MfaState, factorTypes: UserDetail['factorTypes']) {
  if (mfa.kind === 'not_enrolled') return { state: mfa.kind, enrolledAt: null, lockedUntil: null, factorTypes };
  if (mfa.kind === 'enrolled') return { state: mfa.kind, enrolledAt: iso(mfa.since), lockedUntil: null, factorTypes };
  return { state: mfa.kind, enrolledAt: iso(mfa.enrolledSince), lockedUntil: iso(mfa.until), factorTypes };
}

function userJson(u: Pick<UserDetail, 'id' | 'username' | 'role' | 'state' | 'inactiveSince' | 'email' | 'skills' | 'mfa' | 'factorTypes'>) {
  return { id: u.id, username: u.username, role: u.role, state: u.state, inactiveSince: u.state === 'disabled' ? iso(u.inactiveSince) : null, email: u.email, skills: u.skills, mfa: mfaJson(u.mfa, u.factorTypes) };
}

export async function apiUserRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/users',
    {
      config: { access: { permission: 'manageUsers' } },
      schema: {
        ...adminOperation,
        summary: 'Users & Skills: the account’s users, 25 a page',
        querystring: Type.Object({
          search: Type.Optional(Type.String({ maxLength: 64 })),
          mfa: Type.Optional(MfaFilterName),
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        }),
        response: { 200: Type.Object({ users: Type.Array(UserSummary), total: Type.Integer(), page: Type.Integer(), pages: Type.Integer() }) },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const { search, mfa, page } = request.query;
      const result = await listUsers(deps, auth.account.id, { ...(search ? { search } : {}), ...(mfa ? { mfa } : {}), ...(page ? { page } : {}) });
      return { users: result.users.map(userJson), total: result.total, page: result.page, pages: result.pages };
    },
  );

  api.post(
    '/api/v1/users',
    {
      config: { access: { permission: 'manageUsers' } },
      schema: {
        ...adminOperation,
        summary: 'Add a user',
        body: Type.Object(
          {
            username: Type.String({ maxLength: 64 }),
            role: Role,
            password: Type.String({ maxLength: 1024 }),
            email: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
            skills: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
            code: STEP_UP_CODE,
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ userId: Type.String() }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const auth = principalOf(request);
      const { code, ...fields } = request.body;
      if (changesAdminStanding(undefined, { role: fields.role, state: 'active' })) await requireApiStepUp(deps, auth, code, request.ip);
      const result = await createUser(deps, auth.account.id, { ...fields, email: fields.email ?? null }, actorOf(auth, request), 'admin');
      if (!result.ok) throw new AppError('invalid_request', result.errors.join(' '));
      return reply.code(201).send({ userId: result.userId });
    },
  );

  api.get(
    '/api/v1/users/:id',
    {
      config: { access: { permission: 'manageUsers' } },
      schema: {
        ...adminOperation,
        summary: 'One user of the account',
        params: IdParams,
        response: {
          200: Type.Object({
            ...UserSummary.properties,
            enrolledFrom: Type.Union([Type.String(), Type.Null()]),
            recoveryCodesLeft: Type.Integer(),
            factors: Type.Array(Factor, { description: 'The user’s factors, the oldest first: type, name, added, last used (never a secret or key).' }),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      return {
        ...userJson(user),
        enrolledFrom: user.enrolledIp,
        recoveryCodesLeft: user.recoveryCodesLeft,
        factors: user.factors.map((f) => ({ id: f.id, type: f.type, name: f.name, createdAt: new Date(f.createdAt).toISOString(), lastUsedAt: iso(f.lastUsedAt) })),
      };
    },
  );

  api.patch(
    '/api/v1/users/:id',
    {
      config: { access: { permission: 'manageUsers' } },
      schema: {
        ...adminOperation,
        summary: 'Change a user’s role, state, email or skills',
        params: IdParams,
        body: Type.Object(
          {
            role: Type.Optional(Role),
            state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
            email: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
            skillIds: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 500 })),
            code: STEP_UP_CODE,
          },
          { additionalProperties: false },
        ),
        response: { 200: UserSummary, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const user = await getUser(deps, auth.account.id, request.params.id);
      if (!user) throw new AppError('not_found');
      const b = request.body;
      const change = { role: b.role ?? user.role, state: b.state ?? user.state, email: b.email === undefined ? (user.email ?? '') : (b.email ?? ''), skillIds: b.skillIds ?? user.skillIds };
      if (changesAdminStanding(user, change)) await requireApiStepUp(deps, auth, b.code, request.ip);
      const result = await updateUser(deps, auth.account.id, user.id, change, actorOf(auth, request));
      if (!result.ok) {
        switch (result.reason) {
          case 'invalid':
            throw new AppError('invalid_request', result.errors.join(' '));
          case 'not_found':
            throw new AppError('not_found');
          case 'last_admin':
            throw new AppError('last_admin');
        }
      }
      const updated = await getUser(deps, auth.account.id, user.id);
      if (!updated) throw new AppError('not_found');
      return userJson(updated);
    },
  );
}
