/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { retryAfterSeconds } from '../domain/lockout-policy.ts';
import type { Principal } from '../services/principal.ts';
import { stepUpMode, stepUp } from '../services/step-up.ts';
import type { Deps } from '../services/deps.ts';
import { AppError } from './app-error.ts';
import { codeErrorMessage, lockedMessage } from './code-messages.ts';
import { csrfToken, formField } from './forms.ts';
import { viewerOf } from './viewer.ts';
import { renderPage } from './views/layout.tsx';
import { MessagePage } from './views/message.tsx';
import { StepUpPage } from './views/mfa.tsx';

// Step-up (ASVS 4.0.3 V4.3.1; services/step-up.ts) asked the same way by every
// action that weakens the account's security or grants privilege: Reset MFA,
// switching MFA off, making or creating an admin, disabling or demoting an
// admin (issue 16, finding 2). Each route decides whether its request is such
// an action; these two say how the API and the pages ask for the code.

/** The API's step-up: returns when no code is due or the caller's code is right; throws the refusal otherwise. */
export async function requireApiStepUp(deps: Deps, auth: Principal, code: string | undefined, ip: string): Promise<void> {
  const mode = await stepUpMode(deps, auth);
  if (mode === 'none') return;
  if (mode === 'sign_in_again') throw new AppError('reauthentication_required');
  if (!code) throw new AppError('step_up_required');
  const verified = await stepUp(deps, auth, code, ip);
  if (verified.ok) return;
  switch (verified.reason) {
    case 'locked':
      throw new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(verified.lockedUntil, deps.clock.now()) });
    case 'invalid':
      throw new AppError('invalid_code');
  }
}

export interface PageStepUp {
  /** Where the Confirm page posts: the action's own form target. */
  action: string;
  /** "reset MFA for kim": completes "To …, enter the current code". */
  what: string;
  /** The action's own form fields, carried through the Confirm page as hidden fields. */
  fields?: Record<string, string | string[]>;
}

/**
 * The pages' step-up: false when the action may go on; true when it has sent
 * the answer instead (the Confirm page, asking or telling the code was wrong,
 * or the lock), and the route then returns the reply. A boolean, not the
 * reply: a FastifyReply is thenable, so awaiting one would wait for it.
 */
export async function requirePageStepUp(deps: Deps, request: FastifyRequest, reply: FastifyReply, auth: Principal, ask: PageStepUp): Promise<boolean> {
  const mode = await stepUpMode(deps, auth);
  if (mode === 'none') return false;
  const html = (status: number, body: string) => {
    reply.code(status).type('text/html; charset=utf-8').send(body);
    return true;
  };
  if (mode === 'sign_in_again') {
    return html(403, renderPage(<MessagePage title="Sign in again first" message={`To ${ask.what}, sign out and sign in again with your security key, then do this within 15 minutes.`} csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} alert />));
  }
  const page = (status: number, error?: string) =>
    html(status, renderPage(<StepUpPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} action={ask.action} what={ask.what} fields={ask.fields} error={error} />));
  if (formField(request.body, 'confirm') !== '1') return page(200);
  const verified = await stepUp(deps, auth, formField(request.body, 'code'), request.ip);
  if (verified.ok) return false;
  switch (verified.reason) {
    case 'locked':
      return html(429, renderPage(<MessagePage title="Locked" message={lockedMessage(verified.lockedUntil, deps.clock.now())} csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} />));
    case 'invalid':
      return page(401, codeErrorMessage({ ok: false, reason: 'invalid', ...(verified.clockSkewMinutes ? { clockSkewMinutes: verified.clockSkewMinutes } : {}) }));
  }
}
