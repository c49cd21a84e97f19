import type { FastifyRequest } from 'fastify';

// Where a full session goes next. The one place that decides, for the pages
// and the API alike: after the password (MFA off), after the second factor,
// after the recovery codes are shown, and after a required password change.
// A flow that waits for a sign-in (an application the user came from) sits
// behind these steps here, and nowhere else.

/** The page the user must see first: a password an admin set is changed before anything else (issue 15). */
export const PASSWORD_CHANGE_PAGE = '/account/password';

export type NextStep = { kind: 'change_password' } | { kind: 'home' };

/** What the user still has to do before the session is theirs to use. */
export function nextStep(_request: FastifyRequest, user: { passwordChangeRequired: boolean }): NextStep {
  if (user.passwordChangeRequired) return { kind: 'change_password' };
  return { kind: 'home' };
}

/** The page a browser is sent to next. */
export function nextPage(request: FastifyRequest, user: { passwordChangeRequired: boolean }): string {
  const step = nextStep(request, user);
  switch (step.kind) {
    case 'change_password':
      return PASSWORD_CHANGE_PAGE;
    case 'home':
      return '/';
  }
}

/** The state an API client is told once its session is full. */
export function nextApiState(request: FastifyRequest, user: { passwordChangeRequired: boolean }): 'authenticated' | 'password_change_required' {
  return nextStep(request, user).kind === 'change_password' ? 'password_change_required' : 'authenticated';
}
