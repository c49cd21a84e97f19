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
