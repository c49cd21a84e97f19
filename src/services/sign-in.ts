import { addressBucket } from '../domain/addresses.ts';
import { keyRequired } from '../domain/factor-policy.ts';
import { isAccountNumber, usernameKey } from '../domain/names.ts';
import type { ThrottleKey } from '../storage/records.ts';
import { accessRules, lockAfterFailuresOf, mayUseFrom } from './access-rules.ts';
import { audit } from './audit.ts';
import { hasFactor } from './factors/index.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { describeAgent } from './device-names.ts';
import { useRememberedBrowser } from './remembered-browsers.ts';
import { createSession } from './sessions.ts';
import { admitAttempt, checkAdmitted, checkThrottle, clearThrottle, countFailure } from './throttle.ts';

export interface SignInInput {
  accountId: string;
  username: string;
  password: string;
  ip: string;
  /** The User-Agent header, if any: shown to the user in their list of sessions. */
  userAgent?: string;
  /**
   * An application asked for a second factor (OpenID Connect acr_values): the
   * password opens a pending session as if the account's MFA were on, and the
   * user sets a factor up if they have none.
   */
  secondFactorRequested?: boolean;
  /**
   * The browser's remembered-browser cookie, if any (remembered-browsers.ts):
   * where it is this user's and live, the account's MFA does not ask for the
   * code at this sign-in.
   */
  rememberedToken?: string | undefined;
}

/**
 * The outcomes a client can see. 'invalid' is the same for an unknown
 * account, an unknown user, a disabled user and a wrong password; the cause
 * is logged and audited only.
 */
export type SignInResult =
  /** passwordChangeRequired: an admin set the password; the user must choose their own before anything else. */
  | { ok: true; token: string; state: 'full' | 'pending'; mfaEnrolled: boolean; passwordChangeRequired: boolean }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; lockedUntil: number }
  /** The password was right, but the account allows no sign-in from this address (Account Access Control). */
  | { ok: false; reason: 'network' };

/**
 * Verifies an account number, username and password.
 *
 * Each attempt is counted against the (account, username) pair before the
 * password is checked, so a burst of parallel guesses gets no more checks than
 * the limit; failures also count against the client address (a spray of
 * usernames), after the check. The username key exists whether
 * or not the user does: a lock tells nothing about existence. Every admitted
 * path spends one argon2 verification (a dummy one for unknown users), so
 * timing tells nothing either. When no hashing thread can answer, the
 * verification throws TemporarilyUnavailable (503, try again) for known and
 * unknown users alike: no failure is recorded, and the attempt admitted up
 * front is taken back (with the lock it set, if it was the last one allowed).
 */
