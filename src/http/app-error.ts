// The one catalogue of errors a client can see: a stable code, its HTTP status
// and a message safe to show. Messages never say whether a user exists or why
// a credential failed; the cause goes to the logs only. It belongs to HTTP:
// services answer with typed results, and routes map those onto these codes.
import { retryAfterSeconds } from '../domain/lockout-policy.ts';

export const errorCatalogue = {
  invalid_request: { status: 400, message: 'The request is not valid.' },
  invalid_credentials: { status: 401, message: 'Incorrect account number, username or password' },
  unauthenticated: { status: 401, message: 'Sign in to continue.' },
  invalid_code: { status: 401, message: 'The code is not valid.' },
  invalid_passkey: { status: 401, message: 'Your passkey was not accepted. Try again, or sign in with your password.' },
  wrong_password: { status: 400, message: 'The current password is not correct.' },
  session_expired: { status: 401, message: 'The sign-in has expired or used up its attempts. Sign in with your password again.' },
  invalid_name: { status: 400, message: 'A name is 1–64 characters, none of them control characters.' },
  key_refused: { status: 400, message: 'The security key’s answer was not accepted. Try again with the key, or another one.' },
  reauthentication_required: { status: 403, message: 'Sign out and sign in again with your security key, then do this within 15 minutes.' },
  last_factor: { status: 409, message: 'This is your last second factor and your account requires multi-factor authentication: add another one before you remove it.' },
  no_factor: { status: 409, message: 'You have no second factor: set one up first (recovery codes stand in for one).' },
  factor_not_allowed: { status: 409, message: 'Your account does not allow this kind of second factor.' },
  not_started: { status: 409, message: 'No authenticator app is being added in this session: start again.' },
  step_up_required: { status: 403, message: 'Enter a current code from your authenticator app to do this.' },
  csrf_failed: { status: 403, message: 'This form has expired or did not come from this site. Reload the page and try again.' },
  cross_origin: { status: 403, message: 'Requests from another origin are refused.' },
  forbidden: { status: 403, message: 'You do not have permission to do that.' },
  network_not_allowed: { status: 403, message: 'Sign-in is not allowed from this network' },
  own_address_excluded: { status: 409, message: 'These ranges leave out your own address: you would be signed out. Send confirmExcludeOwnAddress: true to save them anyway.' },
  not_found: { status: 404, message: 'Not found.' },
  conflict: { status: 409, message: 'That conflicts with what exists.' },
  last_admin: { status: 409, message: 'This is the account’s last active admin: make another user an admin first.' },
  only_admin_own_mfa: {
    status: 409,
    message: 'You are the account’s only active admin: you cannot reset your own MFA here. Make another user an admin first; an operator can use the command-line break-glass reset.',
  },
  password_change_required: { status: 403, message: 'Your password was set by an administrator: choose your own password first.' },
  unknown_host: { status: 421, message: 'This service does not answer for that host name. Use its own address.' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'This endpoint takes application/json.' },
  too_many_attempts: { status: 429, message: 'Too many failed attempts.' },
  internal: { status: 500, message: 'Something went wrong on our side.' },
  unavailable: { status: 503, message: 'The service is busy. Try again in a moment.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** Thrown by the HTTP layer to answer with a catalogued error; mapped in one handler. */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message ?? errorCatalogue[code].message);
    this.status = errorCatalogue[code].status;
  }
}

/**
 * The API's answer to a refused sign-in step (a password, a passkey): the
 * step's own "invalid" code, or the lock (429 with Retry-After), or the
 * account's allowed networks.
 */
export function signInRefusal(
  refusal: { reason: 'invalid' } | { reason: 'locked'; lockedUntil: number } | { reason: 'network' },
  invalid: ErrorCode,
  now: number,
): AppError {
  switch (refusal.reason) {
    case 'invalid':
      return new AppError(invalid);
    case 'locked':
      return new AppError('too_many_attempts', undefined, { retryAfter: retryAfterSeconds(refusal.lockedUntil, now) });
    case 'network':
      return new AppError('network_not_allowed');
  }
}
