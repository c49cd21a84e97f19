import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.ts';
import { csrfUserInfo } from './plugins/security.ts';

/**
 * The longest value a form field may have, in characters: the same bounds
 * as the API's schemas (api-auth.ts, api-users.ts, api-mfa.ts), so a form
 * takes nothing the API would refuse (issue 16, finding 6: the sign-in form
 * took a 60,000-character username into the audit log and the throttle
 * table). A password field takes 1,024, far above the 64 that NIST SP 800-63B
 * §5.1.1.2 asks a verifier to accept; any other field the same.
 */
export const formFieldLimits: Readonly<Record<string, number>> = {
  accountId: 20,
  username: 256,
  code: 64,
  session: 64,
  name: 64,
  role: 64,
  state: 64,
  method: 64,
  email: 320,
  // A security key's answer (WebAuthn JSON): the same bound as the API's (webauthnDefaults.maxResponseChars).
  credential: 16_384,
  // Account Access Control's allowed ranges: up to 100 lines of a range and a label.
  ranges: 20_000,
  // Applications (issue 13): up to 10 URIs of 2,000 characters, one a line.
  redirectUris: 20_100,
  postLogoutRedirectUris: 20_100,
  backchannelLogoutUri: 2_000,
  launchUrl: 2_000,
};
const defaultFieldLimit = 1024;

/**
 * A form field as a string; anything missing or not a single string reads as ''.
 * A value longer than its field's bound is refused (400) before any service
 * sees it, so nothing is stored or counted.
 */
export function formField(body: unknown, name: string): string {
  if (typeof body !== 'object' || body === null) return '';
  const value = (body as Record<string, unknown>)[name];
  if (typeof value !== 'string') return '';
  const limit = Object.hasOwn(formFieldLimits, name) ? (formFieldLimits[name] ?? defaultFieldLimit) : defaultFieldLimit;
  if (value.length > limit) throw new AppError('invalid_request', `The field “${name}” is too long: at most ${limit} characters.`);
  return value;
}

/** A CSRF token bound to the request's session (or to none, before sign-in). */
export function csrfToken(request: FastifyRequest, reply: FastifyReply): string {
  return reply.generateCsrf({ userInfo: csrfUserInfo(request) });
}

/** A repeated form field (checkboxes) as a list of strings. */
export function formFields(body: unknown, name: string): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const value = (body as Record<string, unknown>)[name];
  const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').slice(0, 500) : [];
  if (values.some((v) => v.length > defaultFieldLimit)) throw new AppError('invalid_request', `The field “${name}” is too long: at most ${defaultFieldLimit} characters.`);
  return values;
}

/** The message a `?notice=` key names, if it names one (not `constructor` or another inherited key). */
export function noticeFor(notices: Record<string, string>, key: unknown): string | undefined {
  return typeof key === 'string' && Object.hasOwn(notices, key) ? notices[key] : undefined;
}
