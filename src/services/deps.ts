import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { Clock, RandomSource } from '../domain/providers.ts';
import type { Store } from '../storage/store.ts';
import type { ClusterView } from './cluster-view.ts';
import type { Metrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import type { PasswordHasher } from './passwords.ts';
import type { SecretBox } from './secret-box.ts';
import type { LogoutChannel } from './oidc/revocation.ts';

/** What every service needs, built once in main.ts (or a test) and passed in. */
export interface Deps {
  store: Store;
  settings: Settings;
  clock: Clock;
  random: RandomSource;
  hasher: PasswordHasher;
  logger: Logger;
  /** Seals TOTP secrets at rest. */
  secrets: SecretBox;
  notifier: Notifier;
  metrics: Metrics;
  /** Sends back-channel logout tokens to applications; set once the OpenID Connect provider is up. */
  logoutChannel?: LogoutChannel | undefined;
  /** Set in a worker of `portcullis serve --workers N`: the whole service, for /healthz and /metrics. */
  cluster?: ClusterView;
}

/**
 * Runs fn in one transaction of deps' store: fn gets the same deps with the
 * transaction's store, and every service it calls takes part (the one way a
 * transaction is passed on: as deps).
 */
export function inTransaction<D extends { store: Store }, T>(deps: D, fn: (tx: D) => Promise<T>): Promise<T> {
  return deps.store.transaction((store) => fn({ ...deps, store }));
}
