export const roles = ['admin', 'agent-manager', 'agent'] as const;
export type Role = (typeof roles)[number];

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/**
 * What each role may do. Checked in one place: each route declares the
 * permission it needs (config.access) and the access hook in
 * src/http/access.ts asks can() before the handler runs, so pages and API
 * agree. Services trust their caller; they scope every query by account
 * (docs/decisions.md, "Authorization").
 */
export const permissions = {
  manageAccount: ['admin'],
  manageUsers: ['admin'],
  resetMfa: ['admin'],
  viewAudit: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof permissions;

export function can(role: Role, permission: Permission): boolean {
  return (permissions[permission] as readonly Role[]).includes(role);
}

/**
 * Whether a change of a user's role or state grants admin or takes it from
 * someone who holds it (demoted or disabled): such a change asks the admin
 * making it for a current second factor (step-up, issue 16 finding 2).
 * `before` is undefined for a user being created.
 */
export function changesAdminStanding(before: { role: string; state: string } | undefined, after: { role: string; state: string }): boolean {
  if (!before) return after.role === 'admin';
  if (before.role !== 'admin') return after.role === 'admin';
  return after.role !== 'admin' || (after.state === 'disabled' && before.state !== 'disabled');
}
