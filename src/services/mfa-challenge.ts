import type { SecondFactorMethod } from '../domain/auth-methods.ts';
import { methodAllowed } from '../domain/factor-policy.ts';
import type { ThrottleKey } from '../storage/records.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { StartOver } from './factors/factor-module.ts';
import type { Challenge, RelyingParty, Spent } from './factors/factor-module.ts';
import { secondFactors, usableFactorsOf } from './factors/index.ts';
import { skewMinutes } from './factors/totp.ts';
import { rememberBrowser } from './remembered-browsers.ts';
import type { Remembered } from './remembered-browsers.ts';
import { createSession } from './sessions.ts';
import { admitAttempt, clearThrottle } from './throttle.ts';

// The second step of a sign-in: a pending session plus a second factor (an
// authenticator app's code, a recovery code) becomes a full session with a new
// id. The client says which kind it submits; the kind's module checks and
// spends it. Every failure looks the same to the client; the reason is
// audited and logged only.

export type CodeResult =
  /** remembered: the browser was remembered (Remember this browser): its cookie's token and days. */
  | { ok: true; token: string; method: SecondFactorMethod; recoveryCodes?: string[]; recoveryCodesLeft?: number; remembered?: Remembered }
  /** keyRefused: a security key's answer was refused (the page then says so, not "that code"). */
  | { ok: false; reason: 'invalid'; clockSkewMinutes?: number; keyRefused?: true }
  | { ok: false; reason: 'locked'; lockedUntil: number }
  /** The pending sign-in is used up (too many wrong codes) or gone: enter the password again. */
  | { ok: false; reason: 'restart' };

/** What the client submitted: which kind of second factor, and its text. */
export interface Submission {
  method: SecondFactorMethod;
  /** A code, or a security key's answer (the browser's JSON). */
  code: string;
  /** Who the browser was talking to, for a security key's answer. */
  relyingParty?: RelyingParty | undefined;
  /** "Don't ask for a code on this browser": remember it, where the account allows. */
  rememberBrowser?: boolean | undefined;
  /** The remembered-browser token this browser already holds, replaced when it is remembered again. */
  previousRememberToken?: string | undefined;
}

/** The lock shared by every second factor of a user (the stored scope keeps its first name). */
export function secondFactorThrottleKey(accountId: string, userId: string): ThrottleKey {
  return { scope: 'totp', accountId, subject: userId };
}

/** A refusal whose code was one already used: the user is told (ASVS 4.0.3 2.8.5). */
type StepResult = CodeResult & { reused?: true };

type AuditBase = { accountId: string; actorUserId: string; actor: string; targetUserId: string; target: string; ip: string };

/**
 * The whole code step, in one transaction (one commit): the attempt is counted
 * before the code is checked, the proof spent, and the pending session swapped
 * for a full one with a new id (no fixation).
 *
 * On PostgreSQL the user's row is locked first, as Reset MFA locks it first:
 * a reset that came first leaves no factor (and no pending session)
 * here, and one that comes later waits for this commit and then ends the new
 * session too — also for a user still setting up, who has no factor row
 * to lock. Codes sent for one user at once are checked one after the other,
 * each seeing the counts of those before it. On SQLite, writers take turns
 * anyway.
 */
