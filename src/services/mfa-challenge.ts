import { hashRecoveryCode, normalizeRecoveryCode } from '../domain/recovery-codes.ts';
import { normalizeCode } from '../domain/totp.ts';
import type { Authenticator, ThrottleKey } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import { saveAuthenticator } from './mfa-enrolment.ts';
import { totpContext } from './secret-box.ts';
import { createSession } from './sessions.ts';
import { admitAttempt, clearThrottle } from './throttle.ts';
import type { Admission } from './throttle.ts';
import { checkAuthenticatorCode, checkEnrolmentCode, skewMinutes } from './totp-factor.ts';

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

/** A code that checked out, and what proves it; nothing is written until the sign-in is finished. */
type Proof =
  | { ok: true; factor: 'enrol' | 'totp'; step: number; drift: number }
  | { ok: true; factor: 'recovery_code'; hash: string };

type Attempt = Proof | { ok: false; reason: string; driftSteps?: number };

/** Thrown inside the finishing transaction to roll it back: the sign-in starts over. */
class StartOver extends Error {}

function check(deps: Deps, view: SessionView, authenticator: Authenticator | undefined, input: string): Attempt {
  const { account, user, session } = view;
  if (!authenticator) {
    if (!session.enrollment) return { ok: false, reason: 'no enrolment secret' };
    const secret = deps.secrets.open(session.enrollment, totpContext(account.id, user.id));
    if (!secret) return { ok: false, reason: 'enrolment secret unreadable' };
    const result = checkEnrolmentCode(deps, secret, input);
    if (!result.ok) return { ok: false, reason: result.reason, ...(result.reason === 'clock_skew' ? { driftSteps: result.driftSteps } : {}) };
    return { ok: true, factor: 'enrol', step: result.step, drift: result.drift };
  }
  if (normalizeCode(input, authenticator.digits) === undefined) {
    const recovery = normalizeRecoveryCode(input);
    if (!recovery) return { ok: false, reason: 'malformed' };
    return { ok: true, factor: 'recovery_code', hash: hashRecoveryCode(user.id, recovery) };
  }
  const result = checkAuthenticatorCode(deps, authenticator, input);
  if (!result.ok) return { ok: false, reason: result.reason, ...(result.reason === 'clock_skew' ? { driftSteps: result.driftSteps } : {}) };
  return { ok: true, factor: 'totp', step: result.step, drift: result.drift };
}

type Finish =
  | { kind: 'signed_in'; token: string; recoveryCodes?: string[]; recoveryCodesLeft?: number }
  /** The proof was spent already (a replayed step, a used recovery code): a wrong code. */
  | { kind: 'refused'; reason: string };

/**
 * Spends the proof and swaps the pending session for a full one with a new id
 * (no fixation), in one transaction with the audit event: one commit.
 *
 * The factor's row is written first. Reset MFA deletes the authenticator (then
 * the recovery codes, the sessions, the throttle) in the same order, so on
 * PostgreSQL the two are ordered by that row's lock: a reset that came first
 * leaves no row to record the step on, and one that comes second waits for this
 * commit and then ends the new session too. The pending session must still be
 * there to be ended (a reset, a sign-out or another tab may have ended it): if
 * not, everything here is rolled back. On SQLite, writers take turns anyway.
 */
async function finish(deps: Deps, view: SessionView, proof: Proof, ip: string, auditBase: AuditBase): Promise<Finish> {
  const { account, user, session } = view;
  const now = deps.clock.now();
  return deps.store.transaction(async (store): Promise<Finish> => {
    let recoveryCodes: string[] | undefined;
    if (proof.factor === 'totp') {
      if (!(await store.authenticators.recordUse(account.id, user.id, proof.step, proof.drift, now))) {
        // Another request recorded this step (or a later one) first, or a reset removed the authenticator.
        if (!(await store.authenticators.get(account.id, user.id))) throw new StartOver();
        return { kind: 'refused', reason: 'reused' };
      }
    } else if (proof.factor === 'recovery_code') {
      if (!(await store.recoveryCodes.use(account.id, user.id, proof.hash, now))) return { kind: 'refused', reason: 'recovery code unknown or used' };
    } else {
      // Someone (another tab, another instance) enrolled this user a moment ago.
      recoveryCodes = await saveAuthenticator(deps, store, view, proof.step, proof.drift, ip);
      if (!recoveryCodes) throw new StartOver();
      await audit(deps, store, { ...auditBase, action: 'mfa.enroll', result: 'success' });
    }
    if (!(await store.sessions.delete(session.id))) throw new StartOver();
    await clearThrottle({ ...deps, store }, totpThrottleKey(account.id, user.id));
    const fresh = await createSession({ ...deps, store }, { accountId: account.id, id: user.id }, 'full', now);
    await audit(deps, store, { ...auditBase, action: 'mfa.verify', result: 'success', detail: { method: proof.factor === 'recovery_code' ? 'recovery_code' : 'totp' } });
    if (proof.factor === 'recovery_code') return { kind: 'signed_in', token: fresh.token, recoveryCodesLeft: await store.recoveryCodes.countUnused(account.id, user.id) };
    return { kind: 'signed_in', token: fresh.token, ...(recoveryCodes ? { recoveryCodes } : {}) };
  });
}

