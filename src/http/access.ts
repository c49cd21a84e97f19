import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { can, permissions } from '../domain/roles.ts';
import type { Permission } from '../domain/roles.ts';
import type { Principal } from '../services/principal.ts';
import { AppError } from './app-error.ts';
import { PASSWORD_CHANGE_PAGE } from './next-step.ts';
import { wantsJson } from './plugins/errors.tsx';

/**
 * Who may call a route. Every route states it once, in its config
 * (`config: { access: … }`); the one hook below enforces it, and the
 * authorization matrix (test/authz) reads the same declarations.
 * - 'public': anyone, with or without a session (the handler may still look at it);
 * - 'pending': a sign-in whose password is done and whose second factor is due;
 * - 'session': any live session, pending or full;
 * - 'signed-in': a full session, whatever the role;
 * - { permission }: a full session whose role has the permission (domain/roles.ts).
 */
export type Access = 'public' | 'pending' | 'session' | 'signed-in' | { permission: Permission };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /**
     * Admitted for a full session whose password an admin set and the user has
     * not changed yet: only the change itself is (issue 15). Every other route
     * that needs a full session refuses it (pages go to the change page).
     */
    beforePasswordChange?: boolean;
  }
}

export function isAccess(value: unknown): value is Access {
  if (value === 'public' || value === 'pending' || value === 'session' || value === 'signed-in') return true;
  if (typeof value !== 'object' || value === null) return false;
  const permission = (value as { permission?: unknown }).permission;
  return typeof permission === 'string' && Object.hasOwn(permissions, permission);
}

/** The principal each request was admitted as; only the hook writes it. */
const admitted = new WeakMap<FastifyRequest, Principal>();

/**
 * The session the route's declared access admitted. It checks nothing again:
 * the hook did. Calling it from a public route (or with the hook not
 * installed) is a bug, and fails loudly rather than answering as nobody.
 */
export function principalOf(request: FastifyRequest): Principal {
  const principal = admitted.get(request);
  if (!principal) throw new Error(`${request.method} ${request.routeOptions.url ?? request.url}: no principal was admitted; does the route declare an access that needs a session?`);
  return principal;
}

/** The session, or the refusal this access gives a request without the right one. */
function admit(request: FastifyRequest, access: Access): Principal | AppError | 'back' | 'change-password' | undefined {
  const auth = request.auth;
  if (access === 'public') return undefined;
  if (access === 'pending') {
    if (auth?.session.state === 'pending') return auth;
    return wantsJson(request) ? new AppError('session_expired') : 'back';
  }
  if (access === 'session') return auth ?? new AppError('unauthenticated');
  if (!auth || auth.session.state !== 'full') return new AppError('unauthenticated');
  // A password an admin set is changed before anything else is reachable.
  if (auth.user.passwordChangeRequired && request.routeOptions.config.beforePasswordChange !== true) {
    return wantsJson(request) ? new AppError('password_change_required') : 'change-password';
  }
  if (access !== 'signed-in' && !can(auth.user.role, access.permission)) return new AppError('forbidden');
  return auth;
}

/**
 * A page of the code step, asked for by someone with no sign-in under way: a
 * signed-in user goes home; anyone else goes to sign in, and a form post is
 * told its sign-in ran out (an expired pending session has no session for the
 * form's CSRF token to match, so this answers before the CSRF check).
 */
function sendBack(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (request.auth) return reply.redirect('/', 303);
  return reply.redirect(request.method === 'GET' || request.method === 'HEAD' ? '/login' : '/login?notice=expired', 303);
}

/**
 * Refuses a route at registration when it declares no access, and enforces the
 * declared access on every request before the body is read or validated: a
 * caller without it learns nothing about what the route accepts (a 401 or 403,
 * never a 400 naming a field). Registered after the session plugin, whose hook
 * sets request.auth, and after the Origin check.
 */
export const accessPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRoute', (route: RouteOptions) => {
      if (!isAccess(route.config?.access)) {
        throw new Error(`${[route.method].flat().join(',')} ${route.url} declares no access: give it config: { access: … } (src/http/access.ts)`);
      }
    });
    app.addHook('onRequest', async (request, reply) => {
      // An unknown URL has no route and no declaration: the 404 answers it.
      if (request.is404) return;
      const access = request.routeOptions.config.access;
      if (!isAccess(access)) throw new Error(`${request.method} ${request.url}: a route without a declared access was registered`);
      const outcome = admit(request, access);
      if (outcome === 'back') return sendBack(request, reply);
      if (outcome === 'change-password') return reply.redirect(PASSWORD_CHANGE_PAGE, 303);
      if (outcome instanceof AppError) throw outcome;
      if (outcome) admitted.set(request, outcome);
    });
  },
  { name: 'portcullis-access', dependencies: ['portcullis-session'] },
);
