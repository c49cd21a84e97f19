import { randomId } from '../domain/providers.ts';
import { standardTotp } from '../domain/totp.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { freshRecoveryCodes } from './factors/recovery-code.ts';
import { checkCandidateSecret, DEFAULT_TOTP_NAME, offerFor, skewMinutes } from './factors/totp.ts';
import type { TotpOffer } from './factors/totp.ts';
import { secondFactorThrottleKey } from './mfa-challenge.ts';
import { usableFactorsOf } from './factors/index.ts';
import { checkFactorName, proveCurrentFactor, tellUser, unusedName } from './own-factors.ts';
import type { OwnFactor, ProofRefusal } from './own-factors.ts';
import { totpContext } from './secret-box.ts';
import { admitAttempt, takeBackAttempt } from './throttle.ts';

// Another authenticator app, added from "Your security" (issue 14), the way
// set-up adds the first: a new 160-bit secret, sealed, kept on the signed-in
// session (as set-up keeps it on the pending one) and offered as a QR code;
// it becomes a factor only once a code from it proves the app has it. Wrong
// codes count against the user's second-factor lock, as at sign-in; a right
// one is taken back but does not clear the count (the session chose that
// secret itself).

function pendingSecret(deps: Deps, view: SessionView): Uint8Array | undefined {
  const enrolment = view.session.enrolment;
  if (!enrolment || enrolment.type !== 'totp') return undefined;
  return deps.secrets.open(enrolment.state, totpContext(view.account.id, view.user.id));
}

/**
 * Makes a new secret for the session to add, replacing any it was adding;
 * answers its offer; only where the account allows apps for the user. A
 * user who holds a usable factor proves a current one first:
 * otherwise a thief holding the session could add an app of their own and
 * then pass every "current factor" check with it.
 */
export async function startTotpAddition(
  deps: Deps,
  auth: SessionView,
  code: string | undefined,
  ip: string,
): Promise<{ ok: true; offer: TotpOffer } | { ok: false; reason: 'not_allowed' } | ProofRefusal> {
  const usable = await usableFactorsOf(deps, auth.account.id, auth.user);
  if (!usable.kinds.includes('totp')) return { ok: false, reason: 'not_allowed' };
  if (usable.factors.length > 0) {
    const proof = await proveCurrentFactor(deps, auth, code, ip);
    if (!proof.ok) return proof;
  }
  const secret = deps.random.bytes(deps.settings.mfa.secretBytes);
  const state = deps.secrets.seal(secret, totpContext(auth.account.id, auth.user.id));
  await deps.store.sessions.replaceEnrolment(auth.session.id, { type: 'totp', state });
  return { ok: true, offer: offerFor(auth.account.name, auth.user.username, secret) };
}

/** The app this session is adding, as offered at its start (the page shows the same QR code on reload); undefined when none is. */
export function currentTotpAddition(deps: Deps, auth: SessionView): TotpOffer | undefined {
  const secret = pendingSecret(deps, auth);
  return secret && offerFor(auth.account.name, auth.user.username, secret);
}

export type AddResult =
  /** recoveryCodes: the user's first factor came with a first set, shown once. */
  | { ok: true; factor: OwnFactor; recoveryCodes?: string[] }
  | { ok: false; reason: 'invalid_name'; message: string }
  /** Nothing is being added in this session (never started, added already, or signed in anew). */
  | { ok: false; reason: 'not_started' }
  /** The account no longer allows authenticator apps for this user. */
  | { ok: false; reason: 'not_allowed' }
  | { ok: false; reason: 'invalid_code'; clockSkewMinutes?: number }
  | { ok: false; reason: 'locked'; lockedUntil: number };

/**
 * Confirms the app being added with a code from it, in one transaction with
 * the user's row locked: the attempt is counted first, then the code checked;
 * the secret leaves the session in the statement that checks it is still
 * there, so of two confirmations racing one saves the factor.
 */
export async function confirmTotpAddition(deps: Deps, auth: SessionView, input: { code: string; name?: string | undefined }, ip: string): Promise<AddResult> {
  const named = input.name === undefined || input.name.trim() === '' ? undefined : checkFactorName(input.name);
  if (named && !named.ok) return { ok: false, reason: 'invalid_name', message: named.message };
  const { account, user } = auth;
  const base = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };
  const key = secondFactorThrottleKey(account.id, user.id);
  const result = await inTransaction(deps, async (tx): Promise<AddResult> => {
    await tx.store.users.lockForUpdate(account.id, user.id);
    const view = await tx.store.sessions.view(auth.session.id);
    const enrolment = view?.session.enrolment;
    const secret = view && pendingSecret(tx, view);
    if (!enrolment || !secret) return { ok: false, reason: 'not_started' };
    const admission = await admitAttempt(tx, key, tx.settings.throttle);
    if (!admission.admitted) return { ok: false, reason: 'locked', lockedUntil: admission.lockedUntil };
    const check = checkCandidateSecret(tx, secret, input.code.slice(0, 64));
    if (!check.ok) {
      await audit(tx, { ...base, action: 'factor.add', result: 'failure', detail: { type: 'totp', reason: check.reason } });
      if (admission.lock) {
        if (admission.lock.lockedNow) await audit(tx, { ...base, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
        return { ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil };
      }
      return check.driftSteps === undefined ? { ok: false, reason: 'invalid_code' } : { ok: false, reason: 'invalid_code', clockSkewMinutes: skewMinutes(check.driftSteps) };
    }
    if (!(await tx.store.sessions.clearEnrolment(auth.session.id, enrolment.state.ciphertext))) return { ok: false, reason: 'not_started' };
    // This attempt is taken back, the failures before it stay: a code from a
    // secret the session chose itself proves nothing about the user, so it
    // must not clear the lock count that guards their real codes.
    await takeBackAttempt(tx, key, admission, tx.settings.throttle);
    // The account may have stopped allowing apps since the start: read under the lock.
    const usable = await usableFactorsOf(tx, account.id, user);
    if (!usable.kinds.includes('totp')) return { ok: false, reason: 'not_allowed' };
    const factors = await tx.store.factors.forUser(account.id, user.id);
    const now = tx.clock.now();
    const factor = {
      id: randomId(tx.random),
      accountId: account.id,
      userId: user.id,
      type: 'totp' as const,
      name: named?.name ?? unusedName(DEFAULT_TOTP_NAME, factors),
      createdAt: now,
      createdIp: ip,
      lastUsedAt: now,
      secret: enrolment.state,
      ...standardTotp,
      // The code that proved it is used: it is not accepted again (RFC 6238 §5.2).
      lastUsedStep: check.step,
      driftSteps: check.drift,
    };
    await tx.store.factors.createTotp(factor);
    // The first usable factor of a user who had none comes with recovery codes, as at set-up.
    const recoveryCodes = usable.factors.length === 0 ? await freshRecoveryCodes(tx, account.id, user.id) : undefined;
    await audit(tx, { ...base, action: 'factor.add', result: 'success', detail: { factorId: factor.id, type: 'totp', name: factor.name, factorsHeld: factors.length + 1 } });
    const added: OwnFactor = { id: factor.id, name: factor.name, type: 'totp', createdAt: now, lastUsedAt: now, allowed: true };
    return recoveryCodes ? { ok: true, factor: added, recoveryCodes } : { ok: true, factor: added };
  });
  if (result.ok) await tellUser(deps, auth, 'An authenticator app was added', `An authenticator app ("${result.factor.name}") was added`, ip);
  return result;
}
