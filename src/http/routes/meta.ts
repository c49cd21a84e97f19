import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { addressRanges } from '../../domain/addresses.ts';
import { AppError } from '../app-error.ts';
import { forwardingUnvouched } from '../plugins/forwarded-for.ts';
import type { Deps } from '../../services/deps.ts';
import { checkDatabase } from '../../services/health.ts';

const stylesheet = readFileSync(new URL('../../../public/style.css', import.meta.url));
const script = readFileSync(new URL('../../../public/app.js', import.meta.url));
// The browser half of WebAuthn, served from our own origin: no page makes an external request.
const webauthnLibrary = readFileSync(new URL('../../../node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js', import.meta.url));
const webauthnClient = readFileSync(new URL('../../../public/webauthn-client.js', import.meta.url));

/** Health, the stylesheet and the OpenAPI document. */
export async function metaRoutes(app: FastifyInstance, { deps }: { deps: Deps }) {
  const { metrics } = deps;
  const allowed = addressRanges(deps.settings.metricsAllow);

  // Prometheus scrapes from inside: only listed addresses (loopback by default) may read,
  // and never a request a proxy forwarded without vouching for its client (behind
  // a proxy on the same host, the peer is loopback for anyone: issue 16, finding 3).
  app.get('/metrics', { config: { access: 'public' } }, async (request, reply) => {
    if (forwardingUnvouched(request) || !allowed(request.ip)) throw new AppError('not_found');
    // In a worker of `serve --workers N`: every worker's metrics, summed (src/cluster.ts).
    const text = deps.cluster ? await deps.cluster.metrics() : await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  // With workers, the answer also names the worker that gave it and lists them
  // all: which of them answered, and whether a dead one was replaced, is then
  // visible through the one socket they share.
  app.get('/healthz', { config: { access: 'public' } }, async (request, reply) => {
    try {
      await checkDatabase(deps);
      if (!deps.cluster) return { status: 'ok' };
      return { status: 'ok', worker: deps.cluster.worker, workers: await deps.cluster.workers() };
    } catch (error) {
      request.log.error({ err: error }, 'health check: database or primary process unreachable');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  app.get('/style.css', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
  );

  app.get('/app.js', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(script),
  );

  app.get('/assets/webauthn.js', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(webauthnLibrary),
  );

  app.get('/assets/webauthn-client.js', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(webauthnClient),
  );

  app.get('/api/openapi.json', { config: { access: 'public' } }, async () => app.swagger());
}
