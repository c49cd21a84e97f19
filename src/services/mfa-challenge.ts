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

/** A refusal whose code was one already used: the user is told (ASVS 4.0.3 2.8.5). */
type StepResult = CodeResult & { reused?: true };

/** Thrown inside the code step's transaction to roll it back: the sign-in starts over. */
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

type AuditBase = { accountId: string; actorUserId: string; actor: string; targetUserId: string; target: string; ip: string };

type Spent = { ok: true; recoveryCodes?: string[] } | { ok: false; reason: string; driftSteps?: number };

/**
 * Spends a proof: records the step, uses the recovery code, or saves the new
 * authenticator. Answers why not when it was spent already (a replayed step, a
 * used recovery code), or the recovery codes of a new authenticator.
 */

async function spend(deps: Deps, view: SessionView, proof: Proof, ip: string, auditBase: AuditBase): Promise<Spent> {
  const { account, user } = view;
  const { store } = deps;
  const now = deps.clock.now();
  if (proof.factor === 'totp') {
    // The user's row is locked by this transaction: no one else recorded a step since it was read.
    const recorded = await store.authenticators.recordUse(account.id, user.id, proof.step, proof.drift, now);
    return recorded ? { ok: true } : { ok: false, reason: 'reused' };
  }
  if (proof.factor === 'recovery_code') {
    const used = await store.recoveryCodes.use(account.id, user.id, proof.hash, now);
    return used ? { ok: true } : { ok: false, reason: 'recovery code unknown or used' };
  }
  const recoveryCodes = await saveAuthenticator(deps, store, view, proof.step, proof.drift, ip);
  // Someone (another tab, another instance) enrolled this user a moment ago.
  if (!recoveryCodes) throw new StartOver();
  await audit(deps, store, { ...auditBase, action: 'mfa.enroll', result: 'success' });
  return { ok: true, recoveryCodes };
}

/**
 * The whole code step, in one transaction (one commit): the attempt is counted
 * before the code is checked, the proof spent, and the pending session swapped
 * for a full one with a new id (no fixation).
 *
 * On PostgreSQL the user's row is locked first, as Reset MFA locks it first:
 * a reset that came first leaves no authenticator (and no pending session)
 * here, and one that comes later waits for this commit and then ends the new
 * session too — also for a user still setting up, who has no authenticator row
 * to lock. Codes sent for one user at once are checked one after the other,
 * each seeing the counts of those before it. On SQLite, writers take turns
 * anyway.
 */
async function codeStep(deps: Deps, view: SessionView, input: string, ip: string): Promise<StepResult> {
  const { account, user, session } = view;
  const { store } = deps;
  await store.users.lockForUpdate(account.id, user.id);
  // Counted before the code is checked (10 per user, 5 per pending sign-in). A
  // write first: on SQLite the transaction then holds the write lock from its
  // first statement, and another process (the CLI) cannot commit between a read
  // and the first write (SQLITE_BUSY_SNAPSHOT).
  const tries = await store.sessions.addCodeFailure(session.id);
  if (tries > deps.settings.mfa.maxCodesPerPendingSignIn) {
    await store.sessions.delete(session.id);
    return { kind: 'restart' };
  }
  const authenticator = await store.authenticators.get(account.id, user.id);
  const key = totpThrottleKey(account.id, user.id);
  const admission = await admitAttempt(deps, key, deps.settings.throttle);
  if (!admission.admitted) return { kind: 'locked', lockedUntil: admission.lockedUntil };
  const auditBase: AuditBase = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };

  const proof = check(deps, view, authenticator, input);
  const spent: Spent = proof.ok ? await spend(deps, view, proof, ip, auditBase) : proof;
  if (!spent.ok) {
    deps.logger.info({ accountId: account.id, userId: user.id, reason: spent.reason }, 'second factor refused');
    await audit(deps, store, { ...auditBase, action: 'mfa.verify', result: 'failure', detail: { reason: spent.reason } });
    const refused = (result: CodeResult): StepResult => (spent.reason === 'reused' ? { ...result, reused: true } : result);
    if (admission.lock) {
      if (admission.lock.lockedNow) {
        await audit(deps, store, { ...auditBase, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
      }
      await store.sessions.delete(session.id);
      return refused({ kind: 'locked', lockedUntil: admission.lock.lockedUntil });
    }
    if (tries >= deps.settings.mfa.maxCodesPerPendingSignIn) {
      await store.sessions.delete(session.id);
      return refused({ kind: 'restart' });
    }
    return refused(spent.driftSteps === undefined ? { kind: 'invalid' } : { kind: 'invalid', clockSkewMinutes: skewMinutes(spent.driftSteps) });
  }

  const method = proof.ok && proof.factor === 'recovery_code' ? 'recovery_code' : 'totp';
  if (!(await store.sessions.delete(session.id))) throw new StartOver();
  await clearThrottle(deps, key);
  // The same browser as the password step: its User-Agent carries over; the address is this request's.
  const fresh = await createSession(deps, { accountId: account.id, id: user.id }, 'full', { ip, agent: session.client.agent }, deps.clock.now());
  await audit(deps, store, { ...auditBase, action: 'mfa.verify', result: 'success', detail: { method } });
  if (method === 'recovery_code') {
    return { kind: 'signed_in', token: fresh.token, method, recoveryCodesLeft: await store.recoveryCodes.countUnused(account.id, user.id) };
  }
  return { kind: 'signed_in', token: fresh.token, method, ...(spent.recoveryCodes ? { recoveryCodes: spent.recoveryCodes } : {}) };
}

export async function submitCode(deps: Deps, view: SessionView, input: string, ip: string): Promise<CodeResult> {
  const { account, user, session } = view;
  if (session.state !== 'pending') return { kind: 'restart' };
  let outcome: StepResult;
  try {
    outcome = await deps.store.transaction((store) => codeStep({ ...deps, store }, view, input.slice(0, 64), ip));
  } catch (error) {
    if (error instanceof StartOver) return { kind: 'restart' };
    throw error;
  }
  const { reused, ...result } = outcome;
  const at = new Date(deps.clock.now()).toISOString();
  const notice = (subject: string, text: string) =>
    deps.store.users.get(account.id, user.id).then((full) => deps.notifier.notify({ to: { username: user.username, email: full?.email ?? null }, subject, text }));
  if (result.kind === 'signed_in' && result.recoveryCodes) {
    await notice(
      `An authenticator app was set up for ${account.name}`,
      `An authenticator app was set up for your sign-in "${user.username}" to ${account.name} (account ${account.id}) at ${at} from ${ip}. If this was not you, ask your administrator to reset MFA at once.`,
    );
  }
  if (reused) {
    // ASVS 4.0.3 2.8.5: a time-based code used again is logged (audited above),
    // refused, and its holder told. Someone who sent it after the user had used
    // it knows the password and saw the code (over a shoulder, through a phishing
    // page). Not awaited: the refusal must take no longer than any other, or its
    // timing would tell the sender the code was once right.
    void notice(
      `A used sign-in code was entered again for ${account.name}`,
      `A code from your authenticator app that had already been used was entered again for your sign-in "${user.username}" to ${account.name} (account ${account.id}) at ${at} from ${ip}, after the correct password. It was refused. If you did not just enter the same code twice, someone knows your password and has seen one of your codes: tell your administrator at once.`,
    ).catch((error: unknown) => deps.logger.error({ err: error, accountId: account.id, userId: user.id }, 'could not send the reused-code notice'));
  }
  return result;
}
