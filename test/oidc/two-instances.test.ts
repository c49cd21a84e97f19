import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import * as oidc from 'openid-client';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../../src/app.ts';
import { parseKeyRing } from '../../src/config/secret-key.ts';
import { openDatabase } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { hasPostgres } from '../helpers/stores.ts';
import { freePort } from '../e2e/support.ts';
import { authorizationRequest, CALLBACK, expectCallback, expectPage, listeningApp, registerApplication, relyingParty, UserAgent } from './support.ts';
import type { ListeningApp } from './support.ts';

// Two instances on one PostgreSQL database, each with its own connections,
// as behind a load balancer: an authorization code issued by one is redeemed
// on the other, and the same code sent to both at once gives one token set.

describe.runIf(await hasPostgres())('OpenID Connect on two instances (postgres)', () => {
  let t: ListeningApp;
  let tenant: Tenant;
  let app: { clientId: string; clientSecret: string | null };
  let config: oidc.Configuration;
  let other: { app: FastifyInstance; base: string; close(): Promise<void> };

  beforeAll(async () => {
    t = await listeningApp('postgres');
    tenant = await seedTenant(t.deps);
    app = await registerApplication(t, tenant.accountId);
    config = await relyingParty(t.base, app.clientId, app.clientSecret);
    const database = openDatabase(t.db.url, { ...(t.db.schema ? { schema: t.db.schema } : {}), poolSize: 5 });
    const secondApp = await buildApp({ deps: { ...t.deps, store: createStore(database.db, database.dialect) }, keys: parseKeyRing(`b:${randomBytes(32).toString('base64')}`) });
    const port = await freePort();
    await secondApp.listen({ port, host: '127.0.0.1' });
    other = {
      app: secondApp,
      base: `http://127.0.0.1:${port}`,
      close: async () => {
        await secondApp.close();
        await database.close();
      },
    };
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  async function code() {
    const agent = new UserAgent(t.base);
    const request = await authorizationRequest(config);
    const login = expectPage(await agent.follow(request.url));
    const callback = expectCallback(await agent.submit(login, '/login', { username: 'bob', password: PASSWORD }));
    return { request, code: callback.searchParams.get('code')! };
  }

  /** A token request to one instance, as the relying party sends it. */
  function redeemAt(base: string, request: { verifier: string }, authorizationCode: string) {
    return fetch(`${base}/oidc/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: authorizationCode, redirect_uri: CALLBACK, code_verifier: request.verifier }).toString(),
    });
  }

  it('redeems on one instance a code the other issued', async () => {
    const issued = await code();
    const res = await redeemAt(other.base, issued.request, issued.code);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id_token: string; access_token: string };
    expect(body.id_token).toBeTruthy();
    expect((await oidc.tokenIntrospection(config, body.access_token)).active).toBe(true);
  });

  it('gives one token set when both instances redeem the same code at once', async () => {
    for (let round = 0; round < 5; round++) {
      const issued = await code();
      const answers = await Promise.all([redeemAt(t.base, issued.request, issued.code), redeemAt(other.base, issued.request, issued.code)]);
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([200, 400]);
      const refused = answers.find((a) => a.status === 400)!;
      expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');
      await answers.find((a) => a.status === 200)!.arrayBuffer();
    }
  });
});
