import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { loadKeyRing } from './config/secret-key.ts';
import { openRuntime } from './runtime.ts';

/** Fastify's trustProxy takes no hop count in its types; a hop test does the same. */
function trustProxyOption(value: false | string | number): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}

/**
 * Starts the service: reads the environment, opens and migrates the
 * database, loads the secret key, listens. Answers the app once listening.
 */
export async function serve(env: Record<string, string | undefined> = process.env): Promise<FastifyInstance> {
  const runtime = await openRuntime(env);
  const { deps, settings, database } = runtime;
  const keys = loadKeyRing(env, database.dataDir);
  if (keys.generatedFile) {
    deps.logger.warn(
      { file: keys.generatedFile },
      'generated a new secret key into the data folder; back it up, or set PORTCULLIS_SECRET_KEY',
    );
  }
  const app = await buildApp({ deps, keys: keys.ring, trustProxy: trustProxyOption(settings.trustProxy) });
  app.addHook('onClose', () => runtime.close());

  // Expired sessions are refused on read; this only keeps the table small.
  const sweep = setInterval(() => {
    deps.store.sessions.deleteExpired(deps.clock.now()).catch((err: unknown) => deps.logger.warn({ err }, 'session sweep failed'));
  }, 10 * 60_000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      deps.logger.info({ signal }, 'shutting down');
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.listen({ port: settings.port, host: settings.host });
  if (!settings.publicUrl) {
    deps.logger.warn('PORTCULLIS_PUBLIC_URL is not set: cookies are not marked Secure. Set it to the https:// address in production.');
  }
  return app;
}
