import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';
import {
  authorizationRequest,
  expectCallback,
  expectPage,
  listeningApp,
  redeem,
  registerApplication,
  relyingParty,
  UserAgent,
  verifiedByJwks,
} from './support.ts';
import type { ListeningApp } from './support.ts';

// The authorization code flow with PKCE, end to end: openid-client as the
// relying party, our sign-in pages as the user sees them, both stores.

describe.each(await storeKinds())('OpenID Connect sign-in (%s)', (kind) => {
  let t: ListeningApp;
  let tenant: Tenant;
  let other: Tenant;
  let app: { clientId: string; clientSecret: string | null };
  let config: oidc.Configuration;

  beforeAll(async () => {
    t = await listeningApp(kind);
    tenant = await seedTenant(t.deps, 'Acme Support');
    other = await seedTenant(t.deps, 'Other Co');
    app = await registerApplication(t, tenant.accountId);
    config = await relyingParty(t.base, app.clientId, app.clientSecret);
  }, 60_000);
  afterAll(async () => t?.close());

  /** Password only (MFA off): authorize → sign-in page → back with a code. */
  async function signIn(agent: UserAgent, params: Record<string, string> = {}, username = 'bob') {
    const request = await authorizationRequest(config, params);
    const login = expectPage(await agent.follow(request.url));
    expect(login.url.pathname).toBe('/login');
    const callback = expectCallback(await agent.submit(login, '/login', { username, password: PASSWORD }));
    return { request, callback };
  }

  it('publishes discovery at the issuer, with the code flow only, PKCE S256 and no unsigned tokens', async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(t.base);
    expect(meta.authorization_endpoint).toBe(`${t.base}/oidc/auth`);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.backchannel_logout_supported).toBe(true);
    expect(meta.end_session_endpoint).toBe(`${t.base}/oidc/session/end`);
  });

  it('signs a user in with password only: the page names the application and its account, asks no account number, and the ID token says pwd', async () => {
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(config);
    const login = expectPage(await agent.follow(request.url));
    expect(login.body).toContain('Agent Workspace');
    expect(login.body).toContain('Acme Support');
    expect(login.body).not.toContain('name="accountId"');
    const callback = expectCallback(await agent.submit(login, '/login', { username: 'bob', password: PASSWORD }));
    expect(callback.origin + callback.pathname).toBe('http://127.0.0.1:9/callback');
    const tokens = await redeem(config, request, callback);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(tenant.agentId);
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:portcullis:loa:pwd');
    expect(claims.preferred_username).toBe('bob');
    expect(claims.account_id).toBe(tenant.accountId);
    expect(claims.account_name).toBe('Acme Support');
    expect(claims.role).toBe('agent');
    expect(claims.skills).toEqual(['Billing']);
    expect(typeof claims.auth_time).toBe('number');
    // The signature, checked with node:crypto against the published key set.
    const verified = await verifiedByJwks(t.base, tokens.id_token!);
    expect(verified.alg).toBe('RS256');
    expect(verified.payload.sub).toBe(tenant.agentId);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, tenant.agentId);
    expect(info.preferred_username).toBe('bob');
    expect(info.skills).toEqual(['Billing']);
  });

  it('rotates the refresh token on use: the old one is refused afterwards', async () => {
    const agent = new UserAgent(t.base);
    const { request, callback } = await signIn(agent);
    const tokens = await redeem(config, request, callback);
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('revokes an access token and introspection then calls it inactive', async () => {
    const agent = new UserAgent(t.base);
    const { request, callback } = await signIn(agent);
    const tokens = await redeem(config, request, callback);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.fetchUserInfo(config, tokens.access_token, tenant.agentId)).rejects.toThrow();
  });

  it('refuses a code redeemed twice, and revokes what the first redemption issued (RFC 6749 §4.1.2)', async () => {
    const agent = new UserAgent(t.base);
    const { request, callback } = await signIn(agent);
    const tokens = await redeem(config, request, callback);
    await expect(redeem(config, request, callback)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('signs in to a second application without asking again (single sign-on), unless it asks prompt=login', async () => {
    const agent = new UserAgent(t.base);
    await signIn(agent);
    const second = await registerApplication(t, tenant.accountId, { name: 'Reports' });
    const reports = await relyingParty(t.base, second.clientId, second.clientSecret, { post: true });
    const request = await authorizationRequest(reports);
    const callback = expectCallback(await agent.follow(request.url));
    const tokens = await redeem(reports, request, callback);
    expect(tokens.claims()!.sub).toBe(tenant.agentId);

    const again = await authorizationRequest(reports, { prompt: 'login' });
    const page = expectPage(await agent.follow(again.url));
    expect(page.url.pathname).toBe('/login');
  });

  it('answers prompt=none with login_required when the browser has no session, without a page', async () => {
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(config, { prompt: 'none' });
    const callback = expectCallback(await agent.follow(request.url));
    expect(callback.searchParams.get('error')).toBe('login_required');
    expect(callback.searchParams.get('state')).toBe(request.state);
  });

  it('does not let a user of another account in, even with a live session of their own account', async () => {
    const agent = new UserAgent(t.base);
    // A full Portcullis session of Other Co's bob.
    const login = expectPage(await agent.follow('/login'));
    const home = expectPage(await agent.submit(login, '/login', { accountId: other.accountId, username: 'bob', password: PASSWORD }));
    expect(home.url.pathname).toBe('/');
    // Acme's application sends them to sign in to Acme, not through.
    const request = await authorizationRequest(config);
    const page = expectPage(await agent.follow(request.url));
    expect(page.url.pathname).toBe('/login');
    expect(page.body).toContain('Acme Support');
    // Other Co's bob's password is Acme's bob's too in this seed, but the
    // account is the application's: it signs in Acme's bob, never Other Co's.
    const callback = expectCallback(await agent.submit(page, '/login', { username: 'bob', password: PASSWORD }));
    const tokens = await redeem(config, request, callback);
    expect(tokens.claims()!.sub).toBe(tenant.agentId);
    expect(tokens.claims()!.sub).not.toBe(other.agentId);
    // A user who exists only in the other account gets the generic refusal.
    const missing = await authorizationRequest(config, { prompt: 'login' });
    const form = expectPage(await agent.follow(missing.url));
    const refused = expectPage(await agent.submit(form, '/login', { username: 'mia-only-in-other', password: PASSWORD }));
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('Incorrect username or password');
  });

  it('with MFA on: sets up the authenticator on first sign-in, then asks the code; amr says otp and mfa', async () => {
    await t.deps.store.accounts.setMfaEnabled(tenant.accountId, true);
    try {
      const agent = new UserAgent(t.base);
      const request = await authorizationRequest(config, { prompt: 'login' });
      const login = expectPage(await agent.follow(request.url));
      const setup = expectPage(await agent.submit(login, '/login', { username: 'mia', password: PASSWORD }));
      expect(setup.url.pathname).toBe('/login/mfa');
      const secret = secretOf(scanQr(setup.body));
      const codes = expectPage(await agent.submit(setup, '/login/mfa', { code: oathCode(secret, Date.now()) }));
      expect(codes.body).toContain('recovery codes');
      const next = /class="button" href="([^"]+)"/.exec(codes.body)?.[1];
      expect(next).toMatch(/^\/oidc\/interaction\//);
      const callback = expectCallback(await agent.follow(next!));
      const tokens = await redeem(config, request, callback);
      expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
      expect(tokens.claims()!.acr).toBe('urn:portcullis:loa:mfa');

      // A later sign-in asks only the code.
      const later = new UserAgent(t.base);
      const second = await authorizationRequest(config);
      const form = expectPage(await later.follow(second.url));
      const verify = expectPage(await later.submit(form, '/login', { username: 'mia', password: PASSWORD }));
      expect(verify.body).toContain('Authentication code');
      const back = expectCallback(await later.submit(verify, '/login/mfa', { code: oathCode(secret, Date.now(), 1) }));
      expect((await redeem(config, second, back)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    } finally {
      await t.deps.store.accounts.setMfaEnabled(tenant.accountId, false);
    }
  });
});
