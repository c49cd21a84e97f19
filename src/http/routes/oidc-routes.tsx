/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import middie from '@fastify/middie';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OIDC_PREFIX, accountOfClient, asksForMfa, clientAddresses, loginResult } from '../../services/oidc/index.ts';
import type { InteractionContext, Oidc } from '../../services/oidc/index.ts';
import { secondFactorVerifiedAt } from '../../domain/auth-methods.ts';
import type { CookieSettings } from '../plugins/session.ts';
import { renderPage } from '../views/layout.tsx';
import { MessagePage } from '../views/message.tsx';
import { LoggedOutPage, LogoutPage, OidcErrorPage } from '../views/oidc.tsx';
import { allowFormTargets, originsOf } from '../plugins/security.ts';
import type { RouteContext } from '../route-context.ts';
import { CONTINUE_COOKIE } from '../next-step.ts';

// The provider's endpoints (/.well-known/openid-configuration and /oidc/…)
// are oidc-provider's own, mounted through @fastify/middie after the
// known-hosts, forwarded-for, session and security-header hooks, so its
// answers carry the same headers as our pages. The interaction (the sign-in
// an application sends a user to) is ours: /oidc/interaction/:uid decides
// whether the browser's Portcullis session answers it (single sign-on) or the
// user signs in on our pages first, which then come back here.

const INTERACTION_PATH = `${OIDC_PREFIX}/interaction/`;

/** The cookie that carries a pending interaction through our sign-in pages (next-step.ts reads it). */
export function continueCookieName(cookie: CookieSettings): string {
  return cookie.secure ? CONTINUE_COOKIE.secure : CONTINUE_COOKIE.plain;
}

const UID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The interaction a sign-in under way is for, from its cookie, and which
 * session the browser had when it was sent to sign in ('-' for none): a
 * session other than that one was made for this interaction.
 */
function continueMarker(request: FastifyRequest, cookie: CookieSettings): { uid: string; before: string } | undefined {
  const [uid, before, extra] = (request.cookies[continueCookieName(cookie)] ?? '').split('.');
  if (!uid || !UID.test(uid) || before === undefined || !/^(-|[0-9a-f]{16})$/.test(before) || extra !== undefined) return undefined;
  return { uid, before };
}

/** The interaction a sign-in under way is for; undefined for a plain sign-in to Portcullis. */
export function pendingInteraction(request: FastifyRequest, cookie: CookieSettings): string | undefined {
  return continueMarker(request, cookie)?.uid;
}

function sessionMark(sessionId: string | undefined): string {
  return sessionId ? sessionId.slice(0, 16) : '-';
}


/** The application a sign-in under way is for, or undefined (and the stale cookie is dropped). */
export async function applicationContext(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: RouteContext,
): Promise<InteractionContext | undefined> {
  const uid = pendingInteraction(request, ctx.cookie);
  if (!uid || !ctx.oidc) return undefined;
  const found = await ctx.oidc.interaction(uid);
  if (!found) reply.clearCookie(continueCookieName(ctx.cookie), { path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.cookie.secure });
  return found;
}

function isProviderPath(url: string | undefined): boolean {
  if (!url) return false;
  const path = url.split('?', 1)[0] ?? '';
  if (path === '/.well-known/openid-configuration') return true;
  return path.startsWith(`${OIDC_PREFIX}/`) && !path.startsWith(INTERACTION_PATH);
}

function messagePage(reply: FastifyReply, status: number, title: string, message: string) {
  return reply.code(status).type('text/html; charset=utf-8').send(renderPage(<MessagePage title={title} message={message} csrf="" alert />));
}

/**
 * Mounts the provider on the root instance (middie's middlewares apply to the
 * context they are registered in; the provider's paths are no route of ours).
 */
export async function mountProvider(app: FastifyInstance, oidc: Oidc): Promise<void> {
  // Before middie's hook: the provider's checks read the address our hooks trust.
  app.addHook('onRequest', async (request) => {
    if (isProviderPath(request.raw.url)) clientAddresses.set(request.raw, request.ip);
  });
  await app.register(middie);
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (!isProviderPath(req.url)) {
      next();
      return;
    }
    oidc.handle(req, res);
  });
}

