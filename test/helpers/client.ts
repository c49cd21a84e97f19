import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createAccount } from '../../src/services/accounts.ts';
import { createUser } from '../../src/services/users.ts';
import type { Deps } from '../../src/services/deps.ts';

/**
 * A browser in miniature over app.inject(): keeps cookies, reads the CSRF
 * token from the last page's form, and sends its own Origin like a browser.
 */
export class TestBrowser {
  cookies = new Map<string, string>();
  csrf = '';
  origin: string | undefined;

  constructor(
    private app: FastifyInstance,
    readonly host = '127.0.0.1:3000',
    readonly ip = '127.0.0.1',
  ) {
    this.origin = `http://${host}`;
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(res: LightMyRequestResponse) {
    for (const c of res.cookies) {
      const expired = c.expires !== undefined && c.expires.getTime() < Date.now();
      if (c.value === '' || expired || c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (token?.[1]) this.csrf = token[1];
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { host: this.host, cookie: this.cookieHeader() } });
    this.remember(res);
    return res;
  }

  /** Posts a form; a list is sent as repeated fields (checkboxes). */
  async post(url: string, fields: Record<string, string | string[]>, opts: { csrf?: string | null; origin?: string | null } = {}) {
    const body = new URLSearchParams(Object.entries(fields).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])));
    const csrf = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (csrf !== null) body.set('_csrf', csrf);
    const origin = opts.origin === undefined ? this.origin : opts.origin;
    const res = await this.app.inject({
      method: 'POST',
      url,
      remoteAddress: this.ip,
      headers: {
        host: this.host,
        cookie: this.cookieHeader(),
        'content-type': 'application/x-www-form-urlencoded',
        ...(origin ? { origin } : {}),
      },
      payload: body.toString(),
    });
    this.remember(res);
    return res;
  }

  async json(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) {
    const res = await this.app.inject({
      method,
      url,
      remoteAddress: this.ip,
      headers: {
        host: this.host,
        cookie: this.cookieHeader(),
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
    this.remember(res);
    return res;
  }

  /** Opens /login and signs in through the form. */
  async signIn(accountId: string, username: string, password: string) {
    await this.get('/login');
    return this.post('/login', { accountId, username, password });
  }
}

export const PASSWORD = 'correct horse battery staple';

export interface Tenant {
  accountId: string;
  adminId: string;
  agentId: string;
  managerId: string;
}

/** An account with an admin "alice", an agent-manager "mia" and an agent "bob", all with PASSWORD. */
export async function seedTenant(deps: Deps, name = 'Acme Support'): Promise<Tenant> {
  const cli = { userId: null, label: 'test', ip: null };
  const account = await createAccount(deps, { name, adminUsername: 'alice', adminPassword: PASSWORD }, cli);
  if (!account.ok) throw new Error(account.errors.join('; '));
  const agent = await createUser(deps, account.accountId, { username: 'bob', role: 'agent', password: PASSWORD, skills: ['Billing'] }, cli, 'user');
  const manager = await createUser(deps, account.accountId, { username: 'mia', role: 'agent-manager', password: PASSWORD }, cli, 'user');
  if (!agent.ok || !manager.ok) throw new Error('seed failed');
  return { accountId: account.accountId, adminId: account.adminUserId, agentId: agent.userId, managerId: manager.userId };
}
