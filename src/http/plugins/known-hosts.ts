import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import ipaddr from 'ipaddr.js';
import { AppError } from '../app-error.ts';

export interface KnownHostsOptions {
  /** The address users reach; when set, its host is the one name served. */
  publicUrl: URL | undefined;
  /** The address the server listens on (HOST). */
  listenHost: string;
}

const LOOPBACK = ['127.0.0.1', '::1'];
const WILDCARD = ['0.0.0.0', '::'];
/** Host headers whose verdict is kept (known-hosts plugin); more empty the list. */
const MAX_VERDICTS = 64;

/** The Host header split into a name (IPv6 without brackets) and a port; undefined when it is no host at all. */
function parseHost(raw: string): { name: string; port: string } | undefined {
  try {
    const url = new URL(`http://${raw}`);
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || url.host === '') return undefined;
    return { name: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port || '80' };
  } catch {
    return undefined;
  }
}

function ipLiteral(name: string): string | undefined {
  return ipaddr.isValid(name) ? ipaddr.process(name).toString() : undefined;
}

/**
 * Whether a request's Host names this service (issue 16, finding 10). A DNS
 * rebinding page reaches the service under the attacker's name, with a
 * matching Origin, so the Origin check alone does not stop it; the name does.
 * IP literals cannot be rebound: the loopback and listening addresses are
 * served under their literal (and any literal when listening on every address,
 * where the names are unknown), so a local health check or a proxy that does
 * not forward Host keeps working. `localhost` only without a public URL.
 */
export function isKnownHost(raw: string | undefined, opts: KnownHostsOptions, port: number | undefined): boolean {
  if (raw === undefined) return false;
  const host = parseHost(raw);
  if (!host) return false;
  if (opts.publicUrl) {
    const publicPort = opts.publicUrl.port || (opts.publicUrl.protocol === 'https:' ? '443' : '80');
    const given = new URL(`${opts.publicUrl.protocol}//${raw}`);
    if (given.hostname === opts.publicUrl.hostname && (given.port || publicPort) === publicPort) return true;
  }
  // Before listen (inject) no port is bound, so only the name is checked.
  if (port !== undefined && host.port !== String(port)) return false;
  if (!opts.publicUrl && host.name.toLowerCase() === 'localhost') return true;
  const literal = ipLiteral(host.name);
  if (literal === undefined) return false;
  const listening = ipLiteral(opts.listenHost);
  if (listening !== undefined && WILDCARD.includes(listening)) return true;
  return LOOPBACK.includes(literal) || literal === listening;
}

/** Answers 421 Misdirected Request (RFC 9110 §15.5.20) to a request for a host this service does not know. */
export const knownHostsPlugin = fp(
  async (app: FastifyInstance, opts: KnownHostsOptions) => {
    // The port actually bound (PORT=0 picks one); none before listen (inject in tests).
    let boundPort: number | undefined;
    // The verdict depends on the Host header and the bound port only: kept for
    // the few names a service is reached by (bounded: any text may be sent).
    const verdicts = new Map<string, boolean>();
    app.addHook('onRequest', async (request: FastifyRequest) => {
      if (boundPort === undefined) {
        const address = app.server.address();
        if (address !== null && typeof address === 'object') boundPort = address.port;
      }
      const raw = request.host;
      let known = verdicts.get(raw);
      if (known === undefined) {
        known = isKnownHost(raw, opts, boundPort);
        if (boundPort !== undefined) {
          if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
          verdicts.set(raw, known);
        }
      }
      if (!known) throw new AppError('unknown_host');
    });
  },
  { name: 'portcullis-known-hosts' },
);
