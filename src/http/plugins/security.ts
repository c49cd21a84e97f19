import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import helmet from 'helmet';
import type { HelmetOptions } from 'helmet';
import csrf from '@fastify/csrf-protection';
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../app-error.ts';

export interface SecurityOptions {
  /** The service's own origin when configured; otherwise the request's Host decides. */
  publicOrigin: string | undefined;
  secure: boolean;
  /** Key material the CSRF HMAC key is derived from. */
  secretKey: Buffer;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * What a CSRF token is bound to: the session's id, or a fixed value before
 * sign-in (the token then rests on the CSRF cookie's secret alone).
 */
export function csrfUserInfo(request: FastifyRequest): string {
  return request.auth?.session.id ?? 'anonymous';
}

export function ownOrigin(request: FastifyRequest, publicOrigin: string | undefined): string {
  return publicOrigin ?? `${request.protocol}://${request.host}`;
}

/**
 * Refuses a state-changing request that a browser says came from elsewhere:
 * another site, or another origin of the same site (another port or
 * subdomain), which SameSite cookies alone would let through.
 */
function checkOrigin(request: FastifyRequest, publicOrigin: string | undefined): void {
  if (!UNSAFE.has(request.method)) return;
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (origin !== ownOrigin(request, publicOrigin)) throw new AppError('cross_origin');
    return;
  }
  // No Origin (older browsers, some navigations): fall back on Fetch Metadata.
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new AppError('cross_origin');
}

/** Whether any string (key or value) in a parsed body holds U+0000; iterative, so deep nesting cannot overflow the stack. */
export function containsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return true;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, inner] of Object.entries(item)) {
        if (key.includes('\u0000')) return true;
        stack.push(inner);
      }
    }
  }
  return false;
}

/**
 * The headers helmet sets, worked out once. They depend on the options only,
 * never on the request; @fastify/helmet rebuilds helmet's middleware (parsing
 * the whole policy again) on every request, which was 3% of the event loop's
 * time per sign-in (docs/performance.md, issue 17).
 */
export function securityHeaders(options: HelmetOptions): Array<[string, string]> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error instanceof Error ? error : new Error(String(error));
  });
  return [...headers];
}

export const securityPlugin = fp(
  async (app: FastifyInstance, opts: SecurityOptions) => {
    const headers = securityHeaders({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          scriptSrc: ["'self'"],
          // The security-key pages fetch their WebAuthn options from our own API; nothing else is reached.
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          // No page may be framed: the Reset MFA button must not be clickjackable.
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          ...(opts.secure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      frameguard: { action: 'deny' },
      // Not no-referrer: under it browsers send `Origin: null` on same-origin form
      // posts (Fetch §3.1, serializing a request origin), and the Origin check
      // would refuse them. same-origin still sends nothing to other sites.
      referrerPolicy: { policy: 'same-origin' },
      hsts: opts.secure ? { maxAge: 31_536_000, includeSubDomains: true } : false,
      crossOriginEmbedderPolicy: false,
    });
    // Set on the raw response: the provider's answers (middie) carry them too, and
    // allowFormTargets reads the policy back from there.
    app.addHook('onRequest', (_request, reply, done) => {
      for (const [name, value] of headers) reply.raw.setHeader(name, value);
      done();
    });

    await app.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: opts.secure ? '__Host-portcullis-csrf' : 'portcullis-csrf',
      cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure: opts.secure },
      // Tokens are bound to the session they were issued in (none before sign-in).
      getUserInfo: csrfUserInfo,
      csrfOpts: {
        userInfo: true,
        hmacKey: createHmac('sha256', opts.secretKey).update('portcullis csrf hmac').digest(),
      },
    });

    app.addHook('onRequest', async (request) => checkOrigin(request, opts.publicOrigin));

    // A NUL character is never part of a name, password or code, and PostgreSQL
    // cannot store one: refuse it at the door rather than deep in a query.
    app.addHook('preValidation', async (request) => {
      if (containsNul(request.query) || containsNul(request.params) || containsNul(request.body)) {
        throw new AppError('invalid_request', 'The request contains a NUL character.');
      }
    });

    // Nothing Portcullis answers may be cached: pages hold tokens and personal data.
    app.addHook('onSend', async (request, reply) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    });
  },
  { name: 'portcullis-security', dependencies: ['portcullis-session'] },
);

/**
 * Lets this response's forms lead to other origins as well as our own.
 * Chromium applies form-action to every redirect that follows a form post
 * (CSP Level 3, form-action): a sign-in that ends at an application's
 * redirect URI, or a sign-out that returns to one, needs that origin listed.
 */
export function allowFormTargets(reply: FastifyReply | ServerResponse, origins: string[]): void {
  const raw = 'raw' in reply ? reply.raw : reply;
  const current = raw.getHeader('content-security-policy');
  if (typeof current !== 'string') return;
  const extra = [...new Set(origins.filter((o) => /^https?:\/\/[^\s;,']+$/.test(o)))];
  if (extra.length === 0) return;
  raw.setHeader('content-security-policy', current.replace(/form-action 'self'/, `form-action 'self' ${extra.join(' ')}`));
}

/** The origins of a list of URLs; those that are no URL are left out. */
export function originsOf(urls: readonly string[]): string[] {
  const origins: string[] = [];
  for (const url of urls) {
    try {
      origins.push(new URL(url).origin);
    } catch {
      // not a URL: nothing to allow
    }
  }
  return origins;
}
