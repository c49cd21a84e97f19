import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { openRuntime } from './runtime.ts';
import { disableInactiveUsers } from './services/access-rules.ts';

/** Fastify's trustProxy takes no hop count in its types; a hop test does the same. */
function trustProxyOption(value: false | string | number): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}

/**
 * Starts the service: reads the environment, opens and migrates the
 * database, loads the secret key, listens. Answers the app once listening.
 */
export async function serve(env: Record<string, string | undefined> = process.env): Promise<FastifyInstance> {
  const runtime = await openRuntime(env, { keys: true, logTo: 'stdout' });
  const { deps, settings } = runtime;
  if (!runtime.keys) throw new Error('serve needs the secret key');
  // Make the dummy hash now, so the first unknown user's sign-in costs no more than the others.
  await deps.hasher.verifyDummy('');
  const app = await buildApp({ deps, keys: runtime.keys, trustProxy: trustProxyOption(settings.trustProxy) });
  app.addHook('onClose', () => runtime.close());

  // Expired sessions are refused on read; this only keeps the table small.
  const sweep = setInterval(() => {
    deps.store.sessions.deleteExpired(deps.clock.now()).catch((err: unknown) => deps.logger.warn({ err }, 'session sweep failed'));
  }, 10 * 60_000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  // Account Access Control's inactivity rule: hourly, on every instance (the
  // store's conditional update disables each user once, however many run it).
  const inactivity = () => {
    disableInactiveUsers(deps).catch((err: unknown) => deps.logger.warn({ err }, 'inactivity job failed'));
  };
  const inactivityJob = setInterval(inactivity, 60 * 60_000);
  inactivityJob.unref();
  app.addHook('onReady', async () => inactivity());
  app.addHook('onClose', async () => clearInterval(inactivityJob));

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
