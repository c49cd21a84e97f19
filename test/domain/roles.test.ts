import { describe, expect, it } from 'vitest';
import { can, isRole, permissions, roles } from '../../src/domain/roles.ts';
import type { Permission } from '../../src/domain/roles.ts';

describe('roles', () => {
  it('are admin, agent-manager and agent', () => {
    expect([...roles]).toEqual(['admin', 'agent-manager', 'agent']);
  });

  it('isRole accepts exactly those names', () => {
    for (const role of roles) expect(isRole(role), role).toBe(true);
    for (const value of ['', 'Admin', 'ADMIN', ' admin', 'admin ', 'root', 'superuser', 'agent_manager', 'toString', '__proto__', 'constructor']) {
      expect(isRole(value), JSON.stringify(value)).toBe(false);
    }
  });
});

describe('permissions', () => {
  const adminOnly: Permission[] = ['manageAccount', 'manageUsers', 'resetMfa', 'viewAudit'];

  it('lists exactly the admin-only permissions', () => {
    expect(Object.keys(permissions).sort()).toEqual([...adminOnly].sort());
  });

  for (const permission of adminOnly) {
    it(`only admin may ${permission}`, () => {
      expect(can('admin', permission)).toBe(true);
      expect(can('agent-manager', permission)).toBe(false);
      expect(can('agent', permission)).toBe(false);
    });
  }
});
