import { createHmac, timingSafeEqual } from 'node:crypto';
import Provider, { interactionPolicy } from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { JsonWebKey } from 'node:crypto';
import { amrOf, secondFactorVerifiedAt } from '../../domain/auth-methods.ts';
import type { Deps } from '../deps.ts';
import { endSession, resolveSession } from '../sessions.ts';
import { adapterFactory, clientSecretHash } from './adapter.ts';
import { acrOf, ACR_MFA, ACR_PWD, asksForMfa, findAccount } from './claims.ts';
import { ID_TOKEN_TTL_S } from './signing-keys.ts';

// Portcullis as an OpenID Connect provider (issue 13): panva's certified
// oidc-provider, configured here and mounted by http/oidc.ts. What it
// allows, and why:
// - the authorization code flow only (no implicit or hybrid: RFC 9700 §2.1.2),
//   with PKCE S256 required of every client (RFC 9700 §2.1.1, RFC 7636 §4.2);
// - ID tokens signed RS256 or ES256, never `none` or a client secret (HS256);
// - exact redirect-URI matching (the provider's own rule; RFC 9700 §2.1);
// - refresh tokens rotated on every use (RFC 9700 §4.14.2);
// - applications are the account's own (first-party): no consent screen, the
//   grant is made on the user's behalf (loadExistingGrant below);
// - the sign-in is ours: the login prompt always runs through Portcullis's
//   pages unless a live full Portcullis session of the application's account
//   is in the browser (the "portcullis_session" check).

export interface OidcOptions {
  issuer: string;
  /** The Portcullis session cookie's name, read by the login prompt's check. */
  sessionCookieName: string;
  /** Keys the provider's own cookies are signed with. */
  cookieKeys: string[];
  jwks: JsonWebKey[];
  /** Behind a TLS-terminating proxy: trust X-Forwarded-Proto for the provider's cookies. */
  proxy: boolean;
  /** Where an interaction is handled (our pages). */
  interactionPath: (uid: string) => string;
  renderError: NonNullable<Configuration['renderError']>;
  logoutSource: NonNullable<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource']>;
  postLogoutSuccessSource: NonNullable<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource']>;
}

/** How long one back-channel logout delivery may take before it counts as failed. */
export const LOGOUT_DELIVERY_TIMEOUT_MS = 5_000;

/** The client address Portcullis's hooks computed for a request (forwarded-for.ts), set before the provider sees it. */
export const clientAddresses = new WeakMap<object, string>();

/** Where every endpoint of the provider lives: one prefix. Discovery stays at the root (OpenID Connect Discovery 1.0 §4). */
export const OIDC_PREFIX = '/oidc';

/** The cookie key the provider signs its cookies with, derived from the secret key (not the key itself). */
export function providerCookieKey(secretKey: Buffer): string {
  return createHmac('sha256', secretKey).update('portcullis:oidc-cookies').digest('base64url');
}

/** The account a client belongs to (client metadata set by the adapter). */
export function accountOfClient(client: unknown): string | undefined {
  const value = (client as { portcullis_account_id?: unknown } | undefined)?.portcullis_account_id;
  return typeof value === 'string' ? value : undefined;
}

