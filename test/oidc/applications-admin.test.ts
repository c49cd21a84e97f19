import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, seedTenant } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';
import { storeKinds } from '../helpers/stores.ts';
import { CALLBACK, expectPage, listeningApp, registerApplication, relyingParty, UserAgent } from './support.ts';
import type { ListeningApp } from './support.ts';

// Applications (issue 13) as an account's admin manages them: the console's
// pages and the admin API, over real HTTP against a listening Portcullis on
// both stores; and the home page's launcher as a user sees it.

const BASE = '/manage/console/applications';

function decode(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
}

function code(html: string, id: string): string | undefined {
  return new RegExp(`<code id="${id}">([^<]+)</code>`).exec(html)?.[1];
}

/** The token endpoint's answer to a refresh grant with a token that never was: invalid_client when the client's secret is refused, invalid_grant when it is accepted. */
async function tokenEndpointVerdict(base: string, clientId: string, secret: string): Promise<string> {
  const config = await relyingParty(base, clientId, secret);
  try {
    await oidc.refreshTokenGrant(config, 'no-such-refresh-token');
  } catch (e) {
    // A refused client answers 401 with the error in its WWW-Authenticate challenge (RFC 6749 §5.2).
    const err = e as { error?: unknown; cause?: unknown };
    if (typeof err.error === 'string') return err.error;
    const challenge = Array.isArray(err.cause) ? (err.cause as Array<{ parameters?: { error?: string } }>)[0] : undefined;
    return String(challenge?.parameters?.error);
  }
  return 'accepted';
}

