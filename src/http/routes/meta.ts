import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { addressRanges } from '../../domain/addresses.ts';
import { AppError } from '../../domain/errors.ts';
import type { Metrics } from '../../services/metrics.ts';
import type { Store } from '../../storage/store.ts';

const stylesheet = readFileSync(new URL('../../../public/style.css', import.meta.url));
const script = readFileSync(new URL('../../../public/app.js', import.meta.url));

/** Health, the stylesheet and the OpenAPI document. */
export async function metaRoutes(app: FastifyInstance, { store, metrics, metricsAllow }: { store: Store; metrics: Metrics; metricsAllow: string[] }) {
  const allowed = addressRanges(metricsAllow);

  // Prometheus scrapes from inside: only listed addresses (loopback by default) may read.
  app.get('/metrics', async (request, reply) => {
    if (!allowed(request.ip)) throw new AppError('not_found');
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/healthz', async (request, reply) => {
    try {
      await store.ping();
      return { status: 'ok' };
    } catch (error) {
      request.log.error({ err: error }, 'health check: database unreachable');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  app.get('/style.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
  );

  app.get('/app.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(script),
  );

  app.get('/api/openapi.json', async () => app.swagger());
}
