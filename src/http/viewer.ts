import { can } from '../domain/roles.ts';
import type { Principal } from '../services/principal.ts';
import type { Viewer } from './views/layout.tsx';

/** What the page layout shows of the signed-in user: name, role, account, and whether the admin links appear. */
export function viewerOf(auth: Principal): Viewer {
  return {
    username: auth.user.username,
    role: auth.user.role,
    accountName: auth.account.name,
    accountId: auth.account.id,
    isAdmin: can(auth.user.role, 'manageAccount'),
  };
}
