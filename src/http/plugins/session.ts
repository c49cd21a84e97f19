import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Deps } from '../../services/deps.ts';
import { resolveSession } from '../../services/sessions.ts';
import type { Principal } from '../../services/principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's live session, full or pending; null when there is none. */
    auth: Principal | null;
  }
}

export interface CookieSettings {
  name: string;
  secure: boolean;
}

/** `__Host-` pins the cookie to this host, path / and HTTPS (RFC 6265bis §4.1.3.2). */
export function sessionCookie(secure: boolean): CookieSettings {
  return { name: secure ? '__Host-portcullis' : 'portcullis', secure };
}

export function setSessionCookie(reply: FastifyReply, cookie: CookieSettings, token: string): void {
  // No Max-Age: a browser session cookie; the server enforces idle and absolute limits.
  reply.setCookie(cookie.name, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: cookie.secure });
}

export function clearSessionCookie(reply: FastifyReply, cookie: CookieSettings): void {
  reply.clearCookie(cookie.name, { path: '/', httpOnly: true, sameSite: 'lax', secure: cookie.secure });
}

export function sessionToken(request: FastifyRequest, cookie: CookieSettings): string | undefined {
  const token = request.cookies[cookie.name];
  return token && /^[A-Za-z0-9_-]{1,100}$/.test(token) ? token : undefined;
}

/**
 * The cookie a passkey sign-in's challenge is bound to (services/passkey-sign-in.ts):
 * a random token, only its hash stored, for the life of a challenge. Strict:
 * only this site's own pages start and finish a passkey sign-in.
 */
function passkeyCookieName(cookie: CookieSettings): string {
  return cookie.secure ? '__Host-portcullis-passkey' : 'portcullis-passkey';
}

export function setPasskeyCookie(reply: FastifyReply, cookie: CookieSettings, token: string, maxAgeSeconds: number): void {
  reply.setCookie(passkeyCookieName(cookie), token, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure, maxAge: maxAgeSeconds });
}

export function clearPasskeyCookie(reply: FastifyReply, cookie: CookieSettings): void {
  reply.clearCookie(passkeyCookieName(cookie), { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure });
}

export function passkeyToken(request: FastifyRequest, cookie: CookieSettings): string | undefined {
  const token = request.cookies[passkeyCookieName(cookie)];
  return token && /^[A-Za-z0-9_-]{1,100}$/.test(token) ? token : undefined;
}

/** Resolves the session cookie on every request into request.auth. */
export const sessionPlugin = fp(
  async (app: FastifyInstance, opts: { deps: Deps; cookie: CookieSettings }) => {
    app.decorateRequest('auth', null);
    app.addHook('onRequest', async (request) => {
      const token = sessionToken(request, opts.cookie);
      request.auth = token ? ((await resolveSession(opts.deps, token, request.ip)) ?? null) : null;
    });
  },
  { name: 'portcullis-session' },
);
