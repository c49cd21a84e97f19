import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { clusterView, onShutdownRequest, servePrimary, workerId } from './cluster.ts';
import { loadSettings } from './config/settings.ts';
import { openRuntime } from './runtime.ts';
import { disableInactiveUsers } from './services/access-rules.ts';

/** Fastify's trustProxy takes no hop count in its types; a hop test does the same. */
function trustProxyOption(value: false | string | number): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}

export interface ServeOptions {
  /** Worker processes (`serve --workers N`); PORTCULLIS_WORKERS when unset. */
  workers?: number;
}

/**
 * Starts the service: reads the environment, opens and migrates the
 * database, loads the secret key, listens. Answers the app once listening.
 * With more than one worker this process becomes the cluster's primary
 * (src/cluster.ts), which serves nothing itself, and answers undefined once
 * every worker listens; each worker then runs this same function.
 */
export async function serve(env: Record<string, string | undefined> = process.env, options: ServeOptions = {}): Promise<FastifyInstance | undefined> {
  const worker = workerId();
  if (worker === undefined) {
    const workers = options.workers ?? loadSettings(env).workers;
    if (workers > 1) {
      await servePrimary(env, workers);
      return undefined;
    }
  }
  // A worker's SQLite file is checkpointed by the primary; its schema is already migrated there.
  const runtime = await openRuntime(env, { keys: true, logTo: 'stdout', ...(worker === undefined ? {} : { checkpoint: 'external', worker }) });
  const deps = worker === undefined ? runtime.deps : { ...runtime.deps, cluster: clusterView(worker, runtime.deps.metrics.registry) };
  const { settings } = runtime;
  if (!runtime.keys) throw new Error('serve needs the secret key');
  // Make the dummy hash now, so the first unknown user's sign-in costs no more than the others.
  await deps.hasher.verifyDummy('');
  const app = await buildApp({ deps, keys: runtime.keys, trustProxy: trustProxyOption(settings.trustProxy) });
  app.addHook('onClose', () => runtime.close());

  // Expired sessions are refused on read; this only keeps the table small. With
  // workers, the first one sweeps (a replacement of it takes over).
  if (worker === undefined || worker === 1) {
    const sweep = setInterval(() => {
      const now = deps.clock.now();
      deps.store.sessions.deleteExpired(now).catch((err: unknown) => deps.logger.warn({ err }, 'session sweep failed'));
      deps.store.passkeyChallenges.deleteExpired(now).catch((err: unknown) => deps.logger.warn({ err }, 'passkey challenge sweep failed'));
      // The provider's expired codes, tokens, sessions and interactions, and signing keys past retirement.
      deps.store.oidcPayloads.deleteExpired(now).catch((err: unknown) => deps.logger.warn({ err }, 'OpenID Connect sweep failed'));
      deps.store.signingKeys.deleteRetired(now).catch((err: unknown) => deps.logger.warn({ err }, 'signing key sweep failed'));
    }, 10 * 60_000);
    sweep.unref();
    app.addHook('onClose', async () => clearInterval(sweep));
  }

  // Account Access Control's inactivity rule: hourly, on every instance (the
  // store's conditional update disables each user once, however many run it).
  const inactivity = () => {
    disableInactiveUsers(deps).catch((err: unknown) => deps.logger.warn({ err }, 'inactivity job failed'));
  };
  const inactivityJob = setInterval(inactivity, 60 * 60_000);
  inactivityJob.unref();
  app.addHook('onReady', async () => inactivity());
  app.addHook('onClose', async () => clearInterval(inactivityJob));

  // Requests in flight finish; then the process exits.
  let closing = false;
  const drain = (reason: string) => {
    if (closing) return;
    closing = true;
    deps.logger.info({ reason }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // A worker stops when the primary says so. Ctrl-C reaches the whole process
  // group: the primary orders that shutdown, so a worker ignores SIGINT itself.
  // SIGTERM sent to one worker alone stops that one; the primary replaces it.
  if (worker !== undefined) {
    onShutdownRequest(() => drain('the primary is shutting down'));
    process.on('SIGINT', () => undefined);
    process.once('SIGTERM', () => drain('SIGTERM'));
  } else {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => drain(signal));
  }
  await app.listen({ port: settings.port, host: settings.host });
  if (!settings.publicUrl) {
    deps.logger.warn('PORTCULLIS_PUBLIC_URL is not set: cookies are not marked Secure and the OpenID Connect issuer is the local address. Set it to the https:// address in production.');
  }
  return app;
}
