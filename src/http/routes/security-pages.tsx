/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { isId } from '../../domain/ids.ts';
import { retryAfterSeconds } from '../../domain/lockout-policy.ts';
import { confirmTotpAddition, currentTotpAddition, startTotpAddition } from '../../services/factor-addition.ts';
import { listOwnFactors, regenerateRecoveryCodes, removeOwnFactor, renameOwnFactor } from '../../services/own-factors.ts';
import type { ProofRefusal } from '../../services/own-factors.ts';
import type { Principal } from '../../services/principal.ts';
import { principalOf } from '../access.ts';
import { codeErrorMessage, lockedMessage } from '../code-messages.ts';
import { csrfToken, formField, noticeFor } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { viewerOf } from '../viewer.ts';
import { renderPage } from '../views/layout.tsx';
import { MessagePage } from '../views/message.tsx';
import { RecoveryCodesPage, StepUpPage } from '../views/mfa.tsx';
import { AddAuthenticatorPage, AddSecurityKeyPage, SecurityPage } from '../views/security.tsx';
import { addSecurityKey } from '../../services/key-addition.ts';
import { totpFactorsOf } from '../../services/factors/totp.ts';
import { usableFactorsOf } from '../../services/factors/index.ts';
import { relyingPartyOf } from '../relying-party.ts';

// "Your security" (issue 14), for every signed-in user, without JavaScript:
// each change a form post with its CSRF token; removing a factor, new
// recovery codes and adding an app ask for a current code on the step-up
// page first (services/own-factors.ts decides; this only shows the pages).

const notices: Record<string, string> = {
  renamed: 'The factor is renamed.',
  removed: 'The factor is removed.',
  added: 'The authenticator app is added.',
  'key-added': 'The security key is added.',
  gone: 'That factor is no longer there.',
  expired: 'Adding the authenticator app was not finished in this session: start again.',
};

const notAllowed = {
  totp: 'Your account does not allow authenticator apps: ask your administrator.',
  webauthn: 'Your account does not allow security keys or passkeys: ask your administrator.',
};

