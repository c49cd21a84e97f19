import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftKey } from '../helpers/authenticator.ts';
import type { CeremonyOptionsJSON } from '../helpers/authenticator.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { authorizationRequest, expectCallback, expectPage, listeningApp, redeem, registerApplication, relyingParty, UserAgent } from './support.ts';
import type { ListeningApp } from './support.ts';

// Passkey sign-in through an application's sign-in (issue 14): the sign-in
// page an application sends the user to offers "Sign in with a passkey" for
// the application's account, the answer goes back to the application, and
// the ID token says how: amr hwk, user, mfa; acr multi-factor.

/** A JSON call from the user agent's page (its cookies, our own origin), keeping the cookies it sets. */
async function jsonCall(agent: UserAgent, path: string, body: unknown): Promise<Response> {
  const res = await fetch(new URL(path, agent.base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: agent.base, cookie: [...agent.jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    body: JSON.stringify(body),
  });
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = (pair ?? '').indexOf('=');
    agent.jar.set((pair ?? '').slice(0, eq).trim(), (pair ?? '').slice(eq + 1).trim());
  }
  return res;
}

describe.each(await storeKinds())('passkey sign-in through an application (%s)', (kind) => {
  let t: ListeningApp;
  let tenant: Tenant;
  let other: Tenant;
  let config: oidc.Configuration;
  let key: SoftKey;
  let foreign: SoftKey;

  /** Sets up a passkey for the user at their first sign-in with MFA on (the relying party is PORTCULLIS_PUBLIC_URL's host). */
  async function setUp(account: Tenant, username: string): Promise<SoftKey> {
    const host = new URL(t.base).host;
    const client = new TestBrowser(t.app, host);
    await t.deps.store.accounts.setMfaEnabled(account.accountId, true);
    expect((await client.json('POST', '/api/v1/login', { accountId: account.accountId, username, password: PASSWORD })).statusCode).toBe(200);
    const options = (await client.json('POST', '/api/v1/login/mfa/webauthn/options', {})).json<{ options: CeremonyOptionsJSON }>().options;
    const made = new SoftKey(t.base, '127.0.0.1');
    const res = await client.json('POST', '/api/v1/login/mfa', { method: 'webauthn', credential: made.register(options) });
    expect(res.statusCode, res.body).toBe(200);
    await t.deps.store.accounts.setMfaEnabled(account.accountId, false);
    return made;
  }

  beforeAll(async () => {
    t = await listeningApp(kind);
    tenant = await seedTenant(t.deps, 'Acme Support');
    other = await seedTenant(t.deps, 'Other Co');
    const app = await registerApplication(t, tenant.accountId);
    config = await relyingParty(t.base, app.clientId, app.clientSecret);
    key = await setUp(tenant, 'bob');
    foreign = await setUp(other, 'alice');
  }, 60_000);
  afterAll(async () => t?.close());

  it('signs in with a passkey for the application’s account; the ID token says hwk, user, mfa', async () => {
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(config, { prompt: 'login' });
    const login = expectPage(await agent.follow(request.url));
    expect(login.url.pathname).toBe('/login');
    // The account is the application's: the passkey form asks no account number.
    expect(login.body).toContain('Sign in with a passkey');
    expect(login.body).not.toContain('data-webauthn-account');
    // Whatever account number a script sends, the options are for the application's account.
    const started = await jsonCall(agent, '/api/v1/login/passkey/options', { accountId: other.accountId });
    expect(started.status).toBe(200);
    const { options } = (await started.json()) as { options: CeremonyOptionsJSON };
    const callback = expectCallback(await agent.submit(login, '/login/passkey', { credential: JSON.stringify(key.assert(options)) }));
    const tokens = await redeem(config, request, callback);
    expect(tokens.claims()?.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(tokens.claims()?.acr).toBe('urn:portcullis:loa:mfa');
  });

  it('refuses a passkey of another account within the application’s sign-in, and stays on the page', async () => {
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(config, { prompt: 'login' });
    const login = expectPage(await agent.follow(request.url));
    const { options } = (await (await jsonCall(agent, '/api/v1/login/passkey/options', {})).json()) as { options: CeremonyOptionsJSON };
    const refused = expectPage(await agent.submit(login, '/login/passkey', { credential: JSON.stringify(foreign.assert(options)) }));
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('Your passkey was not accepted.');
    expect(refused.body).toContain('to continue to <strong>Agent Workspace</strong>');
  });
});
