import type { FastifyRequest } from 'fastify';
import type { Deps } from '../services/deps.ts';

/**
 * The origin a Reset password link names: the public URL when it is set,
 * else the one this request came to. The Host header cannot plant another
 * (OWASP Forgot Password Cheat Sheet, "Host header injection"): the known-hosts
 * plugin answers only the service's own names (issue 16, finding 10).
 */
export function resetBaseUrl(deps: Deps, request: FastifyRequest): string {
  return deps.settings.publicUrl?.origin ?? `${request.protocol}://${request.host}`;
}
