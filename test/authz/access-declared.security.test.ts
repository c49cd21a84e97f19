import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { describe, expect, it } from 'vitest';
import { accessPlugin } from '../../src/http/access.ts';

// A route that does not say who may call it must not start: the access plugin
// refuses it when it is registered, so buildApp (and the service) fails at
// start-up instead of serving a route nobody decided about.

async function appWith(route: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify();
  // Stands in for the session plugin, which the access plugin depends on.
  await app.register(fp(async (inner) => void inner.decorateRequest('auth', null), { name: 'portcullis-session' }));
  await app.register(accessPlugin);
  await app.register(async (routes) => route(routes));
  return app;
}

describe('every route declares its access', () => {
  it('refuses a route that declares none, at start-up', async () => {
    await expect(appWith((routes) => routes.get('/undeclared', async () => 'nobody decided'))).rejects.toThrow(/GET \/undeclared declares no access/);
  });

  it('refuses a declaration it does not know (a permission roles.ts lacks)', async () => {
    const config = { access: { permission: 'rule-the-world' } } as unknown as { access: 'public' };
    await expect(appWith((routes) => routes.post('/unknown-permission', { config }, async () => 'no'))).rejects.toThrow(/POST \/unknown-permission declares no access/);
  });

  it('starts with a declared route and answers it', async () => {
    const app = await appWith((routes) => routes.get('/declared', { config: { access: 'public' } }, async () => 'yes'));
    await app.ready();
    expect((await app.inject({ method: 'GET', url: '/declared' })).body).toBe('yes');
    expect((await app.inject({ method: 'HEAD', url: '/declared' })).statusCode).toBe(200);
    await app.close();
  });
});