async function codeStep(deps: Deps, view: SessionView, submission: Submission, ip: string): Promise<StepResult> {
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
    return { ok: false, reason: 'restart' };
  }
  // Only the factors the account's policy lets this user use count (domain/factor-policy.ts):
  // with none of them, the step is a set-up of an allowed kind.
  const usable = await usableFactorsOf(deps, account.id, user, view.rules);
  const challenge: Challenge = { view, factors: usable.factors, relyingParty: submission.relyingParty };
  const key = secondFactorThrottleKey(account.id, user.id);
  const admission = await admitAttempt(deps, key, deps.settings.throttle);
  if (!admission.admitted) return { ok: false, reason: 'locked', lockedUntil: admission.lockedUntil };
  const auditBase: AuditBase = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };

  const factor = secondFactors[submission.method];
  const verified = methodAllowed(usable.policy, user.role, submission.method, usable.factors.length)
    ? await factor.verify(deps, challenge, submission.code)
    : ({ ok: false, reason: 'method not allowed by the account' } as const);
  const spent: Spent = verified.ok ? await factor.spend(deps, challenge, verified.proof, ip) : verified;
  if (!spent.ok) {
    deps.logger.info({ accountId: account.id, userId: user.id, reason: spent.reason }, 'second factor refused');
    await audit(deps, { ...auditBase, action: 'mfa.verify', result: 'failure', detail: { method: submission.method, reason: spent.reason } });
    if (spent.reason === 'possible_clone') {
      // W3C WebAuthn Level 3 §6.1.1: a counter going backwards may mean a cloned key.
      await audit(deps, { ...auditBase, action: 'factor.possible_clone', result: 'failure', detail: { factorId: spent.factorId ?? null } });
    }
    const refused = (result: CodeResult): StepResult => (spent.reason === 'reused' ? { ...result, reused: true } : result);
    if (admission.lock) {
      if (admission.lock.lockedNow) {
        await audit(deps, { ...auditBase, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
      }
      await store.sessions.delete(session.id);
      return refused({ ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil });
    }
    if (tries >= deps.settings.mfa.maxCodesPerPendingSignIn) {
      await store.sessions.delete(session.id);
      return refused({ ok: false, reason: 'restart' });
    }
    if (submission.method === 'webauthn') return { ok: false, reason: 'invalid', keyRefused: true };
    return refused(spent.driftSteps === undefined ? { ok: false, reason: 'invalid' } : { ok: false, reason: 'invalid', clockSkewMinutes: skewMinutes(spent.driftSteps) });
  }

  const { method } = submission;
  if (spent.recoveryCodes) await audit(deps, { ...auditBase, action: 'mfa.enroll', result: 'success' });
  if (!(await store.sessions.delete(session.id))) throw new StartOver();
  await clearThrottle(deps, key);
  // The same browser as the password step: its User-Agent carries over; the
  // address is this request's. The password step's record carries over too.
  const methods = [...session.methods, { kind: method, at: deps.clock.now() }];
  const fresh = await createSession(deps, { accountId: account.id, id: user.id }, 'full', { ip, agent: session.client.agent }, methods);
  await audit(deps, { ...auditBase, action: 'mfa.verify', result: 'success', detail: { method } });
  // In this transaction, under the user's row lock: a Reset MFA waiting for it deletes this one too.
  const remembered = submission.rememberBrowser === true ? await rememberBrowser(deps, view, { ip, agent: session.client.agent }, submission.previousRememberToken) : undefined;
  return {
    ok: true,
    token: fresh.token,
    method,
    ...(remembered ? { remembered } : {}),
    ...(spent.recoveryCodes ? { recoveryCodes: spent.recoveryCodes } : {}),
    ...(spent.recoveryCodesLeft !== undefined ? { recoveryCodesLeft: spent.recoveryCodesLeft } : {}),
  };
}

export async function submitCode(deps: Deps, view: SessionView, submission: Submission, ip: string): Promise<CodeResult> {
  const { account, user, session } = view;
  if (session.state !== 'pending') return { ok: false, reason: 'restart' };
  let outcome: StepResult;
  try {
    const bounded = { ...submission, code: submission.code.slice(0, secondFactors[submission.method].maxInput) };
    outcome = await inTransaction(deps, (tx) => codeStep(tx, view, bounded, ip));
  } catch (error) {
    if (error instanceof StartOver) return { ok: false, reason: 'restart' };
    throw error;
  }
  const { reused, ...result } = outcome;
  const at = new Date(deps.clock.now()).toISOString();
  const notice = (subject: string, text: string) =>
    deps.store.users.get(account.id, user.id).then((full) => deps.notifier.notify({ to: { username: user.username, email: full?.email ?? null }, subject, text }));
  if (result.ok && result.recoveryCodes) {
    const what = result.method === 'webauthn' ? 'A security key' : 'An authenticator app';
    await notice(
      `${what} was set up for ${account.name}`,
      `${what} was set up for your sign-in "${user.username}" to ${account.name} (account ${account.id}) at ${at} from ${ip}. If this was not you, ask your administrator to reset MFA at once.`,
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
