import { SqliteAdapter, sql } from 'kysely';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { MfaFilterName } from '../../domain/mfa-state.ts';
import { SUFFIX_CHARACTERS } from '../migrations/004-name-suffixes.ts';
import type { Database, UsersTable } from '../schema.ts';

// The user list's search and MFA filter: which of two plans answers a page of
// the account's users, chosen here rather than by the database's planner.

export type MfaFilter = MfaFilterName;

export interface UserListQuery {
  /** Matches usernames containing this text, case-insensitively. */
  search?: string;
  /** Only users in this MFA state ('locked' needs now), or holding a factor of this type. */
  mfa?: MfaFilter;
  now?: number;
  limit: number;
  offset: number;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Below this many matches a search sorts the matches it found through the suffix
 * index; from it on, it walks the account's users in name order (docs/performance.md).
 */
const NARROW_AT_MOST = 2000;

/**
 * The search of an account's users: the rows of one page, in name order, and how
 * many match in all. Every call takes the account id.
 */
export function userSearch(db: Kysely<Database>) {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;

  /**
   * The ids of the account's users with a name suffix starting with the text's
   * first SUFFIX_CHARACTERS (migration 004): a range of the suffix B-tree. A user
   * comes once per place the text occurs in the name, so ids may repeat.
   */
  const suffixMatches = (accountId: string, text: string) => {
    const start = [...text].slice(0, SUFFIX_CHARACTERS).join('');
    const end = nextPrefix(start);
    let q = db.selectFrom('user_name_suffixes').select('user_id').where('account_id', '=', accountId).where('suffix', '>=', start);
    if (end !== undefined) q = q.where('suffix', '<', end);
    return q;
  };

  return async (accountId: string, query: UserListQuery): Promise<{ rows: Array<Selectable<UsersTable>>; total: number }> => {
    const text = query.search ? query.search.normalize('NFKC').toLowerCase() : '';
    // Two ways to answer. Narrow: find the users whose names contain the text through
    // the suffix index (migration 004), then sort just those. Walk: go through the
    // account's users in name order, keeping the ones that match. Narrowing is tried
    // first; when it finds too many, the walk, which stops after a page when matches
    // are common, answers instead. The choice is made here: a planner cannot know
    // where in the name order the matches lie (PostgreSQL's walked 90,000 names to
    // find 25 that sort late).
    const narrowing = text !== '';
    /** The account's users that match; on SQLite, "+" can keep the planner off the account's index. */
    const matching = (accountIndex: boolean) => {
      const account = accountIndex || !sqlite ? sql.ref<string>('users.account_id') : sql<string>`+users.account_id`;
      let base = db.selectFrom('users').where(account, '=', accountId);
      if (text) base = base.where(sql<boolean>`username_key like ${`%${escapeLike(text)}%`} escape '\\'`);
      if (query.mfa === 'enrolled' || query.mfa === 'not_enrolled') {
        const enrolled = (eb: ExpressionBuilder<Database, 'users'>) =>
          eb.exists(
            eb.selectFrom('factors').select('factors.id').whereRef('factors.account_id', '=', 'users.account_id').whereRef('factors.user_id', '=', 'users.id'),
          );
        base = base.where((eb) => (query.mfa === 'enrolled' ? enrolled(eb) : eb.not(enrolled(eb))));
      } else if (query.mfa === 'totp' || query.mfa === 'webauthn') {
        const type = query.mfa;
        base = base.where((eb) =>
          eb.exists(
            eb
              .selectFrom('factors')
              .select('factors.id')
              .whereRef('factors.account_id', '=', 'users.account_id')
              .whereRef('factors.user_id', '=', 'users.id')
              .where('factors.type', '=', type),
          ),
        );
      } else if (query.mfa === 'locked') {
        const now = query.now ?? 0;
        base = base.where((eb) =>
          eb.exists(
            eb
              .selectFrom('throttles')
              .select('throttles.subject')
              .where('throttles.scope', '=', 'totp')
              .whereRef('throttles.account_id', '=', 'users.account_id')
              .whereRef('throttles.subject', '=', 'users.id')
              .where('throttles.locked_until', '>', now),
          ),
        );
      }
      return base;
    };
    type Matching = ReturnType<typeof matching>;
    const page = (q: Matching, order: 'name' | 'expression') =>
      q
        .selectAll()
        // Sorting by an expression keeps PostgreSQL from walking the name index.
        .orderBy(order === 'name' ? sql.ref('username_key') : sql`username_key || ''`)
        .limit(query.limit)
        .offset(query.offset)
        .execute();
    const count = async (q: Matching) => Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    if (narrowing) {
      // The suffix index, stopping at the limit.
      const found = await suffixMatches(accountId, text).limit(NARROW_AT_MOST).execute();
      if (found.length === 0) return { rows: [], total: 0 };
      if (found.length < NARROW_AT_MOST) {
        const narrowed = matching(false).where('users.id', 'in', [...new Set(found.map((r) => r.user_id))]);
        const [rows, total] = await Promise.all([page(narrowed, 'expression'), count(narrowed)]);
        return { rows, total };
      }
    }
    const all = matching(true);
    const [rows, total] = await Promise.all([page(all, 'name'), count(all)]);
    return { rows, total };
  };
}

/** The first text after every text that starts with `prefix`, or undefined when there is none. */
export function nextPrefix(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    let last = (points.pop() as number) + 1;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // no surrogates in text
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return undefined;
}
