import type { Kysely, Selectable } from 'kysely';
import { compiledOnce } from '../compiled.ts';
import { isAppliesTo, noAccessRules } from '../../domain/access-rules.ts';
import type { AccessRules, AddressRange, AddressRestriction, LoginPolicy } from '../../domain/access-rules.ts';
import { parseAllowed } from '../../domain/factor-policy.ts';
import type { FactorPolicy } from '../../domain/factor-policy.ts';
import type { AccountAccessRulesTable, Database } from '../schema.ts';

const selectRules = compiledOnce<{ accountId: string }, Selectable<AccountAccessRulesTable>>((db, p) =>
  db.selectFrom('account_access_rules').selectAll().where('account_id', '=', p('accountId')),
);

function parseRanges(json: string): AddressRange[] {
  try {
    const value: unknown = JSON.parse(json);
    if (!Array.isArray(value)) return [];
    return value.filter((r): r is AddressRange => typeof r === 'object' && r !== null && typeof (r as AddressRange).cidr === 'string' && typeof (r as AddressRange).label === 'string');
  } catch {
    return [];
  }
}

/** The columns that make an account's rules (every column but the keys and updated_at). */
export type RulesColumns = Omit<Selectable<AccountAccessRulesTable>, 'account_id' | 'updated_at'>;

/** The account's rules from its row; the service's defaults (no restriction) for no row. */
export function rulesFromRow(row: RulesColumns | undefined): AccessRules {
  return row ? toRules(row) : noAccessRules;
}

function toRules(row: RulesColumns): AccessRules {
  return {
    ranges: parseRanges(row.ranges),
    appliesTo: isAppliesTo(row.applies_to) ? row.applies_to : 'everyone',
    policy: {
      minPasswordLength: row.min_password_length,
      lockAfterFailures: row.lock_after_failures,
      idleTimeoutMs: row.idle_timeout_ms,
      absoluteTimeoutMs: row.absolute_timeout_ms,
      inactiveDays: row.inactive_days,
    },
    inactiveFrom: row.inactive_from,
    factors: { allowed: parseAllowed(row.allowed_factors), adminsNeedKey: row.admins_need_key === 1 },
    rememberBrowserDays: row.remember_browser_days ?? 0,
  };
}

/** Account Access Control's sign-in rules (migration 010): one row per account, none until saved. */
export function accessRuleQueries(db: Kysely<Database>) {
  return {
    /** The account's rules; the service's defaults (no restriction) when it saved none. */
    async get(accountId: string): Promise<AccessRules> {
      return rulesFromRow((await selectRules(db, { accountId })).rows[0]);
    },

    /** Saves the address restriction only (the policy's columns stay as they are). */
    async putRestriction(accountId: string, restriction: AddressRestriction, now: number): Promise<void> {
      const values = { ranges: JSON.stringify(restriction.ranges), applies_to: restriction.appliesTo, updated_at: now };
      await db
        .insertInto('account_access_rules')
        .values({ account_id: accountId, ...values })
        .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
        .execute();
    },

    /** Saves the login policy only (the restriction's columns stay as they are). */
    async putPolicy(accountId: string, policy: LoginPolicy, inactiveFrom: number | null, now: number): Promise<void> {
      const values = {
        min_password_length: policy.minPasswordLength,
        lock_after_failures: policy.lockAfterFailures,
        idle_timeout_ms: policy.idleTimeoutMs,
        absolute_timeout_ms: policy.absoluteTimeoutMs,
        inactive_days: policy.inactiveDays,
        inactive_from: inactiveFrom,
        updated_at: now,
      };
      await db
        .insertInto('account_access_rules')
        .values({ account_id: accountId, ...values })
        .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
        .execute();
    },

    /** Saves the factor policy only (migration 011). */
    async putFactorPolicy(accountId: string, policy: FactorPolicy, now: number): Promise<void> {
      const values = { allowed_factors: policy.allowed.join(','), admins_need_key: policy.adminsNeedKey ? 1 : 0, updated_at: now };
      await db
        .insertInto('account_access_rules')
        .values({ account_id: accountId, ...values })
        .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
        .execute();
    },

    /** Saves Remember this browser's days only (0: off; migration 012). */
    async putRememberBrowserDays(accountId: string, days: number, now: number): Promise<void> {
      const values = { remember_browser_days: days, updated_at: now };
      await db
        .insertInto('account_access_rules')
        .values({ account_id: accountId, ...values })
        .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
        .execute();
    },

    /** The accounts whose inactivity rule is on, with it. */
    async withInactivityRule(): Promise<Array<{ accountId: string; inactiveDays: number; inactiveFrom: number }>> {
      const rows = await db
        .selectFrom('account_access_rules')
        .select(['account_id', 'inactive_days', 'inactive_from'])
        .where('inactive_days', 'is not', null)
        .orderBy('account_id')
        .execute();
      return rows.flatMap((r) => (r.inactive_days === null ? [] : [{ accountId: r.account_id, inactiveDays: r.inactive_days, inactiveFrom: r.inactive_from ?? 0 }]));
    },
  };
}
