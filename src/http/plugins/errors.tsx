/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TemporarilyUnavailable } from '../../domain/errors.ts';
import { AppError } from '../app-error.ts';
import type { ErrorCode } from '../app-error.ts';
import { renderPage } from '../views/layout.tsx';
import { MessagePage } from '../views/message.tsx';

/** API clients get JSON; browsers get a page. */
export function wantsJson(request: FastifyRequest): boolean {
  return (request.raw.url ?? request.url).startsWith('/api/');
}

const byStatus: Partial<Record<number, ErrorCode>> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_attempts',
};

/** Turns anything thrown into a catalogued error; unknown errors become `internal`. */
export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof TemporarilyUnavailable) return new AppError('unavailable', undefined, { retryAfter: 1 });
  const fe = error as FastifyError;
  if (fe.code?.startsWith('FST_CSRF_')) return new AppError('csrf_failed');
  if (fe.validation) return new AppError('invalid_request', `Invalid request: ${fe.message}.`);
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (error instanceof SyntaxError && fe.statusCode === 400)) {
    return new AppError('invalid_request', 'The body is not valid JSON.');
  }
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new AppError('invalid_request', 'The JSON body is empty.');
  if (fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return new AppError('invalid_request', 'The Content-Length does not match the body.');
  const status = fe.statusCode ?? 500;
  const code = status >= 400 && status < 500 ? (byStatus[status] ?? 'invalid_request') : undefined;
  return code ? new AppError(code) : new AppError('internal');
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError) {
  if ((error.status === 429 || error.status === 503) && typeof error.extra.retryAfter === 'number') {
    reply.header('retry-after', String(error.extra.retryAfter));
  }
  if (wantsJson(request)) return reply.code(error.status).send({ error: error.code, message: error.message, ...error.extra });
  // A browser without a session is sent to sign in rather than shown a 401.
  // HEAD answers as GET would, without the body (RFC 9110 §9.3.2).
  if (error.code === 'unauthenticated' && (request.method === 'GET' || request.method === 'HEAD')) {
    return reply.redirect(request.auth?.session.state === 'pending' ? '/login/mfa' : '/login', 303);
  }
  reply.code(error.status);
  const title = error.status === 404 ? 'Page not found' : error.status >= 500 ? 'Something went wrong' : 'Request refused';
  let html: string;
  try {
    html = renderPage(<MessagePage title={title} message={error.message} csrf="" />);
  } catch (renderError) {
    // Never let a broken template turn into Fastify's default error body.
    request.log.error({ err: renderError }, 'error page failed to render');
    return reply.type('text/plain; charset=utf-8').send(error.message);
  }
  return reply.type('text/html; charset=utf-8').send(html);
}

/** The one error handler: logs the cause, answers with the catalogue's code and message only. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, reason: error.message }, 'request refused');
    return sendError(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new AppError('not_found')));
}

