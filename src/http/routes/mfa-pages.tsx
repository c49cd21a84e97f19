/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { submitCode } from '../../services/mfa-challenge.ts';
import { usableFactorsOf } from '../../services/factors/index.ts';
import { totpOffer } from '../../services/factors/totp.ts';
import type { Principal } from '../../services/principal.ts';
import { principalOf } from '../access.ts';
import { codeErrorMessage, lockedMessage } from '../code-messages.ts';
import { nextPage } from '../next-step.ts';
import { clearSessionCookie, setSessionCookie } from '../plugins/session.ts';
import { renderPage } from '../views/layout.tsx';
import { MessagePage } from '../views/message.tsx';
import { RecoveryCodesPage, SetupPage, VerifyPage } from '../views/mfa.tsx';
import type { AppOffer } from '../views/mfa.tsx';
import { csrfToken, formField } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { applicationContext } from './oidc-routes.tsx';
import { allowFormTargets, originsOf } from '../plugins/security.ts';
import { relyingPartyOf } from '../relying-party.ts';

export async function mfaPages(app: FastifyInstance, ctx: RouteContext) {
  const { deps, cookie } = ctx;
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

  /** The set-up page or the code page, as this pending sign-in needs. */
  async function challengePage(request: FastifyRequest, reply: FastifyReply, view: Principal, status: number, error?: string) {
    const csrf = csrfToken(request, reply);
    await allowApplicationTargets(request, reply);
    // The factors that count under the account's policy, and the kinds this user may set up.
    const { factors, kinds } = await usableFactorsOf(deps, view.account.id, view.user);
    if (factors.length > 0) {
      const recovery = (request.query as Record<string, unknown>).method === 'recovery';
      const hasApp = factors.some((f) => f.type === 'totp');
      const hasKey = factors.some((f) => f.type === 'webauthn');
      return html(reply, status, renderPage(<VerifyPage csrf={csrf} error={error} recovery={recovery} hasApp={hasApp} hasKey={hasKey} />));
    }
    let app: AppOffer | undefined;
    if (kinds.includes('totp')) {
      const offer = await totpOffer(deps, view);
      if (!offer) throw new Error('could not prepare an enrolment secret');
      app = { uri: offer.uri, manualKey: offer.manualKey, qrDataUrl: await QRCode.toDataURL(offer.uri, { errorCorrectionLevel: 'M', margin: 4, width: 240 }) };
    }
    return html(
      reply,
      status,
      renderPage(<SetupPage csrf={csrf} app={app} keyAllowed={kinds.includes('webauthn')} issuer={view.account.name} username={view.user.username} error={error} />),
    );
  }

  /** The code form's post ends at the application's redirect URI when an application sent the user. */
  async function allowApplicationTargets(request: FastifyRequest, reply: FastifyReply) {
    const application = await applicationContext(request, reply, ctx);
    if (application) allowFormTargets(reply, originsOf(application.application.redirectUris));
  }

  app.get('/login/mfa', { config: { access: 'pending' } }, async (request, reply) => {
    return challengePage(request, reply, principalOf(request), 200);
  });

  // Anyone but a pending sign-in was sent back by the access hook, before this
  // CSRF check: an expired sign-in has no session for the form's token to match.
  app.post('/login/mfa', { config: { access: 'pending' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const view = principalOf(request);
    // The form says which kind of code it carries (the recovery form sends
    // method=recovery_code, the security key's method=webauthn with the browser's answer as credential).
    const named = formField(request.body, 'method');
    const method = named === 'recovery_code' || named === 'webauthn' ? named : 'totp';
    const code = method === 'webauthn' ? formField(request.body, 'credential') : formField(request.body, 'code');
    const result = await submitCode(deps, view, { method, code, relyingParty: relyingPartyOf(request, deps.settings.publicUrl) }, request.ip);
    if (result.ok) {
      setSessionCookie(reply, cookie, result.token);
      if (result.recoveryCodes) {
        // Shown once, in this answer only: nothing can fetch them again.
        request.auth = null;
        const factor = result.method === 'webauthn' ? 'Your security key' : 'Your authenticator app';
        return html(reply, 200, renderPage(<RecoveryCodesPage csrf="" codes={result.recoveryCodes} factor={factor} next={nextPage(request, view.user)} />));
      }
      return reply.redirect(nextPage(request, view.user), 303);
    }
    switch (result.reason) {
      case 'invalid':
        return challengePage(request, reply, view, 401, codeErrorMessage(result));
      case 'locked':
        clearSessionCookie(reply, cookie);
        return html(reply, 429, renderPage(<MessagePage title="Sign-in locked" message={lockedMessage(result.lockedUntil, deps.clock.now())} csrf="" alert />));
      case 'restart':
        clearSessionCookie(reply, cookie);
        return reply.redirect('/login?notice=restart', 303);
    }
  });
}
