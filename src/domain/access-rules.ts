import { addressRanges, isAddressRange } from './addresses.ts';
import { defaultFactorPolicy } from './factor-policy.ts';
import type { FactorPolicy } from './factor-policy.ts';
import type { Role } from './roles.ts';

// Account Access Control's sign-in rules (issue 15): where an account's users
// may sign in from, and the account's own login policy, which may only be
// stricter than the service's (the service's settings stay the floor).

export interface AddressRange {
  /** An IPv4 or IPv6 address or CIDR, as isAddressRange reads it. */
  cidr: string;
  label: string;
}

export const appliesToValues = ['everyone', 'everyone_but_admins'] as const;
export type AppliesTo = (typeof appliesToValues)[number];

export function isAppliesTo(value: string): value is AppliesTo {
  return (appliesToValues as readonly string[]).includes(value);
}

export interface AddressRestriction {
  /** Empty: no restriction. */
  ranges: AddressRange[];
  appliesTo: AppliesTo;
}

/** Null fields are the service's own value. Times in milliseconds. */
export interface LoginPolicy {
  minPasswordLength: number | null;
  lockAfterFailures: number | null;
  idleTimeoutMs: number | null;
  absoluteTimeoutMs: number | null;
  /** Users (not admins) who have not signed in for this many days are disabled; null: off. */
  inactiveDays: number | null;
}

export interface AccessRules extends AddressRestriction {
  policy: LoginPolicy;
  /** When the inactivity rule was switched on (its days count from here at the earliest); null when off. */
  inactiveFrom: number | null;
  /** Which second factors count, and whether admins need a security key (factor-policy.ts). */
  factors: FactorPolicy;
}

export const noAccessRules: AccessRules = {
  ranges: [],
  appliesTo: 'everyone',
  policy: { minPasswordLength: null, lockAfterFailures: null, idleTimeoutMs: null, absoluteTimeoutMs: null, inactiveDays: null },
  inactiveFrom: null,
  factors: defaultFactorPolicy,
};

export const rangeLimits = { maxRanges: 100, maxLabel: 100 } as const;

/** Whether the restriction applies to a user of this role. */
export function restrictionApplies(restriction: AddressRestriction, role: Role): boolean {
  if (restriction.ranges.length === 0) return false;
  return !(restriction.appliesTo === 'everyone_but_admins' && role === 'admin');
}

/** Whether a user of `role` may sign in (or keep a session) from `ip` under the restriction. */
export function addressAllowed(restriction: AddressRestriction, role: Role, ip: string): boolean {
  if (!restrictionApplies(restriction, role)) return true;
  return addressRanges(restriction.ranges.map((r) => r.cidr))(ip);
}

export type RangesCheck = { ok: true; ranges: AddressRange[] } | { ok: false; errors: string[] };

/** Checks ranges one by one; every problem is listed with the range's position. */
export function checkRanges(input: Array<{ cidr: string; label: string }>): RangesCheck {
  const errors: string[] = [];
  const ranges: AddressRange[] = [];
  if (input.length > rangeLimits.maxRanges) errors.push(`At most ${rangeLimits.maxRanges} address ranges.`);
  input.forEach((entry, i) => {
    const cidr = entry.cidr.trim().toLowerCase();
    const label = entry.label.trim().replace(/\s+/g, ' ');
    const where = `Range ${i + 1}`;
    if (!isAddressRange(cidr)) errors.push(`${where}: “${cidr.slice(0, 60)}” is not an IPv4 or IPv6 address range (e.g. 203.0.113.0/24 or 2001:db8::/48).`);
    if (label === '') errors.push(`${where}: give it a label (e.g. Head office).`);
    // Controls and bidirectional overrides have no place in a label (Unicode TR #36 §2.1).
    else if ([...label].length > rangeLimits.maxLabel) errors.push(`${where}: the label is at most ${rangeLimits.maxLabel} characters.`);
    else if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(label)) errors.push(`${where}: the label has a control or formatting character.`);
    ranges.push({ cidr, label });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, ranges };
}

/**
 * The ranges a form's text area lists, one a line: the range, then its label
 * ("203.0.113.0/24 Head office"). Blank lines are skipped.
 */
export function parseRangeLines(text: string): Array<{ cidr: string; label: string }> {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.search(/\s/);
      return space < 0 ? { cidr: line, label: '' } : { cidr: line.slice(0, space), label: line.slice(space + 1) };
    });
}

export function formatRangeLines(ranges: AddressRange[]): string {
  return ranges.map((r) => `${r.cidr} ${r.label}`).join('\n');
}

/** The service's values the policy is bounded by (its settings). */
export interface ServiceFloor {
  minPasswordLength: number;
  maxPasswordLength: number;
  lockAfterFailures: number;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
}

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;

