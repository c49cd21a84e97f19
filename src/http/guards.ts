import type { FastifyRequest } from 'fastify';
import { AppError } from './app-error.ts';
import { can } from '../domain/roles.ts';
import type { Permission } from '../domain/roles.ts';
import type { Principal } from '../services/principal.ts';
import type { Viewer } from './views/layout.tsx';

/** The signed-in (full) session, or a 401 the error handler maps. */
export function requireFull(request: FastifyRequest): Principal {
  const auth = request.auth;
  if (!auth || auth.session.state !== 'full') throw new AppError('unauthenticated');
  return auth;
}

/** A full session whose role has the permission, or 403. */
export function requirePermission(request: FastifyRequest, permission: Permission): Principal {
  const auth = requireFull(request);
  if (!can(auth.user.role, permission)) throw new AppError('forbidden');
  return auth;
}

/**
 * A route hook that refuses before the body is parsed or validated: a caller
 * without the permission learns nothing about what the route accepts (a 403,
 * never a 400 naming a field). The handler still calls requirePermission for
 * the session it works with.
 */
export function onlyWith(permission: Permission) {
  return async (request: FastifyRequest): Promise<void> => {
    requirePermission(request, permission);
  };
}

export function viewerOf(auth: Principal): Viewer {
  return {
    username: auth.user.username,
    role: auth.user.role,
    accountName: auth.account.name,
    accountId: auth.account.id,
    isAdmin: can(auth.user.role, 'manageAccount'),
  };
}