type AuditBase = { accountId: string; actorUserId: string; actor: string; targetUserId: string; target: string; ip: string };

/** Counts an attempt before its code is checked: against the pending sign-in, then the user. One commit. */
async function count(deps: Deps, view: SessionView): Promise<{ kind: 'restart' } | { kind: 'locked'; lockedUntil: number } | { kind: 'admitted'; admission: Extract<Admission, { admitted: true }>; tries: number }> {
  const { account, user, session } = view;
  return deps.store.transaction(async (store) => {
    // The session's row before the throttle's: the order every other transaction takes them in.
    const tries = await store.sessions.addCodeFailure(session.id);
    if (tries > deps.settings.mfa.maxCodesPerPendingSignIn) {
      await store.sessions.delete(session.id);
      return { kind: 'restart' } as const;
    }
    const admission = await admitAttempt({ ...deps, store }, totpThrottleKey(account.id, user.id), deps.settings.throttle);
    if (!admission.admitted) return { kind: 'locked', lockedUntil: admission.lockedUntil } as const;
    return { kind: 'admitted', admission, tries } as const;
  });
}

export async function submitCode(deps: Deps, view: SessionView, input: string, ip: string): Promise<CodeResult> {
  const { account, user, session } = view;
  if (session.state !== 'pending') return { kind: 'restart' };
  // Counted before the code is checked, so a burst of parallel guesses gets no
  // more checks than the limits allow (10 per user, 5 per pending sign-in).
  const counted = await count(deps, view);
  if (counted.kind !== 'admitted') return counted;
  const { admission, tries } = counted;
  const auditBase: AuditBase = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };

  const authenticator = await deps.store.authenticators.get(account.id, user.id);
  const proof = check(deps, view, authenticator, input.slice(0, 64));
  let outcome: Finish | { kind: 'refused'; reason: string; driftSteps?: number };
  try {
    outcome = proof.ok ? await finish(deps, view, proof, ip, auditBase) : { kind: 'refused', ...proof };
  } catch (error) {
    if (!(error instanceof StartOver)) throw error;
    return { kind: 'restart' };
  }

  if (outcome.kind === 'refused') {
    deps.logger.info({ accountId: account.id, userId: user.id, reason: outcome.reason }, 'second factor refused');
    await audit(deps, deps.store, { ...auditBase, action: 'mfa.verify', result: 'failure', detail: { reason: outcome.reason } });
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
    const driftSteps = 'driftSteps' in outcome ? outcome.driftSteps : undefined;
    return driftSteps === undefined ? { kind: 'invalid' } : { kind: 'invalid', clockSkewMinutes: skewMinutes(driftSteps) };
  }

  if (outcome.recoveryCodes) {
    const full = await deps.store.users.get(account.id, user.id);
    await deps.notifier.notify({
      to: { username: user.username, email: full?.email ?? null },
      subject: `An authenticator app was set up for ${account.name}`,
      text: `An authenticator app was set up for your sign-in "${user.username}" to ${account.name} (account ${account.id}) at ${new Date(deps.clock.now()).toISOString()} from ${ip}. If this was not you, ask your administrator to reset MFA at once.`,
    });
  }
  const method = proof.ok && proof.factor === 'recovery_code' ? 'recovery_code' : 'totp';
  return { ...outcome, method };
}
