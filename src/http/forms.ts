import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfUserInfo } from './plugins/security.ts';

/** A form field as a string; anything missing or not a single string reads as ''. */
export function formField(body: unknown, name: string): string {
  if (typeof body !== 'object' || body === null) return '';
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** A CSRF token bound to the request's session (or to none, before sign-in). */
export function csrfToken(request: FastifyRequest, reply: FastifyReply): string {
  return reply.generateCsrf({ userInfo: csrfUserInfo(request) });
}

/** A repeated form field (checkboxes) as a list of strings. */
export function formFields(body: unknown, name: string): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const value = (body as Record<string, unknown>)[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').slice(0, 500) : [];
}

/** The message a `?notice=` key names, if it names one (not `constructor` or another inherited key). */
export function noticeFor(notices: Record<string, string>, key: unknown): string | undefined {
  return typeof key === 'string' && Object.hasOwn(notices, key) ? notices[key] : undefined;
}