export function createProvider(deps: Deps, opts: OidcOptions): Provider {
  const { Check, base } = interactionPolicy;
  const policy = base();
  // Every authorization needs a live full Portcullis session of the
  // application's account for the provider's signed-in user; otherwise the
  // login prompt runs (our pages), and prompt=none answers login_required.
  policy.get('login')!.checks.add(
    new Check('portcullis_session', 'a Portcullis session of the application\'s account is required', async (ctx: KoaContextWithOIDC) => {
      const token = ctx.cookies.get(opts.sessionCookieName, { signed: false });
      if (!token || !/^[A-Za-z0-9_-]{1,100}$/.test(token)) return Check.REQUEST_PROMPT;
      // The client's address as our hooks read it (trusted proxies only), for the account's allowed networks.
      const view = await resolveSession(deps, token, clientAddresses.get(ctx.req));
      if (!view || view.session.state !== 'full') return Check.REQUEST_PROMPT;
      if (view.user.id !== ctx.oidc.session?.accountId) return Check.REQUEST_PROMPT;
      if (view.account.id !== accountOfClient(ctx.oidc.client)) return Check.REQUEST_PROMPT;
      // The provider's session keeps the sign-in it was made from (its acr, amr
      // and auth_time) for as long as it lives, longer than a Portcullis session
      // may: when the browser's live session is another sign-in (a later one with
      // the password alone, a remembered browser), the interaction runs again and
      // takes this one's, so no token says more than the live sign-in did.
      const live = loginResult(view);
      const made = ctx.oidc.session;
      if (made.acr !== live.acr || made.loginTs !== live.ts || JSON.stringify(made.amr ?? []) !== JSON.stringify(live.amr)) return Check.REQUEST_PROMPT;
      return Check.NO_NEED_TO_PROMPT;
    }),
  );
  // acr_values asking for MFA (urn:portcullis:loa:mfa) when the provider's
  // session was made without a second factor: sign in again, with one.
  policy.get('login')!.checks.add(
    new Check('mfa_requested', 'a second factor is requested', (ctx: KoaContextWithOIDC) => {
      if (!asksForMfa(ctx.oidc.params?.acr_values)) return Check.NO_NEED_TO_PROMPT;
      return ctx.oidc.session?.acr === ACR_MFA ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );

  const ttl = {
    // RFC 6749 §4.1.2: short-lived, at most 10 minutes; a minute is plenty for a redirect.
    AuthorizationCode: 60,
    // Opaque and introspectable; short, so revocation by expiry is quick too.
    AccessToken: 10 * 60,
    IdToken: ID_TOKEN_TTL_S,
    // Never longer than a Portcullis session may last.
    RefreshToken: Math.floor(deps.settings.session.absoluteTimeoutMs / 1000),
    Session: Math.floor(deps.settings.session.absoluteTimeoutMs / 1000),
    Grant: Math.floor(deps.settings.session.absoluteTimeoutMs / 1000),
    Interaction: 10 * 60,
  };

  const configuration: Configuration = {
    adapter: adapterFactory(deps),
    findAccount: (ctx, sub) => findAccount(deps, ctx, sub),
    jwks: { keys: opts.jwks },
    cookies: {
      keys: opts.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    claims: {
      sid: null,
      // With every ID token: who, when and how (RFC 8176 amr values and the
      // level reached, from the Portcullis session: loginResult).
      openid: ['sub', 'auth_time', 'amr', 'acr'],
      profile: ['preferred_username'],
      email: ['email', 'email_verified'],
      account: ['account_id', 'account_name', 'role', 'skills'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'account'],
    acrValues: [ACR_PWD, ACR_MFA],
    // The claims of the scopes go in the ID token too, not only in userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true, methods: ['S256'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
    },
    extraClientMetadata: { properties: ['portcullis_account_id'] },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      // RFC 7662 §4: a client learns about its own tokens only; another's read as inactive.
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => Promise.resolve(token.clientId === client.clientId) },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: opts.logoutSource, postLogoutSuccessSource: opts.postLogoutSuccessSource },
      claimsParameter: { enabled: false },
      registration: { enabled: false },
    },
    routes: {
      authorization: `${OIDC_PREFIX}/auth`,
      token: `${OIDC_PREFIX}/token`,
      userinfo: `${OIDC_PREFIX}/userinfo`,
      jwks: `${OIDC_PREFIX}/jwks`,
      revocation: `${OIDC_PREFIX}/token/revocation`,
      introspection: `${OIDC_PREFIX}/token/introspection`,
      end_session: `${OIDC_PREFIX}/session/end`,
      pushed_authorization_request: `${OIDC_PREFIX}/request`,
      code_verification: `${OIDC_PREFIX}/device`,
      device_authorization: `${OIDC_PREFIX}/device/auth`,
      backchannel_authentication: `${OIDC_PREFIX}/backchannel`,
    },
    interactions: { policy, url: (_ctx, interaction) => opts.interactionPath(interaction.uid) },
    // First-party applications: the user is not asked to consent; the grant
    // covers what the application asked for (issue 13, "no consent screen").
    loadExistingGrant: async (ctx) => {
      const session = ctx.oidc.session;
      const client = ctx.oidc.client;
      if (!session?.accountId || !client) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      const chosen = grant ?? new ctx.oidc.provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      const scope = typeof ctx.oidc.params?.scope === 'string' ? ctx.oidc.params.scope : 'openid';
      chosen.addOIDCScope(scope);
      await chosen.save();
      return chosen;
    },
    // A refresh token whenever the application may use one (not only with
    // offline_access, which OpenID Connect Core §11 ties to a consent prompt
    // these first-party applications do not show).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // The provider's requests out (back-channel logout tokens): bounded, so
    // an application that does not answer holds up no sign-out or CLI run.
    httpOptions: () => ({ signal: AbortSignal.timeout(LOGOUT_DELIVERY_TIMEOUT_MS) }),
    ttl,
    renderError: opts.renderError,
    // Opaque error descriptions for server errors: no stack or internals reach the client.
  };

  const provider = new Provider(opts.issuer, configuration);
  provider.proxy = opts.proxy;
  // Secrets are stored hashed (adapter.ts): hash what is presented, compare in constant time.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    if (typeof actual !== 'string' || typeof this.clientSecret !== 'string') return Promise.resolve(false);
    const expected = Buffer.from(this.clientSecret, 'utf8');
    const given = Buffer.from(clientSecretHash(actual), 'utf8');
    return Promise.resolve(expected.length === given.length && timingSafeEqual(expected, given));
  };
  // RP-initiated logout where the user chose to sign out of Portcullis
  // (logout=yes): the Portcullis session of this browser ends with the
  // provider's, before the answer leaves.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== `${OIDC_PREFIX}/session/end/confirm` || ctx.status !== 303) return;
    if (!(ctx as KoaContextWithOIDC).oidc?.params?.logout) return;
    const token = ctx.cookies.get(opts.sessionCookieName, { signed: false });
    if (token && /^[A-Za-z0-9_-]{1,100}$/.test(token)) await endSession(deps, token);
    try {
      ctx.cookies.set(opts.sessionCookieName, '', { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.sessionCookieName.startsWith('__Host-'), expires: new Date(0), overwrite: true });
    } catch (err) {
      deps.logger.warn({ err }, 'could not clear the session cookie after an RP-initiated logout');
    }
  });
  provider.on('server_error', (_ctx, err) => deps.logger.error({ err }, 'OpenID Connect provider error'));
  return provider;
}

/** The login result a Portcullis session gives the provider: who, when the password was verified, how (RFC 8176 amr). */
export function loginResult(view: { user: { id: string }; session: { methods: Parameters<typeof amrOf>[0] } }) {
  const methods = view.session.methods;
  const passwordAt = methods.find((s) => s.kind === 'password')?.at ?? Math.min(...methods.map((s) => s.at));
  return {
    accountId: view.user.id,
    ts: Math.floor(passwordAt / 1000),
    amr: amrOf(methods),
    acr: acrOf(secondFactorVerifiedAt(methods) !== null),
    remember: false,
  };
}
