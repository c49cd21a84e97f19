import type { Deps } from './deps.ts';

/** What /healthz asks: does the database answer? Throws, with the cause for the log, when it does not. */
export async function checkDatabase(deps: Pick<Deps, 'store'>): Promise<void> {
  await deps.store.ping();
}
