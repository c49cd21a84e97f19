import { createPublicKey, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import * as oidc from 'openid-client';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { freePort } from '../e2e/support.ts';
import { createApplication } from '../../src/services/applications.ts';
import type { ApplicationDraft } from '../../src/services/applications.ts';

// A real relying party (openid-client 6, panva) over real HTTP against a
// listening Portcullis, and a user agent that follows redirects and fills in
// our sign-in pages the way a browser without JavaScript would.

export const PASSWORD = 'correct horse battery staple';
export const CALLBACK = 'http://127.0.0.1:9/callback';

export interface ListeningApp extends TestApp {
  base: string;
}

/** A Portcullis listening on a free loopback port whose issuer is its own address. */
export async function listeningApp(kind: 'sqlite' | 'postgres', env: Record<string, string> = {}): Promise<ListeningApp> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await buildTestApp(kind, { PORT: String(port), PORTCULLIS_PUBLIC_URL: base, ...env });
  // The provider stamps tokens and interactions with the real time: the test
  // clock follows it here, and advance() still moves it on.
  let offset = 0;
  t.clock.now = () => Date.now() + offset;
  t.clock.advance = (ms: number) => {
    offset += ms;
  };
  await t.app.listen({ port, host: '127.0.0.1' });
  return Object.assign(t, { base });
}

export async function registerApplication(t: TestApp, accountId: string, draft: Partial<ApplicationDraft> = {}) {
  const made = await createApplication(
    t.deps,
    accountId,
    { name: 'Agent Workspace', redirectUris: [CALLBACK], postLogoutRedirectUris: ['http://127.0.0.1:9/signed-out'], ...draft },
    { userId: null, label: 'test', ip: null },
  );
  if (!made.ok) throw new Error(`could not register the application: ${JSON.stringify(made)}`);
  return made;
}

/** The relying party's view of Portcullis, through discovery. */
export async function relyingParty(base: string, clientId: string, clientSecret: string | null, opts: { post?: boolean } = {}) {
  const auth = clientSecret === null ? oidc.None() : opts.post ? oidc.ClientSecretPost(clientSecret) : oidc.ClientSecretBasic(clientSecret);
  return oidc.discovery(new URL(base), clientId, clientSecret ?? undefined, auth, { execute: [oidc.allowInsecureRequests] });
}

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationRequest(config: oidc.Configuration, params: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid profile email account',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

export async function redeem(config: oidc.Configuration, request: AuthorizationRequest, callback: URL, opts: { maxAge?: number } = {}) {
  return oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    ...(opts.maxAge !== undefined ? { maxAge: opts.maxAge } : {}),
  });
}

interface Page {
  status: number;
  url: URL;
  body: string;
}

/** A browser in miniature over fetch: one cookie jar for the one host, redirects followed by hand. */
export class UserAgent {
  readonly jar = new Map<string, string>();

  constructor(readonly base: string) {}

  private header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq).trim();
      const value = (pair ?? '').slice(eq + 1).trim();
      const gone = value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** One request; no redirect followed. */
  async request(url: URL | string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url, this.base);
    const res = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        cookie: this.header(),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded', origin: this.base } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    this.keep(res);
    return res;
  }

  /**
   * Follows redirects on our own origin. Answers the callback URL when a
   * redirect leaves for the application, or the page it stopped at.
   */
  async follow(start: URL | string, init: { form?: Record<string, string> } = {}): Promise<{ callback: URL } | { page: Page }> {
    let res = await this.request(start, init);
    let url = new URL(start, this.base);
    for (let hops = 0; hops < 20; hops++) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) {
        return { page: { status: res.status, url, body: await res.text() } };
      }
      url = new URL(location, url);
      await res.arrayBuffer();
      if (url.origin !== new URL(this.base).origin) return { callback: url };
      res = await this.request(url);
    }
    throw new Error('too many redirects');
  }

  /** Posts a form of the page (its CSRF token included) and follows where it leads. */
  async submit(page: Page, action: string, fields: Record<string, string>) {
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    return this.follow(action, { form: { ...(csrf ? { _csrf: csrf } : {}), ...fields } });
  }
}

export function expectPage(result: { callback: URL } | { page: Page }): Page {
  if ('page' in result) return result.page;
  throw new Error(`expected a page, went to ${result.callback.href}`);
}

export function expectCallback(result: { callback: URL } | { page: Page }): URL {
  if ('callback' in result) return result.callback;
  throw new Error(`expected a redirect to the application, stayed at ${result.page.url.href} (${result.page.status}): ${result.page.body.slice(0, 400)}`);
}

/**
 * Verifies a JWS against the provider's published key set with node:crypto
 * (not with the provider's or the client's code): RS256 or ES256.
 */
export async function verifiedByJwks(base: string, jwt: string): Promise<{ kid: string; alg: string; payload: Record<string, unknown> }> {
  const [head, body, signature] = jwt.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { kid: string; alg: string };
  const jwks = (await (await fetch(`${base}/oidc/jwks`)).json()) as { keys: Array<JsonWebKey & { kid: string }> };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`kid ${header.kid} is not published`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${head}.${body}`);
  const sig = Buffer.from(signature, 'base64url');
  const ok =
    header.alg === 'RS256'
      ? verify('sha256', data, key, sig)
      : header.alg === 'ES256'
        ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
        : false;
  if (!ok) throw new Error(`signature of kid ${header.kid} does not verify`);
  return { kid: header.kid, alg: header.alg, payload: JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown> };
}
