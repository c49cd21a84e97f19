// Full OpenID Connect sign-ins with MFA for the benchmark, as an application
// and its user's browser make them: authorize → our sign-in page → password →
// code → back to the application with a code → token request → ID token
// verified (signature against the published key set, iss, aud, nonce, exp,
// amr).
//
// The relying party here is ours, over node:http and node:crypto: the
// benchmark measures the provider's speed with as little client CPU as
// possible on the machine's two cores; test/oidc/ checks the provider against
// openid-client (panva), an independent relying party.
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { Browser } from './browser.ts';
import { codeFor, timedSignIns } from './load.ts';
import type { SignInLoad, TimedRun } from './load.ts';
import type { BenchServer } from './server.ts';
import { request } from './support.ts';

/** Never reached: the benchmark reads the code from the redirect (http on loopback is allowed). */
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export interface BenchRelyingParty {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  /** client_secret_basic's header value. */
  authorization: string;
  keys: Map<string, { alg: string; key: KeyObject }>;
}

/** Registers a confidential application through the CLI and reads the provider's discovery document and key set. */
export async function registerRelyingParty(server: BenchServer, accountId: string): Promise<BenchRelyingParty> {
  const made = JSON.parse(server.cli(['client', 'create', '--account', accountId, '--name', 'Bench Workspace', '--redirect-uri', REDIRECT_URI])) as {
    clientId: string;
    clientSecret: string;
  };
  const discovery = (await (await fetch(`${server.base}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const jwks = (await (await fetch(discovery.jwks_uri as string)).json()) as { keys: Array<JsonWebKey & { kid: string; alg: string }> };
  const keys = new Map(jwks.keys.map((k) => [k.kid, { alg: k.alg, key: createPublicKey({ key: k, format: 'jwk' }) }]));
  // RFC 6749 §2.3.1: the id and secret form-encoded, then Basic.
  const basic = Buffer.from(`${encodeURIComponent(made.clientId)}:${encodeURIComponent(made.clientSecret)}`).toString('base64');
  return {
    issuer: discovery.issuer as string,
    authorizationEndpoint: discovery.authorization_endpoint as string,
    tokenEndpoint: discovery.token_endpoint as string,
    clientId: made.clientId,
    authorization: `Basic ${basic}`,
    keys,
  };
}

/** The ID token's claims when its signature verifies with a published key and it was issued for this request; else undefined. */
function verifiedIdToken(rp: BenchRelyingParty, jwt: string, nonce: string): Record<string, unknown> | undefined {
  const [head = '', body = '', signature = ''] = jwt.split('.');
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { kid?: string; alg?: string };
  const published = rp.keys.get(header.kid ?? '');
  if (!published || published.alg !== header.alg) return undefined;
  const data = Buffer.from(`${head}.${body}`);
  const sig = Buffer.from(signature, 'base64url');
  const ok = header.alg === 'ES256' ? verify('sha256', data, { key: published.key, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', data, published.key, sig);
  if (!ok) return undefined;
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  const fresh = typeof claims.exp === 'number' && claims.exp * 1000 > Date.now();
  return claims.iss === rp.issuer && claims.aud === rp.clientId && claims.nonce === nonce && fresh ? claims : undefined;
}

/** One user's sign-in through the application; answers whether it ended with a verified ID token that says MFA. */
async function oidcSignIn(load: SignInLoad, rp: BenchRelyingParty, i: number): Promise<boolean> {
  const { base, password, secrets } = load;
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const authorize = new URL(rp.authorizationEndpoint);
  for (const [k, v] of Object.entries({
    client_id: rp.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) authorize.searchParams.set(k, v);

  const browser = new Browser(base);
  const login = await browser.go(authorize);
  if (login.url.pathname !== '/login') return false;
  const codePage = await browser.submit(login, '/login', { username: `agent${i}`, password });
  if (codePage.url.pathname !== '/login/mfa') return false;
  const back = await browser.submit(codePage, '/login/mfa', { method: 'totp', code: codeFor(secrets[i] as Uint8Array, 1) });
  const callback = back.leftTo;
  const code = callback?.searchParams.get('code');
  if (!callback || !code || callback.searchParams.get('state') !== state) return false;

  const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }).toString();
  const token = await request(rp.tokenEndpoint, 'POST', { authorization: rp.authorization, 'content-type': 'application/x-www-form-urlencoded' }, form);
  if (token.status !== 200) return false;
  const idToken = (JSON.parse(token.text) as { id_token?: string }).id_token;
  const claims = idToken ? verifiedIdToken(rp, idToken, nonce) : undefined;
  return Array.isArray(claims?.amr) && claims.amr.includes('mfa');
}

/** Full OpenID Connect sign-ins with MFA of agent{first} up to agent{last - 1}, for `seconds`. */
export function oidcSignIns(load: SignInLoad, rp: BenchRelyingParty, seconds: number, first: number, last: number): Promise<TimedRun> {
  return timedSignIns(load.vus, seconds, first, last, (i) => oidcSignIn(load, rp, i));
}