export async function signIn(deps: Deps, input: SignInInput): Promise<SignInResult> {
  // IPv6 clients are counted per /64: one host may use any address of it.
  const addressKey: ThrottleKey = { scope: 'address', accountId: '', subject: addressBucket(input.ip) };
  const userKey: ThrottleKey = { scope: 'password', accountId: input.accountId, subject: usernameKey(input.username) };

  // The address is only checked here and counted after a failure: attempts in
  // flight from a busy NAT must not lock it. The user's count is taken up front.
  const address = await checkThrottle(deps, addressKey);
  if (address.locked) return refused(deps, input, 'address', address.lockedUntil);
  // The account's login policy may lock after fewer failures than the service does.
  const rules = await accessRules(deps, input.accountId);
  const throttleRules = { ...deps.settings.throttle, maxConsecutiveFailures: lockAfterFailuresOf(deps, rules) };
  const user = await admitAttempt(deps, userKey, throttleRules);
  if (!user.admitted) return refused(deps, input, 'password', user.lockedUntil);

  const { account, user: found } = isAccountNumber(input.accountId) ? await deps.store.users.findForSignIn(input.accountId, usernameKey(input.username)) : {};
  const passwordOk = await checkAdmitted(deps, userKey, user, throttleRules, () =>
    found ? deps.hasher.verify(found.passwordHash, input.password) : deps.hasher.verifyDummy(input.password),
  );

  if (!account || !found || !passwordOk || found.state !== 'active') {
    const cause = !account ? 'unknown account' : !found ? 'unknown user' : !passwordOk ? 'wrong password' : 'user disabled';
    deps.logger.info({ accountId: input.accountId, cause }, 'sign-in failed');
    const addressLock = await countFailure(deps, addressKey, deps.settings.addressThrottle);
    if (account) {
      const base = {
        accountId: account.id,
        actorUserId: found?.id ?? null,
        actor: found?.username ?? input.username,
        targetUserId: found?.id ?? null,
        target: found?.username ?? input.username,
        ip: input.ip,
        result: 'failure' as const,
      };
      await audit(deps, { ...base, action: 'sign_in.password', detail: { cause } });
      for (const [scope, lock] of [['password', user.lock], ['address', addressLock]] as const) {
        if (lock?.lockedNow) await audit(deps, { ...base, action: 'sign_in.locked', detail: { scope, lockedUntil: lock.lockedUntil } });
      }
    }
    const lockedUntil = Math.max(user.lock?.lockedUntil ?? 0, addressLock?.lockedUntil ?? 0);
    return lockedUntil > 0 ? { ok: false, reason: 'locked', lockedUntil } : { ok: false, reason: 'invalid' };
  }

  // Account Access Control: refused after the password (which was right, so
  // its count is taken back), so that a wrong one from anywhere tells nothing
  // more than before; audited with the address.
  if (!mayUseFrom(rules, found.role, input.ip)) {
    deps.logger.info({ accountId: account.id }, 'sign-in refused: address not allowed');
    await inTransaction(deps, async (tx) => {
      await clearThrottle(tx, userKey);
      await audit(tx, {
        accountId: account.id,
        actorUserId: found.id,
        actor: found.username,
        action: 'sign_in.network_refused',
        targetUserId: found.id,
        target: found.username,
        ip: input.ip,
        result: 'failure',
        detail: { cause: 'address not allowed' },
      });
    });
    return { ok: false, reason: 'network' };
  }

  // Success clears the user's count and lock, not the address's: one valid
  // credential must not wipe a spray's failures against other usernames.
  // With MFA on (or asked for), the password only opens a short-lived pending session; the
  // second factor turns it into a full one. One transaction: one commit (a disk
  // sync on PostgreSQL) instead of three.
  // An admin who must use a security key is asked for one even where the account's MFA is off.
  const keyNeeded = keyRequired(rules.factors, found.role);
  const asked: 'pending' | 'full' = account.mfaEnabled || input.secondFactorRequested === true || keyNeeded ? 'pending' : 'full';
  const { session, state } = await inTransaction(deps, async (tx) => {
    // Also takes the user's row (PostgreSQL), as Reset MFA does first: a reset
    // that came first has deleted the remembered browsers read below, and one
    // that comes later ends the session made here.
    await tx.store.users.markActive(account.id, found.id, deps.clock.now());
    // After the user's row, as a password change and a reset take them; the
    // clear, the session and its audit event then go to PostgreSQL together
    // (the clear alone when a remembered browser is read in between).
    await clearThrottle(tx, userKey);
    // A remembered browser stands in for the account's MFA only: an
    // application that asked for a second factor (acr_values), or an admin who
    // must use a security key, gets a second factor of this sign-in. The user
    // must still hold a factor that counts under the account's factor policy.
    const remembered =
      asked === 'pending' &&
      account.mfaEnabled &&
      input.secondFactorRequested !== true &&
      !keyNeeded &&
      input.rememberedToken !== undefined &&
      (await hasFactor(tx, account.id, found, rules))
        ? await useRememberedBrowser(tx, account.id, found.id, input.rememberedToken)
        : undefined;
    const state: 'pending' | 'full' = remembered ? 'full' : asked;
    const now = deps.clock.now();
    const methods = remembered
      ? [
          { kind: 'password' as const, at: now },
          { kind: 'remembered_browser' as const, at: now },
        ]
      : undefined;
    const made = await createSession(tx, found, state, { ip: input.ip, agent: describeAgent(input.userAgent) }, methods);
    await audit(tx, {
      accountId: account.id,
      actorUserId: found.id,
      actor: found.username,
      action: 'sign_in.password',
      targetUserId: found.id,
      target: found.username,
      ip: input.ip,
      result: 'success',
      detail: { session: state, ...(remembered ? { rememberedBrowser: remembered } : {}) },
    });
    return { session: made, state };
  });
  const mfaEnrolled = state === 'pending' && (await hasFactor(deps, account.id, found, rules));
  return { ok: true, token: session.token, state, mfaEnrolled, passwordChangeRequired: found.passwordChangeRequired };
}

function refused(deps: Deps, input: SignInInput, scope: string, lockedUntil: number): SignInResult {
  deps.logger.info({ scope, accountId: input.accountId }, 'sign-in refused: locked');
  return { ok: false, reason: 'locked', lockedUntil };
}
