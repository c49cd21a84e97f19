import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { forwardedAddress } from '../../domain/addresses.ts';

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

function rewrite(raw: IncomingMessage): void {
  const header = raw.headers['x-forwarded-for'];
  // Node joins repeated X-Forwarded-For lines into one string; proxy-addr reads nothing else.
  if (typeof header !== 'string') return;
  const kept = vouchedForwardedFor(header);
  if (kept.length === 0) delete raw.headers['x-forwarded-for'];
  else raw.headers['x-forwarded-for'] = kept.join(', ');
}

/** Only valid IP addresses from X-Forwarded-For become request.ip (for trusted proxies only: Fastify ignores the header otherwise). */
export const forwardedForPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request) => {
      rewrite(request.raw);
    });
  },
  { name: 'forwarded-for' },
);
