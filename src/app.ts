import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import type { KeyRing } from './config/secret-key.ts';
import type { Deps } from './services/deps.ts';
import { AppError } from './http/app-error.ts';
import { registerErrorHandling, sendError, toAppError } from './http/plugins/errors.tsx';
import { securityPlugin } from './http/plugins/security.ts';
import { forwardedForPlugin } from './http/plugins/forwarded-for.ts';
import { knownHostsPlugin } from './http/plugins/known-hosts.ts';
import { accessPlugin } from './http/access.ts';
import { sessionCookie, sessionPlugin } from './http/plugins/session.ts';
import { apiRoutes } from './http/routes/api.ts';
import { metaRoutes } from './http/routes/meta.ts';
import { auditPages } from './http/routes/audit-pages.tsx';
import { consolePages } from './http/routes/console-pages.tsx';
import { accessRulesPages } from './http/routes/access-rules-pages.tsx';
import { applicationPages } from './http/routes/application-pages.tsx';
import { sessionPages } from './http/routes/session-pages.tsx';
import { passwordPages } from './http/routes/password-pages.tsx';
import { securityPages } from './http/routes/security-pages.tsx';
import { passwordResetPages } from './http/routes/password-reset-pages.tsx';
import { mfaPages } from './http/routes/mfa-pages.tsx';
import { userPages } from './http/routes/user-pages.tsx';
import { signInPages } from './http/routes/sign-in-pages.tsx';
import { mountProvider, oidcRoutes, providerPages } from './http/routes/oidc-routes.tsx';
import { createOidc, issuerFor, providerCookieKey } from './services/oidc/index.ts';

export interface AppOptions {
  deps: Deps;
  keys: KeyRing;
  /** Fastify's trustProxy: false, or addresses/CIDRs of trusted proxies, or a hop test. */
  trustProxy?: boolean | string | ((address: string, hop: number) => boolean);
}

/** Builds the service, wired by hand. Tests call this and use inject(); main.ts calls listen(). */
export async function buildApp({ deps, keys, trustProxy = false }: AppOptions): Promise<FastifyInstance> {
  // Widened, not asserted: with pino's type the instance would not be the FastifyInstance that plugins take.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const { requestTimeoutMs, headersTimeoutMs, connectionTimeoutMs } = deps.settings.http;
  const app = Fastify({
    loggerInstance,
    trustProxy,
    bodyLimit: 1_048_576,
    // Issue 16, finding 7: Fastify's defaults (0) let a trickled body hold a
    // connection for ever. Node checks the request and header limits every
    // connectionsCheckingInterval (30 s by default), so a connection is closed
    // within half a header limit after it passes.
    requestTimeout: requestTimeoutMs,
    connectionTimeout: connectionTimeoutMs,
    http: { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.ceil(headersTimeoutMs / 2) },
    return503OnClosing: true,
    // Router errors (a malformed or over-long URL) go through the same catalogue as the rest.
    frameworkErrors: (error, request, reply) => {
      void sendError(request, reply, toAppError(error)); // Fastify ignores what this returns; the reply is sent
    },
  });
  const publicUrl = deps.settings.publicUrl;
  const secure = publicUrl?.protocol === 'https:';
  const cookieSettings = sessionCookie(secure);

  registerErrorHandling(app);
  // First of the hooks: a request for a name that is not ours gets no further (issue 16, finding 10).
  await app.register(knownHostsPlugin, { publicUrl, listenHost: deps.settings.host });
  // Next, before any route, plugin or hook reads request.ip.
  await app.register(forwardedForPlugin, { trustProxy });
  // An empty JSON body is an empty object (issue 16, finding 8): clients that
  // always send Content-Type: application/json call the routes that take no
  // body (logout, reset MFA) with none. A route that needs fields still refuses
  // {} by its schema. A body that is not UTF-8 is refused here, not read with
  // replacement characters (RFC 8259 §8.1: JSON exchanged between systems is
  // UTF-8). Anything else goes to Fastify's own parser, which keeps refusing
  // __proto__ and constructor keys.
  const json = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = typeof body === 'string' ? body : utf8.decode(body);
    } catch {
      done(new AppError('invalid_request', 'The body is not valid UTF-8.'), undefined);
      return;
    }
    if (text === '') {
      done(null, {});
      return;
    }
    void json(request, text, done); // the default parser answers through done (its type also allows a promise)
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 65_536 });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Portcullis API', version: '1', description: 'Sign-in with TOTP multi-factor authentication.' },
      components: {
        securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: cookieSettings.name } },
      },
    },
    hideUntagged: true,
  });
  await app.register(sessionPlugin, { deps, cookie: cookieSettings });
  await app.register(securityPlugin, { publicOrigin: publicUrl?.origin, secure, secretKey: keys.active.key });
  // Before any route: it refuses a route without a declared access, and enforces each one.
  await app.register(accessPlugin);

  const oidc = await createOidc(deps, {
    issuer: issuerFor(deps.settings),
    sessionCookieName: cookieSettings.name,
    // Every key of the ring: cookies signed before a key rotation still verify.
    cookieKeys: [keys.active.key, ...[...keys.all.values()].filter((k) => k !== keys.active.key)].map(providerCookieKey),
    proxy: trustProxy !== false,
    interactionPath: (uid) => `/oidc/interaction/${uid}`,
    ...(providerPages as unknown as Pick<Parameters<typeof createOidc>[1], 'renderError' | 'logoutSource' | 'postLogoutSuccessSource'>),
  });
  app.addHook('onClose', async () => oidc.close());
  await mountProvider(app, oidc);
  const routeOptions = { deps, cookie: cookieSettings, oidc };
  // The response's 'close' comes once per request, answered or abandoned.
  app.addHook('onRequest', async (_request, reply) => {
    deps.metrics.inFlight.inc();
    reply.raw.once('close', () => deps.metrics.inFlight.dec());
  });
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  await app.register(metaRoutes, { deps });
  await app.register(oidcRoutes, routeOptions);
  await app.register(signInPages, routeOptions);
  await app.register(mfaPages, routeOptions);
  await app.register(consolePages, routeOptions);
  await app.register(accessRulesPages, routeOptions);
  await app.register(applicationPages, routeOptions);
  await app.register(userPages, routeOptions);
  await app.register(auditPages, routeOptions);
  await app.register(sessionPages, routeOptions);
  await app.register(passwordPages, routeOptions);
  await app.register(securityPages, routeOptions);
  await app.register(passwordResetPages, routeOptions);
  await app.register(apiRoutes, routeOptions);
  return app;
}
