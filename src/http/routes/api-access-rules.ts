import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { policyInput, rangeLimits } from '../../domain/access-rules.ts';
import { accessRules, saveFactorPolicy, savePolicy, saveRestriction } from '../../services/access-rules.ts';
import { hasFactor } from '../../services/factors/index.ts';
import { setSessionCookie } from '../plugins/session.ts';
import { adminOperation, ErrorBody } from '../api-schemas.ts';
import { principalOf } from '../access.ts';
import { AppError } from '../app-error.ts';
import type { RouteContext } from '../route-context.ts';

// Account Access Control's allowed networks and login policy (issue 15), as
// the page has them: the same services, so the same rules and messages.

const Range = Type.Object({ cidr: Type.String({ maxLength: 100 }), label: Type.String({ maxLength: 400 }) }, { additionalProperties: false });
const AppliesTo = Type.Union([Type.Literal('everyone'), Type.Literal('everyone_but_admins')]);
const Minutes = Type.Union([Type.Integer(), Type.Null()]);
const Policy = Type.Object(
  {
    minPasswordLength: Type.Union([Type.Integer(), Type.Null()], { description: '12 to 128; null: the service’s own' }),
    lockAfterFailures: Type.Union([Type.Integer(), Type.Null()], { description: 'failed passwords before a lock, 3 to 10 (at most the service’s); null: the service’s own' }),
    idleTimeoutMinutes: { ...Minutes, description: 'at least 5, at most the service’s; null: the service’s own' },
    absoluteTimeoutMinutes: { ...Minutes, description: 'at least 15, at most the service’s; null: the service’s own' },
    inactiveDays: Type.Union([Type.Integer(), Type.Null()], { description: 'deactivate users (not admins) who have not signed in for this many days, 1 to 3650; null: off' }),
  },
  { additionalProperties: false },
);
const Restriction = Type.Object({ ranges: Type.Array(Range), appliesTo: AppliesTo });
const FactorKind = Type.Union([Type.Literal('totp'), Type.Literal('webauthn')]);
const Factors = Type.Object(
  {
    allowed: Type.Array(FactorKind, { minItems: 1, maxItems: 2, description: 'totp: authenticator apps; webauthn: security keys and passkeys' }),
    adminsNeedKey: Type.Boolean({ description: 'admins sign in with a security key or passkey only (webauthn must be allowed)' }),
  },
  { additionalProperties: false },
);
const Rules = Type.Object({ ranges: Type.Array(Range), appliesTo: AppliesTo, policy: Policy, factors: Factors });

export async function apiAccessRulesRoutes(app: FastifyInstance, { deps, cookie }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const access = { permission: 'manageAccount' } as const;

  api.get(
    '/api/v1/account/access-rules',
    { config: { access }, schema: { ...adminOperation, summary: 'Account Access Control: allowed networks and login policy', response: { 200: Rules, 401: ErrorBody, 403: ErrorBody } } },
    async (request) => {
      const rules = await accessRules(deps, principalOf(request).account.id);
      return { ranges: rules.ranges, appliesTo: rules.appliesTo, policy: policyInput(rules.policy), factors: rules.factors };
    },
  );

  api.put(
    '/api/v1/account/access-rules/network',
    {
      config: { access },
      schema: {
        ...adminOperation,
        summary: 'Account Access Control: set the allowed address ranges',
        description:
          'IPv4 and IPv6 addresses or CIDRs, each with a label; an empty list allows every network. With ranges set, a sign-in from outside them is refused after the password (403 network_not_allowed) and a session used from outside them ends. A list that leaves out the caller’s own address is refused (409 own_address_excluded) unless confirmExcludeOwnAddress is true.',
        body: Type.Object(
          { ranges: Type.Array(Range, { maxItems: rangeLimits.maxRanges }), appliesTo: AppliesTo, confirmExcludeOwnAddress: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ ...Restriction.properties, changed: Type.Boolean() }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const { ranges, appliesTo, confirmExcludeOwnAddress } = request.body;
      const result = await saveRestriction(deps, auth, { ranges, appliesTo, confirmed: confirmExcludeOwnAddress === true }, request.ip);
      if (!result.ok) {
        if (result.reason === 'excludes_self') {
          throw new AppError('own_address_excluded', `These ranges leave out your own address (${result.ip}): you would be signed out. Send confirmExcludeOwnAddress: true to save them anyway.`);
        }
        // One message per range that is wrong, each naming its position.
        throw new AppError('invalid_request', result.errors.join(' '));
      }
      const saved = await accessRules(deps, auth.account.id);
      return { ranges: saved.ranges, appliesTo: saved.appliesTo, changed: result.changed };
    },
  );

  api.put(
    '/api/v1/account/access-rules/policy',
    {
      config: { access },
      schema: {
        ...adminOperation,
        summary: 'Account Access Control: set the account’s login policy',
        description: 'Each field may only make the service’s own rule stricter; null keeps the service’s value (for inactiveDays: off). A field out of bounds is named in fields with its message.',
        body: Policy,
        response: { 200: Type.Object({ policy: Policy, changed: Type.Array(Type.String()) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const result = await savePolicy(deps, auth, request.body, request.ip);
      // One message per field out of bounds, each naming its field.
      if (!result.ok) throw new AppError('invalid_request', Object.values(result.errors).join(' '));
      const saved = await accessRules(deps, auth.account.id);
      return { policy: policyInput(saved.policy), changed: result.changed };
    },
  );

  api.put(
    '/api/v1/account/access-rules/factors',
    {
      config: { access },
      schema: {
        ...adminOperation,
        summary: 'Account Access Control: the second factors allowed, and whether admins need a security key',
        description:
          'A factor of a kind no longer allowed stops counting (its user sets up an allowed one at the next sign-in). Switching adminsNeedKey on ends every admin session signed in without a key; when the caller’s own session did not use one, it continues as a pending sign-in (state mfa_enrollment_required or mfa_required) that sets up or uses a key.',
        body: Factors,
        response: {
          200: Type.Object({
            ...Factors.properties,
            changed: Type.Boolean(),
            state: Type.Union([Type.Literal('authenticated'), Type.Literal('mfa_required'), Type.Literal('mfa_enrollment_required')]),
          }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const auth = principalOf(request);
      const result = await saveFactorPolicy(deps, auth, request.body, request.ip);
      if (!result.ok) throw new AppError('invalid_request', result.errors.join(' '));
      let state: 'authenticated' | 'mfa_required' | 'mfa_enrollment_required' = 'authenticated';
      if (result.pendingToken) {
        setSessionCookie(reply, cookie, result.pendingToken);
        state = (await hasFactor(deps, auth.account.id, auth.user)) ? 'mfa_required' : 'mfa_enrollment_required';
      }
      return { ...result.policy, changed: result.changed, state };
    },
  );
}
