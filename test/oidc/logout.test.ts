import { createServer } from 'node:http';
import type { Server } from 'node:http';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetMfa } from '../../src/services/mfa-reset.ts';
import { updateUser } from '../../src/services/user-directory.ts';
import { createUser } from '../../src/services/users.ts';
import { issuePasswordReset, usePasswordReset } from '../../src/services/password-reset.ts';
import { disableInactiveUsers } from '../../src/services/access-rules.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
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
} from './support.ts';
import type { ListeningApp } from './support.ts';

// Revocation reaches the applications: what ends a user's Portcullis
// sessions also ends their tokens, and each application the user signed in
// to receives a back-channel logout token (OpenID Connect Back-Channel Logout
// 1.0) at the URI its admin registered: here a listening test endpoint.

/** An application's back-channel logout endpoint: keeps each logout_token it is sent. */
async function logoutEndpoint(): Promise<{ url: string; tokens: string[]; next(): Promise<string>; skip(): void; close(): Promise<void> }> {
  const tokens: string[] = [];
  const waiting: Array<(token: string) => void> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      tokens.push(token);
      waiting.shift()?.(token);
      res.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  let seen = 0;
  return {
    url: `http://127.0.0.1:${port}/backchannel-logout`,
    tokens,
    /** The next token this endpoint receives (or one already received and not yet taken). */
    next: () => {
      const index = seen++;
      if (tokens[index] !== undefined) return Promise.resolve(tokens[index]);
      return new Promise((done) => waiting.push(done));
    },
    /** Leaves the tokens received so far untaken (another test's): next() answers the ones to come. */
    skip: () => {
      seen = tokens.length;
    },
    close: () => new Promise((done) => server.close(() => done())),
  };
}