export async function securityPages(app: FastifyInstance, { deps }: RouteContext) {
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

  async function overview(request: FastifyRequest, reply: FastifyReply, status: number, text: { notice?: string | undefined; error?: string } = {}) {
    const auth = principalOf(request);
    const own = await listOwnFactors(deps, auth);
    return html(reply, status, renderPage(<SecurityPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} own={own} {...text} />));
  }

  /** The step-up page, or what a refused proof of a current factor answers instead. */
  function refused(request: FastifyRequest, reply: FastifyReply, auth: Principal, refusal: ProofRefusal, ask: { action: string; what: string }) {
    const csrf = csrfToken(request, reply);
    const viewer = viewerOf(auth);
    switch (refusal.reason) {
      case 'code_required':
        return html(reply, 200, renderPage(<StepUpPage csrf={csrf} viewer={viewer} action={ask.action} what={ask.what} />));
      case 'invalid_code': {
        const error = codeErrorMessage({ ok: false, reason: 'invalid', ...(refusal.clockSkewMinutes ? { clockSkewMinutes: refusal.clockSkewMinutes } : {}) });
        return html(reply, 401, renderPage(<StepUpPage csrf={csrf} viewer={viewer} action={ask.action} what={ask.what} error={error} />));
      }
      case 'locked':
        reply.header('retry-after', String(retryAfterSeconds(refusal.lockedUntil, deps.clock.now())));
        return html(reply, 429, renderPage(<MessagePage title="Locked" message={lockedMessage(refusal.lockedUntil, deps.clock.now())} csrf={csrf} viewer={viewer} alert />));
      case 'reauthenticate': {
        const minutes = Math.round(deps.settings.mfa.stepUpMaxAgeMs / 60_000);
        const message = `To ${ask.what}, sign out and sign in again with your security key, then do it within ${minutes} minutes.`;
        return html(reply, 403, renderPage(<MessagePage title="Sign in again" message={message} csrf={csrf} viewer={viewer} alert />));
      }
    }
  }

  /** The id in the path when it can be one of ours; anything else names no factor. */
  const factorIdOf = (request: FastifyRequest): string | undefined => {
    const id = (request.params as { id?: unknown }).id;
    return isId(id) ? id : undefined;
  };

  app.get('/account/security', { config: { access: 'signed-in' } }, async (request, reply) =>
    overview(request, reply, 200, { notice: noticeFor(notices, (request.query as Record<string, unknown>).done) }),
  );

  app.post('/account/security/factors/:id/rename', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const id = factorIdOf(request);
    const result = id ? await renameOwnFactor(deps, principalOf(request), id, formField(request.body, 'name'), request.ip) : ({ ok: false, reason: 'not_found' } as const);
    if (result.ok) return reply.redirect('/account/security?done=renamed', 303);
    if (result.reason === 'invalid_name') return overview(request, reply, 400, { error: result.message });
    return overview(request, reply, 404, { error: notices.gone! });
  });

  app.post('/account/security/factors/:id/remove', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const id = factorIdOf(request);
    const factor = id && (await listOwnFactors(deps, auth)).factors.find((f) => f.id === id);
    if (!id || !factor) return overview(request, reply, 404, { error: notices.gone! });
    const code = formField(request.body, 'confirm') === '1' ? formField(request.body, 'code') : undefined;
    const result = await removeOwnFactor(deps, auth, id, code, request.ip);
    if (result.ok) return reply.redirect('/account/security?done=removed', 303);
    if (result.reason === 'not_found') return overview(request, reply, 404, { error: notices.gone! });
    if (result.reason === 'last_factor') {
      return overview(request, reply, 409, { error: 'This is your only second factor and your account requires multi-factor authentication: add another one before you remove it.' });
    }
    return refused(request, reply, auth, result, { action: `/account/security/factors/${id}/remove`, what: `remove “${factor.name}”` });
  });

  app.post('/account/security/recovery-codes', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const code = formField(request.body, 'confirm') === '1' ? formField(request.body, 'code') : undefined;
    const result = await regenerateRecoveryCodes(deps, auth, code, request.ip);
    if (result.ok) {
      // Shown once, in this answer only.
      const notice = 'New recovery codes are made: the earlier ones no longer work.';
      return html(reply, 200, renderPage(<RecoveryCodesPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} codes={result.codes} notice={notice} next="/account/security" />));
    }
    if (result.reason === 'no_factor') return overview(request, reply, 409, { error: 'You have no second factor: add one first, and it comes with recovery codes.' });
    return refused(request, reply, auth, result, { action: '/account/security/recovery-codes', what: 'make new recovery codes' });
  });

  app.post('/account/security/authenticator', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const code = formField(request.body, 'confirm') === '1' ? formField(request.body, 'code') : undefined;
    const result = await startTotpAddition(deps, auth, code, request.ip);
    if (result.ok) return reply.redirect('/account/security/authenticator', 303);
    if (result.reason === 'not_allowed') return overview(request, reply, 409, { error: notAllowed.totp });
    return refused(request, reply, auth, result, { action: '/account/security/authenticator', what: 'add an authenticator app' });
  });

  async function addPage(request: FastifyRequest, reply: FastifyReply, status: number, extra: { error?: string; name?: string } = {}) {
    const auth = principalOf(request);
    const offer = currentTotpAddition(deps, auth);
    if (!offer) return reply.redirect('/account/security?done=expired', 303);
    const qrDataUrl = await QRCode.toDataURL(offer.uri, { errorCorrectionLevel: 'M', margin: 4, width: 240 });
    return html(
      reply,
      status,
      renderPage(
        <AddAuthenticatorPage
          csrf={csrfToken(request, reply)}
          viewer={viewerOf(auth)}
          qrDataUrl={qrDataUrl}
          uri={offer.uri}
          manualKey={offer.manualKey}
          issuer={auth.account.name}
          username={auth.user.username}
          {...extra}
        />,
      ),
    );
  }

  app.get('/account/security/authenticator', { config: { access: 'signed-in' } }, async (request, reply) => addPage(request, reply, 200));

  app.post('/account/security/authenticator/confirm', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const name = formField(request.body, 'name');
    const result = await confirmTotpAddition(deps, auth, { code: formField(request.body, 'code'), name }, request.ip);
    if (result.ok) {
      if (!result.recoveryCodes) return reply.redirect('/account/security?done=added', 303);
      return html(reply, 200, renderPage(<RecoveryCodesPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} codes={result.recoveryCodes} next="/account/security" />));
    }
    switch (result.reason) {
      case 'invalid_name':
        return addPage(request, reply, 400, { error: result.message, name });
      case 'invalid_code':
        return addPage(request, reply, 401, { error: codeErrorMessage({ ok: false, reason: 'invalid', ...(result.clockSkewMinutes ? { clockSkewMinutes: result.clockSkewMinutes } : {}) }), name });
      case 'not_started':
        return reply.redirect('/account/security?done=expired', 303);
      case 'not_allowed':
        return overview(request, reply, 409, { error: notAllowed.totp });
      case 'locked':
        reply.header('retry-after', String(retryAfterSeconds(result.lockedUntil, deps.clock.now())));
        return html(reply, 429, renderPage(<MessagePage title="Locked" message={lockedMessage(result.lockedUntil, deps.clock.now())} csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} alert />));
    }
  });
  async function keyPage(request: FastifyRequest, reply: FastifyReply, status: number, extra: { error?: string; name?: string } = {}) {
    const auth = principalOf(request);
    const usable = await usableFactorsOf(deps, auth.account.id, auth.user);
    if (!usable.kinds.includes('webauthn')) return overview(request, reply, 409, { error: notAllowed.webauthn });
    const askCode = totpFactorsOf(usable).length > 0;
    return html(reply, status, renderPage(<AddSecurityKeyPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} askCode={askCode} {...extra} />));
  }

  app.get('/account/security/security-key', { config: { access: 'signed-in' } }, async (request, reply) => keyPage(request, reply, 200));

  app.post('/account/security/security-key', { config: { access: 'signed-in' }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const name = formField(request.body, 'name');
    const code = formField(request.body, 'code');
    const rp = relyingPartyOf(request, deps.settings.publicUrl);
    const result = await addSecurityKey(deps, auth, { credential: formField(request.body, 'credential'), code: code === '' ? undefined : code, name }, rp, request.ip);
    if (result.ok) {
      if (!result.recoveryCodes) return reply.redirect('/account/security?done=key-added', 303);
      return html(reply, 200, renderPage(<RecoveryCodesPage csrf={csrfToken(request, reply)} viewer={viewerOf(auth)} codes={result.recoveryCodes} factor="Your security key" next="/account/security" />));
    }
    switch (result.reason) {
      case 'invalid_name':
        return keyPage(request, reply, 400, { error: result.message, name });
      case 'not_allowed':
        return overview(request, reply, 409, { error: notAllowed.webauthn });
      case 'key_refused':
        return keyPage(request, reply, 400, { error: 'Your security key’s answer was not accepted. Try again with the key, or another one.', name });
      case 'code_required':
        return keyPage(request, reply, 400, { error: 'Enter the current code from your authenticator app, then press Add a security key.', name });
      case 'invalid_code':
        return keyPage(request, reply, 401, { error: codeErrorMessage({ ok: false, reason: 'invalid', ...(result.clockSkewMinutes ? { clockSkewMinutes: result.clockSkewMinutes } : {}) }), name });
      case 'locked':
      case 'reauthenticate':
        return refused(request, reply, auth, result, { action: '/account/security/security-key', what: 'add a security key' });
    }
  });
}