/**
 * The bounds of each field. Password length: 12 to 128 (NIST SP 800-63B
 * §5.1.1.2 asks at least 8 and at least 64 allowed; ASVS 4.0.3 V2.1.1 asks
 * 12). Failed passwords before a lock: 3 to 10 (NIST SP 800-63B §5.2.2 allows
 * at most 100; fewer than 3 locks people out over typos). Idle timeout at
 * least 5 minutes (a session in use is touched once a minute), absolute at
 * least 15; both at most the service's. Inactivity: 1 to 3650 days.
 */
export function policyBounds(floor: ServiceFloor) {
  return {
    minPasswordLength: { min: Math.max(12, floor.minPasswordLength), max: Math.min(128, floor.maxPasswordLength) },
    lockAfterFailures: { min: 3, max: Math.min(10, floor.lockAfterFailures) },
    idleTimeoutMinutes: { min: 5, max: Math.floor(floor.idleTimeoutMs / MINUTE) },
    absoluteTimeoutMinutes: { min: 15, max: Math.floor(floor.absoluteTimeoutMs / MINUTE) },
    inactiveDays: { min: 1, max: 3650 },
  };
}

/** The form's and the API's fields, as numbers or null (blank: the service's value; inactivity off). */
export interface PolicyInput {
  minPasswordLength: number | null;
  lockAfterFailures: number | null;
  idleTimeoutMinutes: number | null;
  absoluteTimeoutMinutes: number | null;
  inactiveDays: number | null;
}

export type PolicyField = keyof PolicyInput;
export type PolicyCheck = { ok: true; policy: LoginPolicy } | { ok: false; errors: Partial<Record<PolicyField, string>> };

const fieldNames: Record<PolicyField, string> = {
  minPasswordLength: 'Minimum password length',
  lockAfterFailures: 'Failed passwords before a lock',
  idleTimeoutMinutes: 'Session idle timeout',
  absoluteTimeoutMinutes: 'Session absolute timeout',
  inactiveDays: 'Days without a sign-in before a user is deactivated',
};

const units: Record<PolicyField, string> = {
  minPasswordLength: 'characters',
  lockAfterFailures: 'failures',
  idleTimeoutMinutes: 'minutes',
  absoluteTimeoutMinutes: 'minutes',
  inactiveDays: 'days',
};

/** Checks each field against its bounds; a message per field that fails. */
export function checkPolicy(input: PolicyInput, floor: ServiceFloor): PolicyCheck {
  const bounds = policyBounds(floor);
  const errors: Partial<Record<PolicyField, string>> = {};
  for (const field of Object.keys(fieldNames) as PolicyField[]) {
    const value = input[field];
    if (value === null) continue;
    const { min, max } = bounds[field];
    if (!Number.isInteger(value)) errors[field] = `${fieldNames[field]} must be a whole number.`;
    else if (max < min) errors[field] = `${fieldNames[field]} cannot be set: the service allows no stricter value.`;
    else if (value < min || value > max) errors[field] = `${fieldNames[field]} must be from ${min} to ${max} ${units[field]}${field === 'inactiveDays' ? '' : ', or blank for the service’s own value'}.`;
  }
  const { idleTimeoutMinutes: idle, absoluteTimeoutMinutes: absolute } = input;
  if (!errors.idleTimeoutMinutes && !errors.absoluteTimeoutMinutes && idle !== null) {
    const absoluteMinutes = absolute ?? Math.floor(floor.absoluteTimeoutMs / MINUTE);
    if (idle > absoluteMinutes) errors.idleTimeoutMinutes = `Session idle timeout cannot be longer than the absolute timeout (${absoluteMinutes} minutes).`;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: {
      minPasswordLength: input.minPasswordLength,
      lockAfterFailures: input.lockAfterFailures,
      idleTimeoutMs: input.idleTimeoutMinutes === null ? null : input.idleTimeoutMinutes * MINUTE,
      absoluteTimeoutMs: input.absoluteTimeoutMinutes === null ? null : input.absoluteTimeoutMinutes * MINUTE,
      inactiveDays: input.inactiveDays,
    },
  };
}

/** The policy as the form and the API show it (minutes, not milliseconds). */
export function policyInput(policy: LoginPolicy): PolicyInput {
  return {
    minPasswordLength: policy.minPasswordLength,
    lockAfterFailures: policy.lockAfterFailures,
    idleTimeoutMinutes: policy.idleTimeoutMs === null ? null : Math.round(policy.idleTimeoutMs / MINUTE),
    absoluteTimeoutMinutes: policy.absoluteTimeoutMs === null ? null : Math.round(policy.absoluteTimeoutMs / MINUTE),
    inactiveDays: policy.inactiveDays,
  };
}

/** The value in force: the account's where it set one, the service's otherwise. */
export function effective(accountValue: number | null, serviceValue: number): number {
  return accountValue === null ? serviceValue : Math.min(accountValue, serviceValue);
}
