import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatKey } from '../../src/config/secret-key.ts';
import { LOGOUT_DELIVERY_TIMEOUT_MS } from '../../src/services/oidc/provider.ts';
import { portcullis } from '../helpers/cli.ts';
import type { Run } from '../helpers/cli.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { POSTGRES_URL, storeKinds } from '../helpers/stores.ts';
import { freePort } from '../e2e/support.ts';
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
} from '../oidc/support.ts';
import type { ListeningApp } from '../oidc/support.ts';

// The break-glass `portcullis user reset-mfa`, a real child process beside a
// listening Portcullis on the same database, tells the applications the user
// signed in to (issue 13, "Revocation reaches the applications"), as serve
// does: each registered back-channel logout URI (a test endpoint on
// 127.0.0.1) receives a logout token signed with the provider's key, before
// the command exits. An application that fails or does not answer is a
// warning on stderr; the command still succeeds, because the revocation in
// the database is done.

type Behaviour = 'ok' | 'error' | 'hang';

interface Endpoint {
  url: string;
  /** Each logout_token received, with when it arrived. */
  received: Array<{ token: string; at: number }>;
  close(): Promise<void>;
}

/** An application's back-channel logout endpoint that answers 200, 500, or never. */
async function logoutEndpoint(behaviour: Behaviour): Promise<Endpoint> {
  const received: Endpoint['received'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ token: new URLSearchParams(body).get('logout_token') ?? '', at: Date.now() });
      if (behaviour === 'ok') res.writeHead(200).end();
      else if (behaviour === 'error') res.writeHead(500).end('broken');
      // 'hang': no answer; the request stays open until the sender gives up.
    });
  });
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${port}/backchannel-logout`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

function json(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`standard output is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** The warnings the command printed for people (not its JSON log lines). */
function warnings(run: Run): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('portcullis: warning:'));
}

