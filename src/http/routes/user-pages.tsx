/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isId } from '../../domain/ids.ts';
import { isMfaFilterName } from '../../domain/mfa-state.ts';
import { changesAdminStanding } from '../../domain/roles.ts';
import { AppError } from '../app-error.ts';
import type { Principal } from '../../services/principal.ts';
import { resetMfa } from '../../services/mfa-reset.ts';
import { forgetUserBrowsers, listRememberedBrowsers } from '../../services/remembered-browsers.ts';
import { issuePasswordReset } from '../../services/password-reset.ts';
import { resetBaseUrl } from '../reset-base-url.ts';
import { ResetLinkPage } from '../views/password-reset.tsx';
import { accountSkills, createSkill, getUser, listUsers, updateUser } from '../../services/user-directory.ts';
import type { UserDetail } from '../../services/user-directory.ts';
import { createUser } from '../../services/users.ts';
import { actorOf } from '../actor.ts';
import { principalOf } from '../access.ts';
import { viewerOf } from '../viewer.ts';
import { renderPage } from '../views/layout.tsx';
import { EditUserPage, ResetConfirmPage, UsersPage } from '../views/users.tsx';
import { csrfToken, formField, formFields, noticeFor } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { requirePageStepUp } from '../step-up-gate.tsx';


