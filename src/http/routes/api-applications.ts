import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  createApplication,
  deleteApplication,
  describeApplication,
  getApplication,
  listApplications,
  rotateApplicationSecret,
  updateApplication,
} from '../../services/applications.ts';
import { actorOf } from '../actor.ts';
import { adminOperation, ErrorBody, IdParams } from '../api-schemas.ts';
import { AppError } from '../app-error.ts';
import { principalOf } from '../access.ts';
import type { RouteContext } from '../route-context.ts';

// Applications (OpenID Connect clients, issue 13) for API clients: the same
// services and rules as the console's pages, admins only, within their own
// account; a client id of another account answers 404 like one that never was.

const Uri = Type.String({ maxLength: 2000 });
const Uris = Type.Array(Uri, { maxItems: 10 });
const NullableUri = Type.Union([Uri, Type.Null()]);
const ApplicationJson = Type.Object({
  clientId: Type.String(),
  name: Type.String(),
  public: Type.Boolean(),
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  backchannelLogoutUri: Type.Union([Type.String(), Type.Null()]),
  launchUrl: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Secret = Type.Object({ clientId: Type.String(), clientSecret: Type.Union([Type.String(), Type.Null()]) });


export async function apiApplicationRoutes(app: FastifyInstance, { deps }: RouteContext) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const access = { permission: 'manageAccount' } as const;

  api.get(
    '/api/v1/applications',
    { config: { access }, schema: { ...adminOperation, summary: 'Applications: the account’s OpenID Connect clients', response: { 200: Type.Object({ applications: Type.Array(ApplicationJson) }) } } },
    async (request) => {
      const auth = principalOf(request);
      return { applications: (await listApplications(deps, auth.account.id)).map(describeApplication) };
    },
  );

  api.post(
    '/api/v1/applications',
    {
      config: { access },
      schema: {
        ...adminOperation,
        summary: 'Add an application; its secret (none for a public client) is shown this once',
        body: Type.Object(
          {
            name: Type.String({ maxLength: 100 }),
            redirectUris: Uris,
            postLogoutRedirectUris: Type.Optional(Uris),
            backchannelLogoutUri: Type.Optional(NullableUri),
            launchUrl: Type.Optional(NullableUri),
            public: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: Secret, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const auth = principalOf(request);
      const result = await createApplication(deps, auth.account.id, request.body, actorOf(auth, request));
      if (!result.ok) {
        if (result.reason === 'invalid') throw new AppError('invalid_request', result.errors.join(' '));
        throw new AppError('not_found');
      }
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ clientId: result.clientId, clientSecret: result.clientSecret });
    },
  );

  api.get(
    '/api/v1/applications/:id',
    { config: { access }, schema: { ...adminOperation, summary: 'One application of the account', params: IdParams, response: { 200: ApplicationJson, 404: ErrorBody } } },
    async (request) => {
      const auth = principalOf(request);
      const found = await getApplication(deps, auth.account.id, request.params.id);
      if (!found) throw new AppError('not_found');
      return describeApplication(found);
    },
  );

  api.patch(
    '/api/v1/applications/:id',
    {
      config: { access },
      schema: {
        ...adminOperation,
        summary: 'Change an application’s name and addresses (public or confidential stays as created)',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ maxLength: 100 })),
            redirectUris: Type.Optional(Uris),
            postLogoutRedirectUris: Type.Optional(Uris),
            backchannelLogoutUri: Type.Optional(NullableUri),
            launchUrl: Type.Optional(NullableUri),
          },
          { additionalProperties: false },
        ),
        response: { 200: ApplicationJson, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const auth = principalOf(request);
      const found = await getApplication(deps, auth.account.id, request.params.id);
      if (!found) throw new AppError('not_found');
      const b = request.body;
      const draft = {
        name: b.name ?? found.name,
        redirectUris: b.redirectUris ?? found.redirectUris,
        postLogoutRedirectUris: b.postLogoutRedirectUris ?? found.postLogoutRedirectUris,
        backchannelLogoutUri: b.backchannelLogoutUri === undefined ? found.backchannelLogoutUri : b.backchannelLogoutUri,
        launchUrl: b.launchUrl === undefined ? found.launchUrl : b.launchUrl,
      };
      const result = await updateApplication(deps, auth.account.id, found.id, draft, actorOf(auth, request));
      if (!result.ok) {
        if (result.reason === 'invalid') throw new AppError('invalid_request', result.errors.join(' '));
        throw new AppError('not_found');
      }
      const updated = await getApplication(deps, auth.account.id, found.id);
      if (!updated) throw new AppError('not_found');
      return describeApplication(updated);
    },
  );

  api.delete(
    '/api/v1/applications/:id',
    { config: { access }, schema: { ...adminOperation, summary: 'Delete an application', params: IdParams, response: { 204: Type.Null(), 404: ErrorBody } } },
    async (request, reply) => {
      const auth = principalOf(request);
      const result = await deleteApplication(deps, auth.account.id, request.params.id, actorOf(auth, request));
      if (!result.ok) throw new AppError('not_found');
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/api/v1/applications/:id/rotate-secret',
    {
      config: { access },
      schema: {
        ...adminOperation,
        summary: 'A new secret for a confidential application, shown this once; the old one stops working at once',
        params: IdParams,
        response: { 200: Secret, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const auth = principalOf(request);
      const result = await rotateApplicationSecret(deps, auth.account.id, request.params.id, actorOf(auth, request));
      if (!result.ok) {
        if (result.reason === 'public_client') throw new AppError('conflict', 'A public client has no secret to rotate.');
        throw new AppError('not_found');
      }
      reply.header('cache-control', 'no-store');
      return { clientId: request.params.id, clientSecret: result.clientSecret };
    },
  );
}
