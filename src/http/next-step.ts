import type { FastifyRequest } from 'fastify';

// Where a full session goes next. The one place that decides, for the pages
// and the API alike: after the password (MFA off), after the second factor,
// after the recovery codes are shown, and after a required password change.
// A flow that waits for a sign-in (an application the user came from) sits
// behind these steps here, and nowhere else.

/** The page the user must see first: a password an admin set is changed before anything else (issue 15). */
export const PASSWORD_CHANGE_PAGE = '/account/password';

export type NextStep = { kind: 'change_password' } | { kind: 'application'; path: string } | { kind: 'home' };

/** What the user still has to do before the session is theirs to use, then where they were going. */
export function nextStep(request: FastifyRequest, user: { passwordChangeRequired: boolean }): NextStep {
  if (user.passwordChangeRequired) return { kind: 'change_password' };
  // An application sent the user to sign in: back to it (routes/oidc-routes.tsx).
  const path = interactionPath(request);
  if (path) return { kind: 'application', path };
  return { kind: 'home' };
}

/** The page a browser is sent to next. */
export function nextPage(request: FastifyRequest, user: { passwordChangeRequired: boolean }): string {
  const step = nextStep(request, user);
  switch (step.kind) {
    case 'change_password':
      return PASSWORD_CHANGE_PAGE;
    case 'application':
      return step.path;
    case 'home':
      return '/';
  }
}

/** The state an API client is told once its session is full. */
export function nextApiState(request: FastifyRequest, user: { passwordChangeRequired: boolean }): 'authenticated' | 'password_change_required' {
  return nextStep(request, user).kind === 'change_password' ? 'password_change_required' : 'authenticated';
}

const UID = /^[A-Za-z0-9_-]{1,64}$/;

/** The cookie that carries an application's pending sign-in (its interaction) through our pages: `__Host-` over HTTPS. */
export const CONTINUE_COOKIE = { secure: '__Host-portcullis-continue', plain: 'portcullis-continue' } as const;

/** The interaction a sign-in under way is for, from the continue cookie (routes/oidc-routes.tsx sets it), as a path of ours. */
function interactionPath(request: FastifyRequest): string | undefined {
  const value = request.cookies[CONTINUE_COOKIE.secure] ?? request.cookies[CONTINUE_COOKIE.plain];
  const uid = value?.split('.', 1)[0];
  return uid && UID.test(uid) ? `/oidc/interaction/${uid}` : undefined;
}
