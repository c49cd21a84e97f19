import type { FastifyInstance, RouteOptions } from 'fastify';
import type * as fastify from 'fastify';

// The route table of the real app, as Fastify itself announces it. buildApp
// creates its Fastify instance and registers every route inside, so there is
// no moment to add an onRoute hook from outside. The matrix test therefore
// mocks the `fastify` module with this wrapper (vi.mock): every instance gets
// an onRoute hook before anything registers, and the hook sees each route
// exactly as registered (prefix included, Fastify's own HEAD siblings too),
// with the access it declares: the matrix reads who may call it from there.
// Nothing in src/ is changed or patched; buildApp runs as it does in production.

export interface RouteKey {
  method: string;
  url: string;
  /** What the route declares in config.access (src/http/access.ts), as registered. */
  access: unknown;
}

type FastifyModule = typeof fastify;

const tables = new WeakMap<object, RouteKey[]>();

/** The module `fastify` with a factory that records each instance's routes. */
export function withRouteTable(mod: FastifyModule): FastifyModule {
  const original = mod.default as unknown as (...args: unknown[]) => FastifyInstance;
  const tracked = (...args: unknown[]): FastifyInstance => {
    const app = original(...args);
    const routes: RouteKey[] = [];
    tables.set(app, routes);
    app.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) routes.push({ method: String(method).toUpperCase(), url: route.url, access: route.config?.access });
    });
    return app;
  };
  return { ...mod, default: tracked, fastify: tracked } as unknown as FastifyModule;
}

/** Every route the app registered, as "METHOD url", sorted; throws if the app was not built through the wrapper. */
export function routeTable(app: FastifyInstance): RouteKey[] {
  const routes = tables.get(app);
  if (!routes) throw new Error('this app was not created through withRouteTable: is vi.mock("fastify") in place?');
  return [...routes].sort((x, y) => `${x.url} ${x.method}`.localeCompare(`${y.url} ${y.method}`));
}
