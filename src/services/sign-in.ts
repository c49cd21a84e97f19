import { isAccountNumber, usernameKey } from '../domain/names.ts';
import type { ThrottleKey } from '../storage/records.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import { createSession } from './sessions.ts';
import { checkThrottle, clearThrottle, recordFailure } from './throttle.ts';

export interface SignInInput {
  accountId: string;
  username: string;
  password: string;
  ip: string;
}

/**
 * The outcomes a client can see. 'invalid' is the same for an unknown
 * account, an unknown user, a disabled user and a wrong password; the cause
 * is logged and audited only.
 */
export type SignInResult =
  | { kind: 'signed_in'; token: string; state: 'full' | 'pending'; mfaEnrolled: boolean }
  | { kind: 'invalid' }
  | { kind: 'locked'; lockedUntil: number };

function keys(input: SignInInput): ThrottleKey[] {
  return [
    { scope: 'password', accountId: input.accountId, subject: usernameKey(input.username) },
    { scope: 'address', accountId: '', subject: input.ip },
  ];
}

/**
 * Verifies an account number, username and password. Every path that does
 * not lock spends one argon2 verification, so timing does not tell whether
 * the user exists.
 */
export async function signIn(deps: Deps, input: SignInInput): Promise<SignInResult> {
  const throttleKeys = keys(input);
  for (const key of throttleKeys) {
    const check = await checkThrottle(deps, key);
    if (check.locked) {
      deps.logger.info({ scope: key.scope, accountId: input.accountId }, 'sign-in refused: locked');
      return { kind: 'locked', lockedUntil: check.lockedUntil };
    }
  }

  const account = isAccountNumber(input.accountId) ? await deps.store.accounts.get(input.accountId) : undefined;
  const user = account ? await deps.store.users.findByUsername(account.id, usernameKey(input.username)) : undefined;
  const passwordOk = user
    ? await deps.hasher.verify(user.passwordHash, input.password)
    : await deps.hasher.verifyDummy(input.password);

  if (!account || !user || !passwordOk || user.state !== 'active') {
    const cause = !account ? 'unknown account' : !user ? 'unknown user' : !passwordOk ? 'wrong password' : 'user disabled';
    deps.logger.info({ accountId: input.accountId, cause }, 'sign-in failed');
    let lockedUntil: number | undefined;
    for (const key of throttleKeys) {
      const outcome = await recordFailure(deps, key);
      if (outcome.locked) {
        lockedUntil = Math.max(lockedUntil ?? 0, outcome.lockedUntil);
        if (outcome.lockedNow && account) {
          await audit(deps, deps.store, {
            accountId: account.id,
            actor: input.username,
            action: 'sign_in.locked',
            targetUserId: user?.id ?? null,
            target: user?.username ?? input.username,
            ip: input.ip,
            result: 'failure',
            detail: { scope: key.scope, lockedUntil: outcome.lockedUntil },
          });
        }
      }
    }
    if (account) {
      await audit(deps, deps.store, {
        accountId: account.id,
        actorUserId: user?.id ?? null,
        actor: user?.username ?? input.username,
        action: 'sign_in.password',
        targetUserId: user?.id ?? null,
        target: user?.username ?? input.username,
        ip: input.ip,
        result: 'failure',
        detail: { cause },
      });
    }
    return lockedUntil === undefined ? { kind: 'invalid' } : { kind: 'locked', lockedUntil };
  }

  for (const key of throttleKeys) await clearThrottle(deps, key);
  // With MFA on, the password only opens a short-lived pending session; the
  // second factor turns it into a full one.
  const state = account.mfaEnabled ? 'pending' : 'full';
  const session = await createSession(deps, user, state);
  await audit(deps, deps.store, {
    accountId: account.id,
    actorUserId: user.id,
    actor: user.username,
    action: 'sign_in.password',
    targetUserId: user.id,
    target: user.username,
    ip: input.ip,
    result: 'success',
    detail: { session: state },
  });
  const mfaEnrolled = state === 'pending' && (await deps.store.authenticators.get(account.id, user.id)) !== undefined;
  return { kind: 'signed_in', token: session.token, state, mfaEnrolled };
}