describe.each(await storeKinds())('Applications: console pages and admin API (%s)', (kind) => {
  let t: ListeningApp;
  let tenant: Tenant;
  let other: Tenant;
  let admin: UserAgent;
  let otherAdmin: UserAgent;
  let agent: UserAgent;

  async function signedIn(accountId: string, username: string): Promise<UserAgent> {
    const ua = new UserAgent(t.base);
    const login = expectPage(await ua.follow('/login'));
    const home = expectPage(await ua.submit(login, '/login', { accountId, username, password: PASSWORD }));
    expect(home.url.pathname, `${username} signed in`).toBe('/');
    return ua;
  }

  async function page(ua: UserAgent, path: string) {
    const res = await ua.request(path);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** A form post of the page at `from` (its CSRF token), not followed. */
  async function post(ua: UserAgent, from: string, action: string, fields: Record<string, string>) {
    const html = (await page(ua, from)).body;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const res = await ua.request(action, { form: { _csrf: csrf, ...fields } });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  async function api(ua: UserAgent, method: string, path: string, body?: unknown) {
    const res = await fetch(new URL(path, t.base), {
      method,
      headers: { cookie: [...ua.jar].map(([k, v]) => `${k}=${v}`).join('; '), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  }

  async function auditActions(accountId: string): Promise<string[]> {
    const rows = await t.db.database.db.selectFrom('audit_events').select('action').where('account_id', '=', accountId).execute();
    return rows.map((r) => r.action);
  }

  beforeAll(async () => {
    t = await listeningApp(kind);
    tenant = await seedTenant(t.deps, 'Acme Support');
    other = await seedTenant(t.deps, 'Other Co');
    admin = await signedIn(tenant.accountId, 'alice');
    otherAdmin = await signedIn(other.accountId, 'alice');
    agent = await signedIn(tenant.accountId, 'bob');
  }, 60_000);
  afterAll(async () => t?.close());

  it('is reached from Admin & Secure and found by Search settings as application, OIDC or client', async () => {
    const secure = await page(admin, '/manage/console/admin-secure');
    expect(secure.body).toContain(`<a href="${BASE}">Applications</a>`);
    for (const q of ['application', 'OIDC', 'client', 'Applications']) {
      const found = await page(admin, `/manage/console?q=${encodeURIComponent(q)}`);
      expect(found.body, q).toContain(`<a href="${BASE}">Applications</a>`);
    }
  });

  it('adds a confidential application, shows its secret once on a no-store page, lists it, and the secret works at the token endpoint', async () => {
    const form = await page(admin, `${BASE}/new`);
    expect(form.status).toBe(200);
    expect(form.body).toContain('<label for="public">Public client</label>');
    const made = await post(admin, `${BASE}/new`, BASE, {
      appName: 'Knowledge Base',
      redirectUris: `${CALLBACK}\nhttps://kb.example.com/callback`,
      postLogoutRedirectUris: 'https://kb.example.com/bye',
      backchannelLogoutUri: 'https://kb.example.com/backchannel',
      launchUrl: 'https://kb.example.com/',
    });
    expect(made.status).toBe(200);
    expect(made.headers.get('cache-control')).toBe('no-store');
    const clientId = code(made.body, 'client-id')!;
    const secret = code(made.body, 'client-secret')!;
    expect(clientId).toMatch(/^[0-9a-f]{32}$/);
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect(made.body).toContain('shown only this once');

    const list = await page(admin, BASE);
    expect(list.body).toContain('Knowledge Base');
    expect(list.body).toContain(clientId);
    expect(list.body).toContain('Confidential');
    expect(decode(list.body)).toContain('https://kb.example.com/callback');
    // The secret is never shown again.
    expect(list.body).not.toContain(secret);
    expect((await page(admin, `${BASE}/${clientId}`)).body).not.toContain(secret);
    expect(await tokenEndpointVerdict(t.base, clientId, secret)).toBe('invalid_grant');
    expect(await auditActions(tenant.accountId)).toContain('application.created');
  });

  it('adds a public client without a secret, and offers it no Rotate secret', async () => {
    const made = await post(admin, `${BASE}/new`, BASE, { appName: 'Wallboard SPA', redirectUris: 'http://localhost:5173/cb', public: 'on' });
    expect(made.status).toBe(200);
    const clientId = code(made.body, 'client-id')!;
    expect(code(made.body, 'client-secret')).toBeUndefined();
    const edit = await page(admin, `${BASE}/${clientId}`);
    expect(edit.body).toContain('Public client');
    expect(edit.body).not.toContain('Rotate secret');
    expect((await post(admin, `${BASE}/${clientId}`, `${BASE}/${clientId}/rotate-secret`, {})).status).toBe(409);
    const got = await api(admin, 'GET', `/api/v1/applications/${clientId}`);
    expect(got.json.public).toBe(true);
  });

  it('refuses bad input per field with clear messages and writes nothing', async () => {
    const before = await api(admin, 'GET', '/api/v1/applications');
    const bad = await post(admin, `${BASE}/new`, BASE, {
      appName: '',
      redirectUris: 'http://example.com/cb\nhttps://ok.example.com/cb#frag',
      launchUrl: 'javascript:alert(1)',
    });
    expect(bad.status).toBe(400);
    const html = decode(bad.body);
    expect(html).toMatch(/<ul id="name-error" class="error" role="alert"><li>Name: 1 to 100 characters\.<\/li>/);
    expect(html).toContain('must use https:// (http:// only for localhost). (http://example.com/cb)');
    expect(html).toContain('must not have a fragment');
    expect(html).toMatch(/id="launchUrl-error"[^>]*><li>The launch URL must start with https:\/\/\./);
    // What was typed is kept.
    expect(html).toContain('http://example.com/cb');
    expect((await api(admin, 'GET', '/api/v1/applications')).json).toEqual(before.json);
    // No CSRF token: refused, nothing written.
    const forged = await admin.request(BASE, { form: { appName: 'Forged', redirectUris: CALLBACK } });
    expect(forged.status).toBe(403);
    expect((await api(admin, 'GET', '/api/v1/applications')).json).toEqual(before.json);
  });

  it('edits an application (audited), rotates its secret so the old one is refused at the token endpoint, and deletes it after a confirmation', async () => {
    const made = await registerApplication(t, tenant.accountId, { name: 'Reports' });
    const path = `${BASE}/${made.clientId}`;
    const edit = await page(admin, path);
    expect(edit.status).toBe(200);
    expect(edit.body).toContain(made.clientId);

    const invalid = await post(admin, path, path, { appName: 'Reports', redirectUris: '' });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toContain('Add at least one redirect URI.');
    expect((await api(admin, 'GET', `/api/v1/applications/${made.clientId}`)).json.redirectUris).toEqual([CALLBACK]);

    const saved = await post(admin, path, path, { appName: 'Reporting', redirectUris: `${CALLBACK}\nhttps://reports.example.com/cb`, launchUrl: 'https://reports.example.com/' });
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe(`${path}?notice=saved`);
    const after = (await api(admin, 'GET', `/api/v1/applications/${made.clientId}`)).json;
    expect(after).toMatchObject({ name: 'Reporting', redirectUris: [CALLBACK, 'https://reports.example.com/cb'], launchUrl: 'https://reports.example.com/', public: false });
    expect(await auditActions(tenant.accountId)).toContain('application.updated');

    const rotated = await post(admin, path, `${path}/rotate-secret`, {});
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    const fresh = code(rotated.body, 'client-secret')!;
    expect(fresh).not.toBe(made.clientSecret);
    expect(await tokenEndpointVerdict(t.base, made.clientId, made.clientSecret!)).toBe('invalid_client');
    expect(await tokenEndpointVerdict(t.base, made.clientId, fresh)).toBe('invalid_grant');

    const confirm = await page(admin, `${path}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Delete Reporting?');
    const gone = await post(admin, `${path}/delete`, `${path}/delete`, {});
    expect(gone.status).toBe(303);
    expect(gone.headers.get('location')).toBe(`${BASE}?notice=deleted`);
    expect((await page(admin, BASE)).body).not.toContain(made.clientId);
    expect((await page(admin, path)).status).toBe(404);
    expect(await tokenEndpointVerdict(t.base, made.clientId, fresh)).toBe('invalid_client');
    expect(await auditActions(tenant.accountId)).toEqual(expect.arrayContaining(['application.secret_rotated', 'application.deleted']));
  });

  it('API: create, list, get, patch, rotate, delete; the rotated-out secret is refused at the token endpoint', async () => {
    const created = await api(admin, 'POST', '/api/v1/applications', { name: 'Wiki', redirectUris: [CALLBACK], launchUrl: 'https://wiki.example.com/' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { clientId, clientSecret } = created.json as { clientId: string; clientSecret: string };
    expect(typeof clientSecret).toBe('string');

    const list = await api(admin, 'GET', '/api/v1/applications');
    expect((list.json.applications as Array<{ clientId: string }>).map((a) => a.clientId)).toContain(clientId);

    const patched = await api(admin, 'PATCH', `/api/v1/applications/${clientId}`, { name: 'Team Wiki', backchannelLogoutUri: 'https://wiki.example.com/bc' });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ clientId, name: 'Team Wiki', redirectUris: [CALLBACK], backchannelLogoutUri: 'https://wiki.example.com/bc', launchUrl: 'https://wiki.example.com/' });
    const refused = await api(admin, 'PATCH', `/api/v1/applications/${clientId}`, { redirectUris: ['ftp://wiki.example.com/cb'] });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe('invalid_request');
    expect(String(refused.json.message)).toContain('must start with https://');
    expect((await api(admin, 'GET', `/api/v1/applications/${clientId}`)).json.redirectUris).toEqual([CALLBACK]);
    expect((await api(admin, 'POST', '/api/v1/applications', { name: 'X', redirectUris: [CALLBACK], extra: 1 })).status).toBe(400);

    const rotated = await api(admin, 'POST', `/api/v1/applications/${clientId}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const fresh = rotated.json.clientSecret as string;
    expect(await tokenEndpointVerdict(t.base, clientId, clientSecret)).toBe('invalid_client');
    expect(await tokenEndpointVerdict(t.base, clientId, fresh)).toBe('invalid_grant');

    expect((await api(admin, 'DELETE', `/api/v1/applications/${clientId}`)).status).toBe(204);
    expect((await api(admin, 'GET', `/api/v1/applications/${clientId}`)).status).toBe(404);
    expect((await api(admin, 'DELETE', `/api/v1/applications/${clientId}`)).status).toBe(404);
  });

  it('answers 404 for another account’s client id, on pages and API, and changes nothing', async () => {
    const theirs = await registerApplication(t, other.accountId, { name: 'Their App' });
    for (const [method, path, body] of [
      ['GET', `/api/v1/applications/${theirs.clientId}`, undefined],
      ['PATCH', `/api/v1/applications/${theirs.clientId}`, { name: 'Hijacked' }],
      ['POST', `/api/v1/applications/${theirs.clientId}/rotate-secret`, undefined],
      ['DELETE', `/api/v1/applications/${theirs.clientId}`, undefined],
    ] as const) {
      const res = await api(admin, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json.error).toBe('not_found');
    }
    expect((await page(admin, `${BASE}/${theirs.clientId}`)).status).toBe(404);
    expect((await post(admin, BASE, `${BASE}/${theirs.clientId}/delete`, {})).status).toBe(404);
    expect((await post(admin, BASE, `${BASE}/${theirs.clientId}/rotate-secret`, {})).status).toBe(404);
    expect((await api(admin, 'GET', '/api/v1/applications')).json.applications).not.toContainEqual(expect.objectContaining({ clientId: theirs.clientId }));
    const still = await api(otherAdmin, 'GET', `/api/v1/applications/${theirs.clientId}`);
    expect(still.json.name).toBe('Their App');
    expect(await tokenEndpointVerdict(t.base, theirs.clientId, theirs.clientSecret!)).toBe('invalid_grant');
  });

  it('documents every Applications endpoint in /api/openapi.json, as an admin operation', async () => {
    const doc = (await (await fetch(`${t.base}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { tags?: string[]; requestBody?: unknown }>> };
    for (const [path, method] of [
      ['/api/v1/applications', 'get'],
      ['/api/v1/applications', 'post'],
      ['/api/v1/applications/{id}', 'get'],
      ['/api/v1/applications/{id}', 'patch'],
      ['/api/v1/applications/{id}', 'delete'],
      ['/api/v1/applications/{id}/rotate-secret', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method]?.tags, `${method} ${path}`).toContain('admin');
    }
    expect(doc.paths['/api/v1/applications']?.post?.requestBody).toBeTruthy();
  });

  it('refuses an agent (403) on the pages and the API', async () => {
    expect((await page(agent, BASE)).status).toBe(403);
    expect((await page(agent, `${BASE}/new`)).status).toBe(403);
    expect((await api(agent, 'GET', '/api/v1/applications')).status).toBe(403);
    expect((await api(agent, 'POST', '/api/v1/applications', { name: 'Mine', redirectUris: [CALLBACK] })).status).toBe(403);
  });

  it('lists on the home page only the own account’s applications that have a launch URL, each a link to it', async () => {
    await registerApplication(t, tenant.accountId, { name: 'Agent Desk', launchUrl: 'https://desk.example.com/start' });
    await registerApplication(t, tenant.accountId, { name: 'Hidden Backend' });
    await registerApplication(t, other.accountId, { name: 'Other Launchpad', launchUrl: 'https://other.example.com/' });
    const home = await page(agent, '/');
    expect(home.body).toContain('<h2 id="apps-title">Your applications</h2>');
    const launcher = /<section aria-labelledby="apps-title">([\s\S]*?)<\/section>/.exec(home.body)?.[1] ?? '';
    expect(launcher).toContain('<a href="https://desk.example.com/start">Agent Desk</a>');
    expect(launcher).not.toContain('Hidden Backend');
    expect(home.body).not.toContain('Other Launchpad');
    const theirHome = await page(otherAdmin, '/');
    expect(theirHome.body).toContain('<a href="https://other.example.com/">Other Launchpad</a>');
    expect(theirHome.body).not.toContain('Agent Desk');
  });
});
