import { hashRecoveryCode, normalizeRecoveryCode } from '../domain/recovery-codes.ts';
import { normalizeCode } from '../domain/totp.ts';
import type { ThrottleKey } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import { saveAuthenticator } from './mfa-enrolment.ts';
import { totpContext } from './secret-box.ts';
import { createSession } from './sessions.ts';
import { admitAttempt, clearThrottle } from './throttle.ts';
import { checkEnrolmentCode, skewMinutes, verifyAuthenticatorCode } from './totp-factor.ts';

// The second step of a sign-in: a pending session plus a code (TOTP or
// recovery) becomes a full session with a new id. Every failure looks the
// same to the client; the reason is audited and logged only.

export type CodeResult =
  | { kind: 'signed_in'; token: string; method: 'totp' | 'recovery_code'; recoveryCodes?: string[]; recoveryCodesLeft?: number }
  | { kind: 'invalid'; clockSkewMinutes?: number }
  | { kind: 'locked'; lockedUntil: number }
  /** The pending sign-in is used up (too many wrong codes) or gone: enter the password again. */
  | { kind: 'restart' };

export function totpThrottleKey(accountId: string, userId: string): ThrottleKey {
  return { scope: 'totp', accountId, subject: userId };
}

type Attempt =
  | { ok: true; method: 'totp' | 'recovery_code'; step?: number; drift?: number; enrolling: boolean }
  | { ok: false; reason: string; driftSteps?: number };

async function attempt(deps: Deps, view: SessionView, input: string): Promise<Attempt> {
  const { account, user, session } = view;
  const authenticator = await deps.store.authenticators.get(account.id, user.id);
  if (!authenticator) {
    if (!session.enrollment) return { ok: false, reason: 'no enrolment secret' };
    const secret = deps.secrets.open(session.enrollment, totpContext(account.id, user.id));
    if (!secret) return { ok: false, reason: 'enrolment secret unreadable' };
    const check = checkEnrolmentCode(deps, secret, input);
    if (!check.ok) return { ok: false, reason: check.reason, ...(check.reason === 'clock_skew' ? { driftSteps: check.driftSteps } : {}) };
    return { ok: true, method: 'totp', step: check.step, drift: check.drift, enrolling: true };
  }
  if (normalizeCode(input, authenticator.digits) === undefined) {
    const recovery = normalizeRecoveryCode(input);
    if (!recovery) return { ok: false, reason: 'malformed' };
    const used = await deps.store.recoveryCodes.use(account.id, user.id, hashRecoveryCode(user.id, recovery), deps.clock.now());
    return used ? { ok: true, method: 'recovery_code', enrolling: false } : { ok: false, reason: 'recovery code unknown or used' };
  }
  const check = await verifyAuthenticatorCode(deps, authenticator, input);
  if (!check.ok) return { ok: false, reason: check.reason, ...(check.reason === 'clock_skew' ? { driftSteps: check.driftSteps } : {}) };
  return { ok: true, method: 'totp', step: check.step, drift: check.drift, enrolling: false };
}

export async function submitCode(deps: Deps, view: SessionView, input: string, ip: string): Promise<CodeResult> {
  const { account, user, session } = view;
  if (session.state !== 'pending') return { kind: 'restart' };
  const key = totpThrottleKey(account.id, user.id);
  // Counted before the code is checked, so a burst of parallel guesses gets no
  // more checks than the limits allow (10 per user, 5 per pending sign-in).
  const admission = await admitAttempt(deps, key, deps.settings.throttle);
  if (!admission.admitted) return { kind: 'locked', lockedUntil: admission.lockedUntil };
  const tries = await deps.store.sessions.addCodeFailure(session.id);
  if (tries > deps.settings.mfa.maxCodesPerPendingSignIn) {
    await deps.store.sessions.delete(session.id);
    return { kind: 'restart' };
  }
  const auditBase = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };

  const result = await attempt(deps, view, input.slice(0, 64));
  if (!result.ok) {
    deps.logger.info({ accountId: account.id, userId: user.id, reason: result.reason }, 'second factor refused');
    await audit(deps, deps.store, { ...auditBase, action: 'mfa.verify', result: 'failure', detail: { reason: result.reason } });
    if (admission.lock) {
      if (admission.lock.lockedNow) {
        await audit(deps, deps.store, { ...auditBase, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
      }
      await deps.store.sessions.delete(session.id);
      return { kind: 'locked', lockedUntil: admission.lock.lockedUntil };
    }
    if (tries >= deps.settings.mfa.maxCodesPerPendingSignIn) {
      await deps.store.sessions.delete(session.id);
      return { kind: 'restart' };
    }
    return result.driftSteps === undefined ? { kind: 'invalid' } : { kind: 'invalid', clockSkewMinutes: skewMinutes(result.driftSteps) };
  }

  let recoveryCodes: string[] | undefined;
  if (result.enrolling) {
    recoveryCodes = await deps.store.transaction(async (store) => {
      const codes = await saveAuthenticator(deps, store, view, result.step ?? 0, result.drift ?? 0, ip);
      if (codes) await audit(deps, store, { ...auditBase, action: 'mfa.enroll', result: 'success' });
      return codes;
    });
    // Someone (another tab, another instance) enrolled this user a moment ago.
    if (!recoveryCodes) return { kind: 'restart' };
    const full = await deps.store.users.get(account.id, user.id);
    await deps.notifier.notify({
      to: { username: user.username, email: full?.email ?? null },
      subject: `An authenticator app was set up for ${account.name}`,
      text: `An authenticator app was set up for your sign-in "${user.username}" to ${account.name} (account ${account.id}) at ${new Date(deps.clock.now()).toISOString()} from ${ip}. If this was not you, ask your administrator to reset MFA at once.`,
    });
  }

  // A new session id now that the second factor is verified (no fixation). The new
  // session is committed on its own, before the look below (see there). Sessions
  // before the throttle row: the order Reset MFA takes them in, so the two
  // transactions never wait on each other in a circle (a PostgreSQL deadlock).
  await deps.store.transaction(async (store) => {
    await store.sessions.delete(session.id);
    await clearThrottle({ ...deps, store }, key);
  });
  const fresh = await createSession(deps, { accountId: account.id, id: user.id }, 'full', deps.clock.now());
  // A Reset MFA that ran while this code was checked ended the user's sessions
  // before this one existed: look again, and give it up if the factor is gone.
  if (!(await deps.store.authenticators.get(account.id, user.id))) {
    await deps.store.sessions.delete(fresh.id);
    return { kind: 'restart' };
  }
  await audit(deps, deps.store, { ...auditBase, action: 'mfa.verify', result: 'success', detail: { method: result.method } });
  if (result.method === 'recovery_code') {
    const left = await deps.store.recoveryCodes.countUnused(account.id, user.id);
    return { kind: 'signed_in', token: fresh.token, method: result.method, recoveryCodesLeft: left };
  }
  return { kind: 'signed_in', token: fresh.token, method: result.method, ...(recoveryCodes ? { recoveryCodes } : {}) };
}
