import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Remembered } from '../services/remembered-browsers.ts';
import { isRememberToken } from '../services/remembered-browsers.ts';
import type { CookieSettings } from './plugins/session.ts';

// Remember this browser's cookie (issue 15): a cookie of its own beside the
// session's, so signing out leaves it and ending it signs nobody out.
// HttpOnly, SameSite=Lax, and over HTTPS Secure with the `__Host-` prefix
// (RFC 6265bis §4.1.3.2), as the session's; Max-Age the account's days.

export function rememberCookieName(cookie: CookieSettings): string {
  return cookie.secure ? '__Host-portcullis-remember' : 'portcullis-remember';
}

export function setRememberCookie(reply: FastifyReply, cookie: CookieSettings, remembered: Remembered): void {
  reply.setCookie(rememberCookieName(cookie), remembered.token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: cookie.secure,
    maxAge: remembered.days * 24 * 60 * 60,
  });
}

/** The remembered-browser token this browser sends, if it looks like one. */
export function rememberToken(request: FastifyRequest, cookie: CookieSettings): string | undefined {
  const token = request.cookies[rememberCookieName(cookie)];
  return isRememberToken(token) ? token : undefined;
}
