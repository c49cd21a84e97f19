import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateSigningKeys } from '../../src/services/oidc/signing-keys.ts';
import { createUser } from '../../src/services/users.ts';
import { KEY_SET_CHECK_MS } from '../../src/services/oidc/index.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { oathCode, scanQr, secretOf } from '../helpers/phone.ts';
import { storeKinds } from '../helpers/stores.ts';
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

// max_age and acr_values as an application asks them, and signing-key
// rotation as a relying party that caches the key set sees it.

const MINUTE = 60_000;

describe.each(await storeKinds())('OpenID Connect policy (%s)', (kind) => {
  let t: ListeningApp;
  let tenant: Tenant;
  let config: oidc.Configuration;

  beforeAll(async () => {
    t = await listeningApp(kind);
    tenant = await seedTenant(t.deps);
    const app = await registerApplication(t, tenant.accountId);
    config = await relyingParty(t.base, app.clientId, app.clientSecret);
  }, 60_000);
  afterAll(async () => t?.close());

  async function signIn(agent: UserAgent, params: Record<string, string> = {}) {
    const request = await authorizationRequest(config, params);
    const login = expectPage(await agent.follow(request.url));
    expect(login.url.pathname).toBe('/login');
    const callback = expectCallback(await agent.submit(login, '/login', { username: 'bob', password: PASSWORD }));
    return redeem(config, request, callback);
  }

  it('asks for the password again when max_age has passed, and not while it has not', async () => {
    const agent = new UserAgent(t.base);
    // Signed in ten minutes ago.
    t.clock.advance(-10 * MINUTE);
    await signIn(agent);
    t.clock.advance(10 * MINUTE);

    const recent = await authorizationRequest(config, { max_age: '3600' });
    const through = expectCallback(await agent.follow(recent.url));
    expect((await redeem(config, recent, through, { maxAge: 3600 })).claims()!.sub).toBe(tenant.agentId);

    const strict = await authorizationRequest(config, { max_age: '300' });
    const login = expectPage(await agent.follow(strict.url));
    expect(login.url.pathname).toBe('/login');
    const callback = expectCallback(await agent.submit(login, '/login', { username: 'bob', password: PASSWORD }));
    const tokens = await redeem(config, strict, callback, { maxAge: 300 });
    expect(Math.abs(Number(tokens.claims()!.auth_time) - Date.now() / 1000)).toBeLessThan(30);
  });

  it('acr_values asking for MFA gets a second factor where the account\'s MFA is off: set up when the user has none, then asked', async () => {
    const mfa = { acr_values: 'urn:portcullis:loa:mfa' };
    // MFA is off for the account: a password alone is enough for an application that asks nothing.
    const plain = new UserAgent(t.base);
    const direct = await authorizationRequest(config);
    const plainLogin = expectPage(await plain.follow(direct.url));
    const pwdOnly = await redeem(config, direct, expectCallback(await plain.submit(plainLogin, '/login', { username: 'mia', password: PASSWORD })));
    expect(pwdOnly.claims()!.amr).toEqual(['pwd']);
    expect(pwdOnly.claims()!.acr).toBe('urn:portcullis:loa:pwd');

    // The same browser, now for an application that asks for MFA: its
    // password-only session is not enough; mia has no factor, so she sets one up.
    const request = await authorizationRequest(config, mfa);
    const login = expectPage(await plain.follow(request.url));
    expect(login.url.pathname).toBe('/login');
    const setup = expectPage(await plain.submit(login, '/login', { username: 'mia', password: PASSWORD }));
    expect(setup.url.pathname).toBe('/login/mfa');
    const secret = secretOf(scanQr(setup.body));
    const codes = expectPage(await plain.submit(setup, '/login/mfa', { code: oathCode(secret, Date.now()) }));
    expect(codes.body).toContain('recovery codes');
    const next = /class="button" href="([^"]+)"/.exec(codes.body)?.[1];
    expect(next).toMatch(/^\/oidc\/interaction\//);
    const tokens = await redeem(config, request, expectCallback(await plain.follow(next!)));
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).toBe('urn:portcullis:loa:mfa');
    await verifiedByJwks(t.base, tokens.id_token!);

    // Another browser, asking MFA again: the code this time, not a second set-up.
    const later = new UserAgent(t.base);
    const again = await authorizationRequest(config, mfa);
    const form = expectPage(await later.follow(again.url));
    const verify = expectPage(await later.submit(form, '/login', { username: 'mia', password: PASSWORD }));
    expect(verify.body).toContain('Authentication code');
    expect(verify.body).not.toContain('class="qr"');
    // A wrong code issues nothing.
    const wrong = expectPage(await later.submit(verify, '/login/mfa', { code: '000000' === oathCode(secret, Date.now(), 1) ? '111111' : '000000' }));
    expect(wrong.url.pathname).toBe('/login/mfa');
    const back = expectCallback(await later.submit(wrong, '/login/mfa', { code: oathCode(secret, Date.now(), 1) }));
    expect((await redeem(config, again, back)).claims()!.acr).toBe('urn:portcullis:loa:mfa');

    // Asking nothing, the account's rule holds: the password alone, as before.
    const third = new UserAgent(t.base);
    const none = await authorizationRequest(config);
    const noneLogin = expectPage(await third.follow(none.url));
    const noneTokens = await redeem(config, none, expectCallback(await third.submit(noneLogin, '/login', { username: 'mia', password: PASSWORD })));
    expect(noneTokens.claims()!.amr).toEqual(['pwd']);
  });

  it('never repeats an earlier sign-in\'s MFA: a later password-only session of the same browser is what the next token says', async () => {
    await createUser(t.deps, tenant.accountId, { username: 'noor', role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
    const agent = new UserAgent(t.base);
    // Signed in with a second factor for an application that asked for one.
    const mfa = await authorizationRequest(config, { acr_values: 'urn:portcullis:loa:mfa' });
    const setup = expectPage(await agent.submit(expectPage(await agent.follow(mfa.url)), '/login', { username: 'noor', password: PASSWORD }));
    const secret = secretOf(scanQr(setup.body));
    const codes = expectPage(await agent.submit(setup, '/login/mfa', { code: oathCode(secret, Date.now()) }));
    const first = await redeem(config, mfa, expectCallback(await agent.follow(/class="button" href="([^"]+)"/.exec(codes.body)![1]!)));
    expect(first.claims()!.acr).toBe('urn:portcullis:loa:mfa');

    // The Portcullis session idles out (the provider's session lives on); the same browser signs in to Portcullis
    // again with the password alone (the account's MFA is off).
    t.clock.advance(31 * MINUTE);
    const login = expectPage(await agent.follow('/login'));
    const home = await agent.submit(login, '/login', { accountId: tenant.accountId, username: 'noor', password: PASSWORD });
    expect(expectPage(home).url.pathname).toBe('/');

    // An application asking for MFA is not answered by the old sign-in: the password and a code are asked again.
    const again = await authorizationRequest(config, { acr_values: 'urn:portcullis:loa:mfa' });
    const asked = expectPage(await agent.follow(again.url));
    expect(asked.url.pathname).toBe('/login');

    // One that asks nothing gets the live sign-in's claims, not the earlier ones.
    const plain = await authorizationRequest(config);
    const tokens = await redeem(config, plain, expectCallback(await agent.follow(plain.url)));
    expect(tokens.claims()!.acr).toBe('urn:portcullis:loa:pwd');
    expect(tokens.claims()!.amr).toEqual(['pwd']);
    expect(Number(tokens.claims()!.auth_time)).toBeGreaterThan(Number(first.claims()!.auth_time));
  });

  it('publishes a rotated key before it signs, so a relying party that cached the key set verifies every token', async () => {
    const agent = new UserAgent(t.base);
    const first = await signIn(agent);
    const before = await verifiedByJwks(t.base, first.id_token!);

    await rotateSigningKeys(t.deps, { delayMs: 10 * MINUTE, idTokenTtlMs: 60 * MINUTE });
    t.clock.advance(KEY_SET_CHECK_MS);
    // During the delay: the new key is published, the old one still signs.
    const duringRequest = await authorizationRequest(config);
    const during = await redeem(config, duringRequest, expectCallback(await agent.follow(duringRequest.url)));
    const signedDuring = await verifiedByJwks(t.base, during.id_token!);
    expect(signedDuring.kid).toBe(before.kid);
    const cached = (await (await fetch(`${t.base}/oidc/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(cached.keys.length).toBe(4);

    // After the delay the new key signs; the relying party's cached set already has it.
    t.clock.advance(10 * MINUTE);
    const afterRequest = await authorizationRequest(config);
    const after = await redeem(config, afterRequest, expectCallback(await agent.follow(afterRequest.url)));
    const kid = (JSON.parse(Buffer.from(after.id_token!.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
    expect(kid).not.toBe(before.kid);
    expect(cached.keys.map((k) => k.kid)).toContain(kid);
    await verifiedByJwks(t.base, after.id_token!);
    // Tokens the old key signed still verify until they expire.
    await verifiedByJwks(t.base, first.id_token!);

    // An ID token's lifetime after it stopped signing, the old key leaves the set.
    t.clock.advance(61 * MINUTE);
    const later = (await (await fetch(`${t.base}/oidc/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(later.keys.map((k) => k.kid)).not.toContain(before.kid);
    expect(later.keys.map((k) => k.kid)).toContain(kid);
  });
});
