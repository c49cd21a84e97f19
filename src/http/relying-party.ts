import type { FastifyRequest } from 'fastify';
import type { RelyingParty } from '../services/factors/factor-module.ts';

/**
 * The WebAuthn relying party a request speaks for (W3C WebAuthn Level 3
 * §5.1.3): the host of PORTCULLIS_PUBLIC_URL and its origin when set;
 * otherwise the host the request was served under (the known-hosts plugin
 * has admitted only localhost and this machine's own addresses by then;
 * browsers refuse an IP address as an RP id, so security keys work there
 * under `localhost` only).
 */
export function relyingPartyOf(request: FastifyRequest, publicUrl: URL | undefined): RelyingParty {
  if (publicUrl) return { id: publicUrl.hostname, origin: publicUrl.origin };
  return { id: request.hostname.replace(/^\[(.*)\]$/, '$1'), origin: `${request.protocol}://${request.host}` };
}
