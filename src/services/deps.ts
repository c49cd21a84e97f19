import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { Clock, RandomSource } from '../domain/providers.ts';
import type { Store } from '../storage/store.ts';
import type { PasswordHasher } from './passwords.ts';

/** What every service needs, built once in main.ts (or a test) and passed in. */
export interface Deps {
  store: Store;
  settings: Settings;
  clock: Clock;
  random: RandomSource;
  hasher: PasswordHasher;
  logger: Logger;
}