describe.each(await storeKinds())('portcullis user reset-mfa tells the applications (%s)', { timeout: 60_000 }, (kind) => {
  const secretKey = formatKey('cli', randomBytes(32));
  let t: ListeningApp;
  let tenant: Tenant;
  /** The database as the CLI reaches it: the app's SQLite file, or its PostgreSQL schema. */
  let url: string;
  const endpoints: Endpoint[] = [];

  beforeAll(async () => {
    t = await listeningApp(kind, { PORTCULLIS_SECRET_KEY: secretKey });
    tenant = await seedTenant(t.deps);
    url = kind === 'sqlite' ? t.db.url : `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${t.db.schema}`)}`;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all(endpoints.map((e) => e.close()));
  });

  /** An application of the account whose back-channel logout URI is the given endpoint (or any URI). */
  async function application(backchannelLogoutUri: string) {
    const app = await registerApplication(t, tenant.accountId, { backchannelLogoutUri });
    return { ...app, config: await relyingParty(t.base, app.clientId, app.clientSecret) };
  }
  async function applicationAt(behaviour: Behaviour) {
    const endpoint = await logoutEndpoint(behaviour);
    endpoints.push(endpoint);
    return { endpoint, ...(await application(endpoint.url)) };
  }

  /** bob signs in to each application in one browser (single sign-on after the first). */
  async function signIn(...configs: oidc.Configuration[]) {
    const agent = new UserAgent(t.base);
    const signedIn = [];
    for (const config of configs) {
      const request = await authorizationRequest(config);
      let result = await agent.follow(request.url);
      if ('page' in result) result = await agent.submit(expectPage(result), '/login', { username: 'bob', password: PASSWORD });
      const tokens = await redeem(config, request, expectCallback(result));
      signedIn.push({ tokens, sid: tokens.claims()!.sid as string });
    }
    return signedIn;
  }

  /** The command with serve's settings (its public URL and secret key), or the ones given. */
  const resetBob = (env: Record<string, string> = { PORTCULLIS_PUBLIC_URL: t.base, PORTCULLIS_SECRET_KEY: secretKey }) =>
    portcullis(['user', 'reset-mfa', '--account', tenant.accountId, '--username', 'bob'], { url, env });

  async function expectRevoked(config: oidc.Configuration, tokens: oidc.TokenEndpointResponse) {
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  }

  it('sends a logout token that verifies against the JWKS before it exits, and the refresh token is refused', async () => {
    const app = await applicationAt('ok');
    const [session] = await signIn(app.config);
    expect((await oidc.tokenIntrospection(app.config, session!.tokens.access_token)).active).toBe(true);

    const run = await resetBob();
    expect(run.code, run.stderr).toBe(0);
    // Received, and counted in the answer: the command waited for the delivery before it exited.
    expect(app.endpoint.received).toHaveLength(1);
    expect(json(run)).toMatchObject({ reset: true, userId: tenant.agentId, sessionsEnded: 1, applicationsNotified: 1 });
    expect(warnings(run)).toEqual([]);
    const token = app.endpoint.received[0]!.token;
    const { payload } = await verifiedByJwks(t.base, token);
    expect(payload).toMatchObject({ iss: t.base, aud: app.clientId, sub: tenant.agentId, sid: session!.sid });
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    expect(typeof payload.jti).toBe('string');
    expect(typeof payload.iat).toBe('number');
    expect(payload.exp as number).toBeGreaterThan(payload.iat as number);
    // §2.4: never a nonce; §2.3 (typ): explicitly a logout token.
    expect(payload.nonce).toBeUndefined();
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'))).toMatchObject({ typ: 'logout+jwt' });
    await expectRevoked(app.config, session!.tokens);
  });

  it('an application answering 500 is a warning: the command exits 0, and the other application is still told', async () => {
    const broken = await applicationAt('error');
    const working = await applicationAt('ok');
    const [toBroken, toWorking] = await signIn(broken.config, working.config);

    const run = await resetBob();
    expect(run.code, run.stderr).toBe(0);
    expect(json(run)).toMatchObject({ reset: true, applicationsNotified: 1 });
    expect(warnings(run)).toEqual([expect.stringMatching(new RegExp(`application ${broken.clientId} failed \\(.*500.*\\); its tokens are revoked all the same`))]);
    expect(broken.endpoint.received).toHaveLength(1);
    expect(working.endpoint.received).toHaveLength(1);
    // The failure is logged without the request it made: no logout token, no answer body.
    expect(run.stderr).not.toContain(broken.endpoint.received[0]!.token.split('.')[1]);
    expect(run.stderr).not.toContain('broken');
    expect((await verifiedByJwks(t.base, working.endpoint.received[0]!.token)).payload).toMatchObject({ aud: working.clientId, sid: toWorking!.sid });
    await expectRevoked(broken.config, toBroken!.tokens);
    await expectRevoked(working.config, toWorking!.tokens);
  });

  it('an application that refuses the connection is a warning, and the command exits 0', async () => {
    // A port nobody listens on.
    const refused = await application(`http://127.0.0.1:${await freePort()}/backchannel-logout`);
    const [session] = await signIn(refused.config);

    const run = await resetBob();
    expect(run.code, run.stderr).toBe(0);
    expect(json(run)).toMatchObject({ reset: true, applicationsNotified: 0 });
    expect(warnings(run)).toEqual([expect.stringMatching(new RegExp(`application ${refused.clientId} failed \\(.*ECONNREFUSED.*\\)`))]);
    await expectRevoked(refused.config, session!.tokens);
  });

  it('applications that never answer are given up on after the timeout, all at once, and the command exits 0', async () => {
    const first = await applicationAt('hang');
    const second = await applicationAt('hang');
    await signIn(first.config, second.config);

    const started = Date.now();
    const run = await resetBob();
    const took = Date.now() - started;
    expect(run.code, run.stderr).toBe(0);
    const given = warnings(run);
    expect(given).toHaveLength(2);
    for (const id of [first.clientId, second.clientId]) {
      expect(given.some((line) => line.includes(`application ${id} failed (no answer in time)`)), given.join('\n')).toBe(true);
    }
    // Both were asked at once (one after the other, the second would have waited a whole timeout).
    expect(first.endpoint.received).toHaveLength(1);
    expect(second.endpoint.received).toHaveLength(1);
    expect(Math.abs(first.endpoint.received[0]!.at - second.endpoint.received[0]!.at)).toBeLessThan(LOGOUT_DELIVERY_TIMEOUT_MS / 2);
    expect(took).toBeGreaterThanOrEqual(LOGOUT_DELIVERY_TIMEOUT_MS);
  });

  it('without the secret key the reset still happens, and the command warns that the applications were not told', async () => {
    const app = await applicationAt('ok');
    const [session] = await signIn(app.config);

    const run = await resetBob({ PORTCULLIS_PUBLIC_URL: t.base });
    expect(run.code, run.stderr).toBe(0);
    expect(json(run)).toMatchObject({ reset: true, sessionsEnded: 1, applicationsNotified: 0 });
    expect(warnings(run)).toEqual([expect.stringMatching(new RegExp(`application ${app.clientId} failed \\(.*PORTCULLIS_SECRET_KEY.*\\)`))]);
    expect(app.endpoint.received).toHaveLength(0);
    await expectRevoked(app.config, session!.tokens);
  });

  it('without PORTCULLIS_PUBLIC_URL the command warns which issuer its logout tokens name', async () => {
    const app = await applicationAt('ok');
    await signIn(app.config);

    const run = await resetBob({ PORTCULLIS_SECRET_KEY: secretKey });
    expect(run.code, run.stderr).toBe(0);
    expect(app.endpoint.received).toHaveLength(1);
    const { payload } = await verifiedByJwks(t.base, app.endpoint.received[0]!.token);
    // Not serve's issuer: the application would refuse it, and the operator is told why.
    expect(payload.iss).not.toBe(t.base);
    expect(warnings(run)).toEqual([
      `portcullis: warning: PORTCULLIS_PUBLIC_URL is not set, so the logout tokens name the issuer ${String(payload.iss)}; an application accepts them only if serve's issuer is the same`,
    ]);
  });
});
