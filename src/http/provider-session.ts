import type { FastifyRequest } from 'fastify';
import { PROVIDER_SESSION_COOKIE } from '../services/oidc/index.ts';

/**
 * The provider session of the browser a request comes from: the value of
 * the provider's `_session` cookie when it looks like an id (oidc-provider's
 * nanoid), else undefined. Its signature is not checked here: it is only
 * used to choose among the signed-in user's own provider sessions, so a
 * forged value can at most spare one of them from "sign out all other
 * sessions" or end one at Sign out, which that user may do anyway.
 */
export function providerSessionOf(request: FastifyRequest): string | undefined {
  const value = request.cookies[PROVIDER_SESSION_COOKIE];
  return value && /^[A-Za-z0-9_-]{1,64}$/.test(value) ? value : undefined;
}
