import type { Deps } from '../services/deps.ts';
import type { Oidc } from '../services/oidc/index.ts';
import type { CookieSettings } from './plugins/session.ts';

/** What app.ts hands every route module: the services' dependencies and the session cookie's settings. */
export interface RouteContext {
  deps: Deps;
  cookie: CookieSettings;
  /** The OpenID Connect provider, for the sign-in pages an application sends users to. */
  oidc?: Oidc | undefined;
}