describe.each(await storeKinds())('revocation reaches the applications (%s)', (kind) => {
  let t: ListeningApp;
  let tenant: Tenant;
  let endpoint: Awaited<ReturnType<typeof logoutEndpoint>>;
  let app: { clientId: string; clientSecret: string | null };
  let config: oidc.Configuration;

  beforeAll(async () => {
    t = await listeningApp(kind);
    tenant = await seedTenant(t.deps);
    endpoint = await logoutEndpoint();
    app = await registerApplication(t, tenant.accountId, { backchannelLogoutUri: endpoint.url });
    config = await relyingParty(t.base, app.clientId, app.clientSecret);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await endpoint?.close();
  });

  async function signedInTokens(username = 'bob') {
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(config);
    const login = expectPage(await agent.follow(request.url));
    const callback = expectCallback(await agent.submit(login, '/login', { username, password: PASSWORD }));
    const tokens = await redeem(config, request, callback);
    return { agent, tokens, sid: tokens.claims()!.sid as string };
  }

  async function expectRevoked(tokens: oidc.TokenEndpointResponse) {
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  }

  async function expectLogoutToken(sub: string, sid: string) {
    const token = await endpoint.next();
    const { payload } = await verifiedByJwks(t.base, token);
    expect(payload.iss).toBe(t.base);
    expect(payload.aud).toBe(app.clientId);
    expect(payload.sub).toBe(sub);
    expect(payload.sid).toBe(sid);
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    // §2.4: a logout token never carries a nonce.
    expect(payload.nonce).toBeUndefined();
  }

  it('Reset MFA revokes the user\'s tokens and tells the application by a back-channel logout token', async () => {
    const { tokens, sid } = await signedInTokens();
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    const reset = await resetMfa(t.deps, tenant.accountId, tenant.agentId, { userId: tenant.adminId, label: 'alice', ip: null });
    expect(reset.ok).toBe(true);
    await expectLogoutToken(tenant.agentId, sid);
    await expectRevoked(tokens);
  });

  it('disabling a user revokes their tokens and logs them out of the application', async () => {
    const { tokens, sid } = await signedInTokens('mia');
    const admin = { userId: tenant.adminId, label: 'alice', ip: null };
    const disabled = await updateUser(t.deps, tenant.accountId, tenant.managerId, { role: 'agent-manager', state: 'disabled', email: '', skillIds: [] }, admin);
    expect(disabled.ok).toBe(true);
    await expectLogoutToken(tenant.managerId, sid);
    await expectRevoked(tokens);
    await updateUser(t.deps, tenant.accountId, tenant.managerId, { role: 'agent-manager', state: 'active', email: '', skillIds: [] }, admin);
  });

  it('signing out of Portcullis signs the browser out of the application too', async () => {
    const { agent, tokens, sid } = await signedInTokens();
    const home = expectPage(await agent.follow('/'));
    expect(home.status).toBe(200);
    expectPage(await agent.submit(home, '/logout', {}));
    await expectLogoutToken(tenant.agentId, sid);
    await expectRevoked(tokens);
  });

  it('RP-initiated logout asks, then ends the Portcullis session, revokes the tokens and returns to the application', async () => {
    const { agent, tokens } = await signedInTokens();
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/signed-out', state: 'bye' });
    const question = expectPage(await agent.follow(url));
    expect(question.body).toContain('Sign out of Portcullis?');
    // The form leads back to the application: its origin is allowed as a form target.
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question.body)?.[1];
    const action = /id="op.logoutForm" method="post" action="([^"]+)"/.exec(question.body)?.[1];
    expect(xsrf && action).toBeTruthy();
    const back = expectCallback(await agent.follow(new URL(action!.replace(/&amp;/g, '&'), t.base), { form: { xsrf: xsrf!, logout: 'yes' } }));
    expect(back.origin + back.pathname).toBe('http://127.0.0.1:9/signed-out');
    expect(back.searchParams.get('state')).toBe('bye');
    await expectRevoked(tokens);
    // And Portcullis's own session is over.
    const after = expectPage(await agent.follow('/'));
    expect(after.url.pathname).toBe('/login');
  });

  /** A user of their own, so that no other test's sessions end with theirs. */
  async function freshUser(username: string): Promise<string> {
    const made = await createUser(t.deps, tenant.accountId, { username, role: 'agent', password: PASSWORD }, { userId: null, label: 'test', ip: null }, 'user');
    if (!made.ok) throw new Error('could not create the user');
    return made.userId;
  }

  it('"Sign out all other sessions" ends the other browsers\' applications and keeps this browser\'s', async () => {
    const userId = await freshUser('zoe');
    const here = await signedInTokens('zoe');
    const there = await signedInTokens('zoe');
    endpoint.skip();
    const before = endpoint.tokens.length;
    const page = expectPage(await here.agent.follow('/account/sessions'));
    expect(expectPage(await here.agent.submit(page, '/account/sessions/end-others', {})).url.search).toBe('?ended=others');
    // The other browser: its application is told (its sid), its tokens and its Portcullis session are gone.
    await expectLogoutToken(userId, there.sid);
    await expectRevoked(there.tokens);
    expect(expectPage(await there.agent.follow('/')).url.pathname).toBe('/login');
    // This browser: its application keeps working, its refresh token too.
    expect((await oidc.tokenIntrospection(config, here.tokens.access_token)).active).toBe(true);
    const refreshed = await oidc.refreshTokenGrant(config, here.tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    // Signing this browser out later tells its application: the one token for it, none sent before.
    expectPage(await here.agent.submit(expectPage(await here.agent.follow('/')), '/logout', {}));
    await expectLogoutToken(userId, here.sid);
    expect(endpoint.tokens.length - before).toBe(2);
    await expectRevoked(refreshed);
  });

  it('"Sign out all other sessions" without this browser\'s provider session (an API client) ends every application session', async () => {
    const userId = await freshUser('yan');
    const here = await signedInTokens('yan');
    const there = await signedInTokens('yan');
    endpoint.skip();
    // Only the Portcullis cookie, and a provider session id that is nobody's.
    const cookie = [...here.agent.jar].filter(([name]) => !name.startsWith('_session')).map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(`${t.base}/api/v1/sessions/end-others`, {
      method: 'POST',
      headers: { cookie: `${cookie}; _session=notASessionOfAnyone`, 'content-type': 'application/json', origin: t.base },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ended: 1 });
    const sids = [];
    for (let i = 0; i < 2; i++) {
      const { payload } = await verifiedByJwks(t.base, await endpoint.next());
      expect(payload.sub).toBe(userId);
      sids.push(payload.sid);
    }
    expect(sids.sort()).toEqual([here.sid, there.sid].sort());
    await expectRevoked(here.tokens);
    await expectRevoked(there.tokens);
    // The Portcullis session that asked is still signed in.
    expect(expectPage(await here.agent.follow('/')).url.pathname).toBe('/');
  });

  it('a new password set with a reset link revokes the user\'s tokens and logs them out of the application', async () => {
    const userId = await freshUser('xia');
    const { tokens, sid } = await signedInTokens('xia');
    endpoint.skip();
    const issued = await issuePasswordReset(t.deps, tenant.accountId, userId, { userId: tenant.adminId, label: 'alice', ip: null }, t.base);
    if (!issued.ok) throw new Error('no link');
    const used = await usePasswordReset(t.deps, new URL(issued.link).pathname.split('/').pop()!, { newPassword: 'a different long passphrase' }, '127.0.0.1');
    expect(used.ok).toBe(true);
    await expectLogoutToken(userId, sid);
    await expectRevoked(tokens);
  });

  it('the inactivity rule disabling a user revokes their tokens and logs them out of the application', async () => {
    // An account of its own: the rule disables every non-admin who has not signed in.
    const quiet = await seedTenant(t.deps, 'Quiet Support');
    const quietApp = await registerApplication(t, quiet.accountId, { backchannelLogoutUri: endpoint.url });
    const quietConfig = await relyingParty(t.base, quietApp.clientId, quietApp.clientSecret);
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(quietConfig);
    const login = expectPage(await agent.follow(request.url));
    const tokens = await redeem(quietConfig, request, expectCallback(await agent.submit(login, '/login', { username: 'bob', password: PASSWORD })));
    // The rule has been on for 40 days and nobody of the account has been seen since (the
    // application's tokens still live: a long session lifetime, or tokens kept refreshed).
    const longAgo = t.deps.clock.now() - 40 * 24 * 3600_000;
    await t.deps.store.accessRules.putPolicy(
      quiet.accountId,
      { minPasswordLength: null, lockAfterFailures: null, idleTimeoutMs: null, absoluteTimeoutMs: null, inactiveDays: 30 },
      longAgo,
      longAgo,
    );
    await t.db.database.db.updateTable('users').set({ last_active_at: longAgo, created_at: longAgo }).where('account_id', '=', quiet.accountId).execute();
    endpoint.skip();
    expect(await disableInactiveUsers(t.deps)).toBe(2);
    const { payload } = await verifiedByJwks(t.base, await endpoint.next());
    expect(payload).toMatchObject({ aud: quietApp.clientId, sub: quiet.agentId, sid: tokens.claims()!.sid });
    expect((await oidc.tokenIntrospection(quietConfig, tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(quietConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a logout whose post-logout URI is not registered, and redirects nowhere', async () => {
    const { agent, tokens } = await signedInTokens();
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' });
    const page = expectPage(await agent.follow(url));
    expect(page.status).toBe(400);
    expect(page.body).toContain('invalid_request');
    expect(page.body).not.toContain('evil.example');
  });
});