export async function userPages(app: FastifyInstance, { deps }: RouteContext) {
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

  /** The user named in the URL, within the admin's own account; 404 otherwise (also across accounts). */
  async function targetUser(request: FastifyRequest, auth: Principal): Promise<UserDetail> {
    const id = (request.params as { id: string }).id;
    const user = isId(id) ? await getUser(deps, auth.account.id, id) : undefined;
    if (!user) throw new AppError('not_found');
    return user;
  }

  async function usersPage(request: FastifyRequest, reply: FastifyReply, auth: Principal, status = 200, extra: { notice?: string; error?: string } = {}) {
    const query = request.query as Record<string, unknown>;
    const search = typeof query.q === 'string' ? query.q.slice(0, 64) : '';
    const mfa = isMfaFilterName(query.mfa) ? query.mfa : undefined;
    const pageNumber = typeof query.page === 'string' && /^\d{1,6}$/.test(query.page) ? Number(query.page) : 1;
    const [page, skills] = await Promise.all([
      listUsers(deps, auth.account.id, { search, ...(mfa ? { mfa } : {}), page: pageNumber }),
      accountSkills(deps, auth.account.id),
    ]);
    const notice = extra.notice ?? (query.notice === 'skill' ? 'Skill created.' : undefined);
    return html(
      reply,
      status,
      renderPage(
        <UsersPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} page={page} search={search} mfa={mfa ?? ''} skills={skills} notice={notice} error={extra.error} />,
      ),
    );
  }

  async function editPage(request: FastifyRequest, reply: FastifyReply, auth: Principal, user: UserDetail, status = 200, errors?: string[]) {
    const notices: Record<string, string> = {
      reset: `MFA was reset for ${user.username}. Their factors and recovery codes are revoked; they will set up MFA again at their next sign-in.`,
      saved: 'Saved.',
      created: `User ${user.username} was created.`,
      'reset-sent': `A Reset password link was e-mailed to ${user.username}.`,
      'browsers-forgotten': `Every remembered browser of ${user.username} is forgotten: their next sign-in asks for a code.`,
    };
    const notice = noticeFor(notices, (request.query as Record<string, unknown>).notice);
    const [skills, remembered] = await Promise.all([accountSkills(deps, auth.account.id), listRememberedBrowsers(deps, auth.account.id, user.id)]);
    return html(
      reply,
      status,
      renderPage(
        <EditUserPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} user={user} skills={skills} notice={notice} errors={errors} rememberedBrowsers={remembered.length} />,
      ),
    );
  }

  app.get('/manage/users', { config: { access: { permission: 'manageUsers' } } }, async (request, reply) => usersPage(request, reply, principalOf(request)));

  app.post('/manage/users', { config: { access: { permission: 'manageUsers' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const role = formField(request.body, 'role');
    if (changesAdminStanding(undefined, { role, state: 'active' })) {
      const fields = { username: formField(request.body, 'username'), role, password: formField(request.body, 'password'), email: formField(request.body, 'email'), skills: formFields(request.body, 'skills') };
      if (await requirePageStepUp(deps, request, reply, auth, { action: '/manage/users', what: `create the admin ${fields.username}`, fields })) return reply;
    }
    const skillIds = new Set(formFields(request.body, 'skills'));
    const skills = (await accountSkills(deps, auth.account.id)).filter((s) => skillIds.has(s.id)).map((s) => s.name);
    const result = await createUser(
      deps,
      auth.account.id,
      { username: formField(request.body, 'username'), role: formField(request.body, 'role'), password: formField(request.body, 'password'), email: formField(request.body, 'email'), skills },
      actorOf(auth, request),
      'admin',
    );
    if (!result.ok) return usersPage(request, reply, auth, 400, { error: result.errors.join(' ') });
    return reply.redirect(`/manage/users/${result.userId}?notice=created`, 303);
  });

  app.post('/manage/skills', { config: { access: { permission: 'manageUsers' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const result = await createSkill(deps, auth.account.id, formField(request.body, 'name'), actorOf(auth, request));
    if (!result.ok) return usersPage(request, reply, auth, 400, { error: result.errors.join(' ') });
    return reply.redirect('/manage/users?notice=skill', 303);
  });

  app.get('/manage/users/:id', { config: { access: { permission: 'manageUsers' } } }, async (request, reply) => {
    const auth = principalOf(request);
    return editPage(request, reply, auth, await targetUser(request, auth));
  });

  app.post('/manage/users/:id', { config: { access: { permission: 'manageUsers' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const user = await targetUser(request, auth);
    const change = { role: formField(request.body, 'role'), state: formField(request.body, 'state'), email: formField(request.body, 'email'), skillIds: formFields(request.body, 'skills') };
    if (changesAdminStanding(user, change)) {
      const fields = { role: change.role, state: change.state, email: change.email, skills: change.skillIds };
      if (await requirePageStepUp(deps, request, reply, auth, { action: `/manage/users/${user.id}`, what: `change what ${user.username} may do as an admin`, fields })) return reply;
    }
    const result = await updateUser(deps, auth.account.id, user.id, change, actorOf(auth, request));
    if (!result.ok) {
      switch (result.reason) {
        case 'invalid':
          return editPage(request, reply, auth, user, 400, result.errors);
        case 'not_found':
          return editPage(request, reply, auth, user, 400, ['Not found.']);
        case 'last_admin':
          return editPage(request, reply, auth, user, 409, [`${user.username} is the account’s last active admin: make another user an admin first.`]);
      }
    }
    return reply.redirect(`/manage/users/${user.id}?notice=saved`, 303);
  });

  // Reset password (issue 15): a one-time link, behind a step-up as Reset MFA is.
  app.post('/manage/users/:id/reset-password', { config: { access: { permission: 'manageUsers' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const user = await targetUser(request, auth);
    if (await requirePageStepUp(deps, request, reply, auth, { action: `/manage/users/${user.id}/reset-password`, what: `send ${user.username} a Reset password link` })) return reply;
    const result = await issuePasswordReset(deps, auth.account.id, user.id, actorOf(auth, request), resetBaseUrl(deps, request));
    if (!result.ok) throw new AppError('not_found');
    if (result.emailed) return reply.redirect(`/manage/users/${user.id}?notice=reset-sent`, 303);
    reply.header('cache-control', 'no-store');
    return html(
      reply,
      200,
      renderPage(<ResetLinkPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} userId={user.id} username={user.username} link={result.link} expiresAt={result.expiresAt} />),
    );
  });

  // Remember this browser (issue 15): the admin ends every browser that skips the code for the user.
  app.post('/manage/users/:id/forget-browsers', { config: { access: { permission: 'resetMfa' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const user = await targetUser(request, auth);
    await forgetUserBrowsers(deps, auth.account.id, user, actorOf(auth, request));
    return reply.redirect(`/manage/users/${user.id}?notice=browsers-forgotten`, 303);
  });

  app.get('/manage/users/:id/reset-mfa', { config: { access: { permission: 'resetMfa' } } }, async (request, reply) => {
    const auth = principalOf(request);
    const user = await targetUser(request, auth);
    return html(reply, 200, renderPage(<ResetConfirmPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} user={user} />));
  });

  app.post('/manage/users/:id/reset-mfa', { config: { access: { permission: 'resetMfa' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const user = await targetUser(request, auth);
    if (await requirePageStepUp(deps, request, reply, auth, { action: `/manage/users/${user.id}/reset-mfa`, what: `reset MFA for ${user.username}` })) return reply;
    const result = await resetMfa(deps, auth.account.id, user.id, actorOf(auth, request));
    if (!result.ok) {
      switch (result.reason) {
        case 'not_found':
          throw new AppError('not_found');
        case 'only_admin':
          return editPage(request, reply, auth, user, 409, [
            'You are the account’s only active admin: you cannot reset your own MFA here. Make another user an admin first; an operator can use the command-line break-glass reset.',
          ]);
      }
    }
    // Resetting one's own MFA ends one's own session too.
    if (user.id === auth.user.id) return reply.redirect('/login', 303);
    return reply.redirect(`/manage/users/${user.id}?notice=reset`, 303);
  });
}
