export const roles = ['admin', 'agent-manager', 'agent'] as const;
export type Role = (typeof roles)[number];

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/** What each role may do. Checked in services, so pages and API agree. */
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