export async function oidcRoutes(app: FastifyInstance, ctx: RouteContext & { oidc: Oidc }) {
  const { cookie, oidc } = ctx;

  app.get<{ Params: { uid: string } }>(`${INTERACTION_PATH}:uid`, { config: { access: 'public' } }, async (request, reply) => {
    const provider = oidc.current();
    let details;
    try {
      details = await provider.interactionDetails(request.raw, reply.raw);
    } catch {
      return messagePage(reply, 404, 'This sign-in has expired', 'Go back to the application and sign in again.');
    }
    if (details.uid !== request.params.uid) {
      return messagePage(reply, 404, 'This sign-in has expired', 'Go back to the application and sign in again.');
    }
    const client = await provider.Client.find(String(details.params.client_id));
    const accountId = accountOfClient(client);
    if (!client || !accountId) return messagePage(reply, 400, 'Unknown application', 'This application is not registered.');

    const auth = request.auth;
    const reasons = details.prompt.reasons;
    const full = auth?.session.state === 'full' && auth.account.id === accountId ? auth : undefined;
    if (full) {
      // prompt=login, an exceeded max_age or a hint for someone else want a
      // sign-in made for this interaction, not the one the browser had.
      const marker = continueMarker(request, cookie);
      const fresh = marker?.uid === details.uid && marker.before !== sessionMark(full.session.id);
      const needsFresh = reasons.some((r) => r === 'login_prompt' || r === 'max_age' || r === 'id_token_hint');
      const wantsMfa = asksForMfa(details.params.acr_values);
      const hasMfa = secondFactorVerifiedAt(full.session.methods) !== null;
      if ((fresh || !needsFresh) && (!wantsMfa || hasMfa)) {
        reply.hijack();
        reply.raw.appendHeader('set-cookie', `${continueCookieName(cookie)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${cookie.secure ? '; Secure' : ''}`);
        const login = loginResult(full);
        if (details.prompt.name === 'consent') {
          // First-party: never asked (loadExistingGrant makes the grant); answered here should the provider still ask.
          const grant = new provider.Grant({ accountId: full.user.id, clientId: client.clientId });
          grant.addOIDCScope(String(details.params.scope ?? 'openid'));
          await provider.interactionFinished(request.raw, reply.raw, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
          return;
        }
        await provider.interactionFinished(request.raw, reply.raw, { login }, { mergeWithLastSubmission: false });
        return;
      }
      if (fresh && wantsMfa && !hasMfa) {
        return messagePage(
          reply,
          403,
          'A second factor is required',
          'This application asks for a sign-in with a second factor, and this sign-in had none. Go back to the application and sign in again.',
        );
      }
    }
    if (details.params.prompt === 'none') {
      // Unreachable in practice (the provider answers login_required itself), kept as the rule.
      reply.hijack();
      await provider.interactionFinished(request.raw, reply.raw, { error: 'login_required' }, { mergeWithLastSubmission: false });
      return;
    }
    // Sign in on our pages first; they come back here when the session is full.
    reply.setCookie(continueCookieName(cookie), `${details.uid}.${sessionMark(auth?.session.id)}`, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: cookie.secure,
      maxAge: 10 * 60,
    });
    return reply.redirect('/login', 303);
  });
}

type ProviderCtx = { type: string; body: unknown; res: ServerResponse; oidc?: { params?: Record<string, unknown>; client?: { clientName?: string | undefined; clientId: string } | undefined } };

/** The provider's own pages, rendered in our layout. */
export const providerPages = {
  async renderError(ctx: ProviderCtx, out: { error: string; error_description?: string | undefined }) {
    ctx.type = 'html';
    ctx.body = renderPage(<OidcErrorPage error={out.error} description={out.error_description} />);
  },
  async logoutSource(ctx: ProviderCtx, form: string) {
    const target = ctx.oidc?.params?.post_logout_redirect_uri;
    allowFormTargets(ctx.res, originsOf(typeof target === 'string' ? [target] : []));
    ctx.type = 'html';
    ctx.body = renderPage(<LogoutPage form={form} applicationName={ctx.oidc?.client?.clientName} />);
  },
  async postLogoutSuccessSource(ctx: ProviderCtx) {
    ctx.type = 'html';
    ctx.body = renderPage(<LoggedOutPage applicationName={ctx.oidc?.client?.clientName} />);
  },
};
