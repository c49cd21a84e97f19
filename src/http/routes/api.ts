import type { FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { AppError } from '../../domain/errors.ts';
import { apiAdminRoutes } from './api-admin.ts';
import { apiAuthRoutes } from './api-auth.ts';
import { apiMfaRoutes } from './api-mfa.ts';
import { apiSessionRoutes } from './api-sessions.ts';
import type { RouteOptions } from './sign-in-pages.tsx';

/**
 * The JSON API under /api/v1. It takes only application/json bodies: a
 * browser cannot send those cross-origin without a CORS preflight, which is
 * never granted. With the Origin check (security plugin) that is its CSRF
 * defence, so it needs no token. Bodies are validated without type coercion.
 */
export async function apiRoutes(app: FastifyInstance, options: RouteOptions) {
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.addHook('preValidation', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.body === undefined) return;
    const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') throw new AppError('unsupported_media_type');
  });
  await app.register(apiAuthRoutes, options);
  await app.register(apiMfaRoutes, options);
  await app.register(apiAdminRoutes, options);
  await app.register(apiSessionRoutes, options);
}
