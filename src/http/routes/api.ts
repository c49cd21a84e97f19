import type { FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { AppError } from '../app-error.ts';
import { apiAccountRoutes } from './api-account.ts';
import { apiAccessRulesRoutes } from './api-access-rules.ts';
import { apiApplicationRoutes } from './api-applications.ts';
import { apiAuditRoutes } from './api-audit.ts';
import { apiAuthRoutes } from './api-auth.ts';
import { apiFactorRoutes } from './api-factors.ts';
import { apiFactorKeyRoutes } from './api-factor-keys.ts';
import { apiMfaRoutes } from './api-mfa.ts';
import { apiMfaResetRoutes } from './api-mfa-reset.ts';
import { apiPasskeyRoutes } from './api-passkey.ts';
import { apiPasswordResetRoutes } from './api-password-reset.ts';
import { apiSessionRoutes } from './api-sessions.ts';
import { apiUserRoutes } from './api-users.ts';
import type { RouteContext } from '../route-context.ts';

/**
 * The JSON API under /api/v1. It takes only application/json bodies: a
 * browser cannot send those cross-origin without a CORS preflight, which is
 * never granted. With the Origin check (security plugin) that is its CSRF
 * defence, so it needs no token. Bodies are validated without type coercion.
 */
export async function apiRoutes(app: FastifyInstance, options: RouteContext) {
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.addHook('preValidation', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.body === undefined) return;
    const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') throw new AppError('unsupported_media_type');
  });
  await app.register(apiAuthRoutes, options);
  await app.register(apiMfaRoutes, options);
  await app.register(apiPasskeyRoutes, options);
  // Administration, mirroring the pages: admins only, within their own account.
  await app.register(apiAccountRoutes, options);
  await app.register(apiAccessRulesRoutes, options);
  await app.register(apiUserRoutes, options);
  await app.register(apiMfaResetRoutes, options);
  await app.register(apiPasswordResetRoutes, options);
  await app.register(apiAuditRoutes, options);
  await app.register(apiSessionRoutes, options);
  await app.register(apiFactorRoutes, options);
  await app.register(apiFactorKeyRoutes, options);
  await app.register(apiApplicationRoutes, options);
}
