import type { Kysely, Selectable } from 'kysely';
import { compiledOnce, deferrableWrite } from '../compiled.ts';
import type { ThrottleKey, ThrottleState } from '../records.ts';
import type { Database, ThrottlesTable } from '../schema.ts';

function where(key: ThrottleKey) {
  return { scope: key.scope, account_id: key.accountId, subject: key.subject };
}

type Key = ReturnType<typeof where>;

const selectState = compiledOnce<Key, Pick<Selectable<ThrottlesTable>, 'failures' | 'lock_count' | 'locked_until'>>((db, p) =>
  db
    .selectFrom('throttles')
    .select(['failures', 'lock_count', 'locked_until'])
    .where('scope', '=', p('scope'))
    .where('account_id', '=', p('account_id'))
    .where('subject', '=', p('subject')),
);

/** One more failure, in one upsert; with a window (`forget`), a count whose last failure is older starts again at 1. */
function countFailure(windowed: boolean) {
  return compiledOnce<Key & { now: number; forgetBefore: number }, Pick<Selectable<ThrottlesTable>, 'failures' | 'lock_count' | 'locked_until'>>((db, p) =>
    db
      .insertInto('throttles')
      .values({ scope: p('scope'), account_id: p('account_id'), subject: p('subject'), failures: 1, lock_count: 0, locked_until: null, updated_at: p('now') })
      .onConflict((oc) =>
        oc
          .columns(['scope', 'account_id', 'subject'])
          .doUpdateSet((eb) => ({
            failures: windowed
              ? eb.case().when('throttles.updated_at', '<', p('forgetBefore')).then(1).else(eb('throttles.failures', '+', 1)).end()
              : eb('throttles.failures', '+', 1),
            updated_at: p('now'),
          }))
          // While locked nothing counts and nothing is written: a flood against a
          // locked key costs no writes. The statement then returns no row, and
          // addFailure reads the lock instead.
          .where((eb) => eb.or([eb('throttles.locked_until', 'is', null), eb('throttles.locked_until', '<=', p('now'))])),
      )
      .returning(['failures', 'lock_count', 'locked_until']),
  );
}
const countFailureEver = countFailure(false);
const countFailureInWindow = countFailure(true);

const deleteKey = deferrableWrite<Key>((db, p) =>
  db.deleteFrom('throttles').where('scope', '=', p('scope')).where('account_id', '=', p('account_id')).where('subject', '=', p('subject')),
);

export function throttleQueries(db: Kysely<Database>) {
  return {
    async get(key: ThrottleKey): Promise<ThrottleState | undefined> {
      const row = (await selectState(db, where(key))).rows[0];
      return row && { failures: row.failures, lockCount: row.lock_count, lockedUntil: row.locked_until };
    },

    /**
     * Counts one more failure in a single upsert, so parallel failures each
     * count; answers the state after it. With forgetBefore, a count whose last
     * failure is older than that starts again at 1 (a window, for counters
     * that success does not reset).
     */
    async addFailure(key: ThrottleKey, now: number, forgetBefore?: number): Promise<ThrottleState> {
      const query = forgetBefore === undefined ? countFailureEver : countFailureInWindow;
      const row = (await query(db, { ...where(key), now, forgetBefore: forgetBefore ?? 0 })).rows[0] ?? (await selectState(db, where(key))).rows[0];
      if (!row) throw new Error('the throttle upsert returned no row, and there is none');
      return { failures: row.failures, lockCount: row.lock_count, lockedUntil: row.locked_until };
    },

    /**
     * Turns a count that reached the limit into a lock. Conditional on the count
     * and the lock number, so of two requests racing past the limit only one
     * locks (and audits); answers whether this call did.
     */
    async lock(key: ThrottleKey, limit: number, lockNumber: number, lockedUntil: number, now: number): Promise<boolean> {
      const k = where(key);
      const result = await db
        .updateTable('throttles')
        .set({ failures: 0, lock_count: lockNumber, locked_until: lockedUntil, updated_at: now })
        .where('scope', '=', k.scope)
        .where('account_id', '=', k.account_id)
        .where('subject', '=', k.subject)
        .where('failures', '>=', limit)
        .where('lock_count', '=', lockNumber - 1)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** One failure fewer, if any is counted (an attempt taken back). */
    async takeBackFailure(key: ThrottleKey): Promise<void> {
      const k = where(key);
      await db
        .updateTable('throttles')
        .set((eb) => ({ failures: eb('failures', '-', 1) }))
        .where('scope', '=', k.scope)
        .where('account_id', '=', k.account_id)
        .where('subject', '=', k.subject)
        .where('failures', '>', 0)
        .execute();
    },

    /** Lifts the lock `lockNumber` set until `lockedUntil`, back to `failures` counted; any other lock stays. */
    async unlock(key: ThrottleKey, lockNumber: number, lockedUntil: number, failures: number): Promise<void> {
      const k = where(key);
      await db
        .updateTable('throttles')
        .set({ failures, lock_count: lockNumber - 1, locked_until: null })
        .where('scope', '=', k.scope)
        .where('account_id', '=', k.account_id)
        .where('subject', '=', k.subject)
        .where('lock_count', '=', lockNumber)
        .where('locked_until', '=', lockedUntil)
        .execute();
    },

    /** Lock ends of the subjects (of one scope and account) locked at `now`. */
    async lockedUntil(scope: ThrottleKey['scope'], accountId: string, subjects: string[], now: number): Promise<Map<string, number>> {
      if (subjects.length === 0) return new Map();
      const rows = await db
        .selectFrom('throttles')
        .select(['subject', 'locked_until'])
        .where('scope', '=', scope)
        .where('account_id', '=', accountId)
        .where('subject', 'in', subjects)
        .where('locked_until', '>', now)
        .execute();
      return new Map(rows.map((r) => [r.subject, r.locked_until as number]));
    },

    async clear(key: ThrottleKey): Promise<void> {
      await deleteKey(db, where(key));
    },
  };
}
