/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isId } from '../../domain/ids.ts';
import { createApplication, deleteApplication, getApplication, listApplications, rotateApplicationSecret, updateApplication } from '../../services/applications.ts';
import type { Application } from '../../services/applications.ts';
import type { Principal } from '../../services/principal.ts';
import { actorOf } from '../actor.ts';
import { principalOf } from '../access.ts';
import { AppError } from '../app-error.ts';
import { csrfToken, formField } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { viewerOf } from '../viewer.ts';
import { ApplicationFormPage, ApplicationSecretPage, ApplicationsPage, DeleteApplicationPage, applicationFormOf, emptyApplicationForm, errorsByField } from '../views/applications.tsx';
import type { ApplicationForm } from '../views/applications.tsx';
import { renderPage } from '../views/layout.tsx';

// Manage → Management Console → Admin & Secure → Applications (issue 13):
// the account's OpenID Connect clients, for its admins. A secret is shown once,
// on a page that is never cached (no-store), after create and rotate.

const base = '/manage/console/applications';
const access = { permission: 'manageAccount' } as const;
const notices: Record<string, string> = { saved: 'Saved.', deleted: 'Application deleted.' };

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
}

function readForm(body: unknown): ApplicationForm {
  return {
    name: formField(body, 'appName'),
    redirectUris: formField(body, 'redirectUris'),
    postLogoutRedirectUris: formField(body, 'postLogoutRedirectUris'),
    backchannelLogoutUri: formField(body, 'backchannelLogoutUri'),
    launchUrl: formField(body, 'launchUrl'),
    public: formField(body, 'public') === 'on',
  };
}

function draftOf(form: ApplicationForm) {
  return {
    name: form.name,
    redirectUris: lines(form.redirectUris),
    postLogoutRedirectUris: lines(form.postLogoutRedirectUris),
    backchannelLogoutUri: form.backchannelLogoutUri,
    launchUrl: form.launchUrl,
    public: form.public,
  };
}

export async function applicationPages(app: FastifyInstance, { deps }: RouteContext) {
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  /** The application named in the URL, within the admin's own account; 404 otherwise (also across accounts). */
  async function target(request: FastifyRequest, auth: Principal): Promise<Application> {
    const id = (request.params as { id: string }).id;
    const found = isId(id) ? await getApplication(deps, auth.account.id, id) : undefined;
    if (!found) throw new AppError('not_found');
    return found;
  }

  app.get(base, { config: { access } }, async (request, reply) => {
    const auth = principalOf(request);
    const raw = (request.query as Record<string, unknown>).notice;
    const notice = typeof raw === 'string' && Object.hasOwn(notices, raw) ? notices[raw] : undefined;
    const applications = await listApplications(deps, auth.account.id);
    return html(reply, 200, renderPage(<ApplicationsPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} applications={applications} notice={notice} />));
  });

  app.get(`${base}/new`, { config: { access } }, async (request, reply) => {
    const auth = principalOf(request);
    return html(reply, 200, renderPage(<ApplicationFormPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} form={emptyApplicationForm} />));
  });

  app.post(base, { config: { access }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const form = readForm(request.body);
    const result = await createApplication(deps, auth.account.id, draftOf(form), actorOf(auth, request));
    const csrf = csrfToken(request, reply);
    if (!result.ok) {
      if (result.reason === 'not_found') throw new AppError('not_found');
      return html(reply, 400, renderPage(<ApplicationFormPage csrf={csrf} viewer={viewerOf(auth)} form={{ ...form, errors: errorsByField(result.errors) }} />));
    }
    noStore(reply);
    return html(
      reply,
      200,
      renderPage(<ApplicationSecretPage csrf={csrf} viewer={viewerOf(auth)} name={form.name.trim()} clientId={result.clientId} clientSecret={result.clientSecret} created />),
    );
  });

  app.get(`${base}/:id`, { config: { access } }, async (request, reply) => {
    const auth = principalOf(request);
    const found = await target(request, auth);
    const raw = (request.query as Record<string, unknown>).notice;
    const notice = typeof raw === 'string' && raw === 'saved' ? notices.saved : undefined;
    return html(reply, 200, renderPage(<ApplicationFormPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} form={applicationFormOf(found)} clientId={found.id} notice={notice} />));
  });

  app.post(`${base}/:id`, { config: { access }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const found = await target(request, auth);
    const form = { ...readForm(request.body), public: found.secretHash === null };
    const { public: _public, ...draft } = draftOf(form);
    const result = await updateApplication(deps, auth.account.id, found.id, draft, actorOf(auth, request));
    if (!result.ok) {
      if (result.reason === 'not_found') throw new AppError('not_found');
      return html(
        reply,
        400,
        renderPage(<ApplicationFormPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} form={{ ...form, errors: errorsByField(result.errors) }} clientId={found.id} />),
      );
    }
    return reply.redirect(`${base}/${found.id}?notice=saved`, 303);
  });

  app.post(`${base}/:id/rotate-secret`, { config: { access }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const found = await target(request, auth);
    const result = await rotateApplicationSecret(deps, auth.account.id, found.id, actorOf(auth, request));
    if (!result.ok) {
      if (result.reason === 'public_client') throw new AppError('conflict', 'A public client has no secret to rotate.');
      throw new AppError('not_found');
    }
    noStore(reply);
    return html(
      reply,
      200,
      renderPage(<ApplicationSecretPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} name={found.name} clientId={found.id} clientSecret={result.clientSecret} created={false} />),
    );
  });

  app.get(`${base}/:id/delete`, { config: { access } }, async (request, reply) => {
    const auth = principalOf(request);
    const found = await target(request, auth);
    return html(reply, 200, renderPage(<DeleteApplicationPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} application={found} />));
  });

  app.post(`${base}/:id/delete`, { config: { access }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const found = await target(request, auth);
    const result = await deleteApplication(deps, auth.account.id, found.id, actorOf(auth, request));
    if (!result.ok) throw new AppError('not_found');
    return reply.redirect(`${base}?notice=deleted`, 303);
  });
}
