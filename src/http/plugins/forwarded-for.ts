import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { addressRanges, forwardedAddress } from '../../domain/addresses.ts';

// Fastify (through proxy-addr) takes the client address from X-Forwarded-For
// as written: walking from the nearest hop, the first entry not trusted is the
// client, whatever it says. A phone number, "unknown" or "[2001:db8::1]" (an
// IPv6 address in brackets, which is no address to the /64 bucketing) so
// became the audit address, the notification's "from …" and its own throttle
// key (issue 16, finding 9).
//
// Before any route reads request.ip, the header is rewritten to what it can
// vouch for: each entry as the address it names (brackets, port and zone id
// off, canonical spelling), up to the first entry, from the nearest hop, that
// names none. That entry and everything before it go: an entry written before
// an unreadable one came through a hop we cannot name, so it proves nothing.
// The client address is then the nearest hop that sent the unreadable entry
// (the peer, with one proxy): a trusted proxy, the closest address known.

/** The X-Forwarded-For entries that name addresses, canonical, up to the nearest one that does not. */
export function vouchedForwardedFor(header: string): string[] {
  const entries = header
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const kept: string[] = [];
  for (const entry of entries.reverse()) {
    const address = forwardedAddress(entry);
    if (address === undefined) break;
    kept.unshift(address);
  }
  return kept;
}

/** Rewrites the header in place; answers whether it vouched for every entry it had. */
function rewrite(raw: IncomingMessage): boolean {
  const header = raw.headers['x-forwarded-for'];
  // Node joins repeated X-Forwarded-For lines into one string; proxy-addr reads nothing else.
  if (typeof header !== 'string') return true;
  const kept = vouchedForwardedFor(header);
  if (kept.length === 0) delete raw.headers['x-forwarded-for'];
  else raw.headers['x-forwarded-for'] = kept.join(', ');
  return kept.length === header.split(',').filter((entry) => entry.trim() !== '').length;
}

/** Fastify's trustProxy option, as the test of whether the peer is a trusted proxy. */
export type TrustProxy = boolean | string | ((address: string, hop: number) => boolean);

function peerTest(trustProxy: TrustProxy): (peer: string) => boolean {
  if (typeof trustProxy === 'function') return (peer) => trustProxy(peer, 0);
  if (typeof trustProxy === 'string') return addressRanges(trustProxy.split(',').map((entry) => entry.trim()));
  return () => trustProxy;
}

// Requests whose address a forwarding header may have been meant to change,
// but did not (or not wholly): /metrics never counts them as local.
const unvouched = new WeakSet<FastifyRequest>();

/**
 * Whether the request carries X-Forwarded-For or Forwarded that its address
 * does not come from: sent by a peer that is no trusted proxy, an entry that
 * named no address, or Forwarded alone (RFC 7239, which Fastify does not read).
 * Behind a proxy on the same host, such a request's peer is a loopback address
 * that stands for anyone (issue 16, finding 3).
 */
export function forwardingUnvouched(request: FastifyRequest): boolean {
  return unvouched.has(request);
}

/**
 * Only valid IP addresses from X-Forwarded-For become request.ip (for trusted
 * proxies only: Fastify ignores the header otherwise). A forwarding header from
 * a peer that is not trusted is ignored, and logged once per instance at warn:
 * most likely a proxy runs in front without PORTCULLIS_TRUST_PROXY, so every
 * client has the proxy's address and shares its per-address throttle.
 */
export const forwardedForPlugin = fp(
  async (app: FastifyInstance, opts: { trustProxy: TrustProxy }) => {
    const trusted = peerTest(opts.trustProxy);
    let warned = false;
    app.addHook('onRequest', async (request) => {
      const { headers } = request.raw;
      const hasForwardedFor = headers['x-forwarded-for'] !== undefined;
      const hasForwarded = headers.forwarded !== undefined;
      if (!hasForwardedFor && !hasForwarded) return;
      const peer = request.raw.socket.remoteAddress ?? '';
      if (!trusted(peer)) {
        unvouched.add(request);
        if (!warned) {
          warned = true;
          // Names the headers, not their values: those are whatever a client wrote.
          request.log.warn(
            { peer, headers: [hasForwardedFor && 'x-forwarded-for', hasForwarded && 'forwarded'].filter(Boolean) },
            'a forwarding header came from a peer that is not a trusted proxy and was ignored; behind a proxy, set PORTCULLIS_TRUST_PROXY (logged once)',
          );
        }
        return;
      }
      if (!rewrite(request.raw) || !hasForwardedFor) unvouched.add(request);
    });
  },
  { name: 'forwarded-for' },
);
