import { createHash } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { webauthnDefaults } from '../config/defaults.ts';
import { addressBucket } from '../domain/addresses.ts';
import { isAccountNumber } from '../domain/names.ts';
import { allowedKinds } from '../domain/factor-policy.ts';
import type { FactorPolicy } from '../domain/factor-policy.ts';
import { randomId } from '../domain/providers.ts';
import type { Role } from '../domain/roles.ts';
import type { Account, ThrottleKey, User, WebAuthnFactor } from '../storage/records.ts';
import { accessRules, mayUseFrom } from './access-rules.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { describeAgent } from './device-names.ts';
import type { RelyingParty } from './factors/factor-module.ts';
import { b64url, library, libraryRefusal, parse } from './factors/webauthn.ts';
import { secondFactorThrottleKey } from './mfa-challenge.ts';
import { createSession } from './sessions.ts';
import { admitAttempt, checkThrottle, clearThrottle, countFailure } from './throttle.ts';

// Passkey sign-in (issue 14): a discoverable credential (a passkey) with user
// verification signs in without the password. NIST SP 800-63B §5.1.8 counts
// such an authenticator as multi-factor on its own (something you have,
// unlocked by something you know or are), so the session is full at once,
// also where the account requires MFA, and records the methods hwk, user and
// mfa (RFC 8176).
//
// The account is named first (the account number typed on the sign-in page,
// or the application's account): the options carry no credential list (the
// browser offers the passkeys it holds for this site), and the challenge is
// kept for the browser that asked (a cookie's random token, stored hashed)
// and that account. The answer must be signed by a passkey of that account
// whose user handle (W3C WebAuthn Level 3 §5.4.3: the user's id, set when the
// key was made) names its holder, that user active, the user verified on the
// authenticator (the UV flag, required here: without it a passkey is one
// factor), from an address the account allows. Failures count against the
// client address as wrong passwords do and, once the passkey names a user,
// against that user's second-factor lock as wrong codes do; each is audited.

/**
 * Whether a passkey may sign in, by Account Access Control's second factors
 * (domain/factor-policy.ts): where security keys and passkeys are allowed; for
 * a user, where they are among the kinds their role may use (an admin who
 * must use a key may).
 */
export function passkeySignInAllowed(policy: FactorPolicy, role?: Role): boolean {
  return (role === undefined ? policy.allowed : allowedKinds(policy, role)).includes('webauthn');
}

/** Whether the account's sign-in page offers "Sign in with a passkey". */
export async function accountOffersPasskeys(deps: Pick<Deps, 'store'>, accountId: string): Promise<boolean> {
  return passkeySignInAllowed((await accessRules(deps, accountId)).factors);
}

export function passkeyBinding(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export type PasskeyOptionsResult = { ok: true; token: string; options: PublicKeyCredentialRequestOptionsJSON } | { ok: false; reason: 'invalid_account' | 'locked'; lockedUntil?: number };

/**
 * Options for navigator.credentials.get() for a sign-in to this account, and
 * the token of the browser's cookie the challenge is bound to. A well-formed
 * account number that names no account gets options too (and its sign-in then
 * fails like a wrong passkey), so the answer tells nothing about which accounts exist.
 */
export async function passkeyOptions(deps: Deps, accountId: string, rp: RelyingParty, ip: string): Promise<PasskeyOptionsResult> {
  if (!isAccountNumber(accountId)) return { ok: false, reason: 'invalid_account' };
  // A client address locked by failed sign-ins gets no new challenges either.
  const address = await checkThrottle(deps, addressKey(ip));
  if (address.locked) return { ok: false, reason: 'locked', lockedUntil: address.lockedUntil };
  const token = b64url(deps.random.bytes(32));
  const challenge = b64url(deps.random.bytes(webauthnDefaults.challengeBytes));
  const now = deps.clock.now();
  await deps.store.passkeyChallenges.issue({ id: randomId(deps.random), binding: passkeyBinding(token), accountId, challenge, createdAt: now, expiresAt: now + webauthnDefaults.challengeTtlMs });
  const { generateAuthenticationOptions } = await library();
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: webauthnDefaults.ceremonyTimeoutMs,
    // Discoverable credentials: the authenticator offers the passkeys it holds for this relying party.
    allowCredentials: [],
    userVerification: 'required',
  });
  return { ok: true, token, options };
}

export interface PasskeyInput {
  /** The token of the browser's passkey cookie (undefined when it sent none). */
  token: string | undefined;
  /** The browser's answer, as JSON text. */
  credential: string;
  relyingParty: RelyingParty;
  ip: string;
  userAgent?: string | undefined;
  /** Sent by an application: the sign-in must be to its account. */
  accountId?: string | undefined;
}

/** As a password sign-in's: the cause of 'invalid' is audited and logged only. */
export type PasskeyResult =
  | { ok: true; token: string; user: User }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; lockedUntil: number }
  | { ok: false; reason: 'network' };

function addressKey(ip: string): ThrottleKey {
  return { scope: 'address', accountId: '', subject: addressBucket(ip) };
}

type Found = { account: Account; key: WebAuthnFactor; user: User };

/** The user handle of an answer, as the text of the user id it encodes; undefined when absent or malformed. */
function userHandleOf(json: Record<string, unknown>): string | undefined {
  const response = json.response as Record<string, unknown>;
  const handle = response.userHandle;
  if (typeof handle !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(handle)) return undefined;
  return Buffer.from(handle, 'base64url').toString('utf8');
}

export async function passkeySignIn(deps: Deps, input: PasskeyInput): Promise<PasskeyResult> {
  const address = addressKey(input.ip);
  const locked = await checkThrottle(deps, address);
  if (locked.locked) return { ok: false, reason: 'locked', lockedUntil: locked.lockedUntil };

  let found: Partial<Found> = {};
  /** Counts the failure against the address (and the user's lock was counted before the check), audits it where the account is known. */
  const refuse = async (cause: string, result: PasskeyResult = { ok: false, reason: 'invalid' }): Promise<PasskeyResult> => {
    deps.logger.info({ accountId: found.account?.id, cause }, 'passkey sign-in failed');
    const addressLock = await countFailure(deps, address, deps.settings.addressThrottle);
    if (found.account) {
      const who = found.user ? { actorUserId: found.user.id, actor: found.user.username, targetUserId: found.user.id, target: found.user.username } : { actor: 'unknown passkey' };
      const base = { accountId: found.account.id, ...who, ip: input.ip, result: 'failure' as const };
      await audit(deps, { ...base, action: 'sign_in.passkey', detail: { cause } });
      if (addressLock?.lockedNow) await audit(deps, { ...base, action: 'sign_in.locked', detail: { scope: 'address', lockedUntil: addressLock.lockedUntil } });
    }
    if (result.ok || result.reason !== 'invalid') return result;
    return addressLock ? { ok: false, reason: 'locked', lockedUntil: addressLock.lockedUntil } : result;
  };

  if (input.token === undefined) return refuse('no passkey challenge cookie');
  const binding = passkeyBinding(input.token);
  const parsed = parse(input.credential.slice(0, webauthnDefaults.maxResponseChars));
  if (!parsed.ok) return refuse(parsed.reason);
  if (parsed.type !== 'webauthn.get') return refuse('not an assertion');
  const now = deps.clock.now();
  const stored = await deps.store.passkeyChallenges.find(binding, parsed.challenge, now);
  if (!stored) return refuse('challenge unknown, expired or used');
  const account = await deps.store.accounts.get(stored.accountId);
  if (!account) return refuse('unknown account');
  found = { account };
  if (input.accountId !== undefined && input.accountId !== account.id) return refuse('challenge of another account');
  const rules = await accessRules(deps, account.id);
  if (!passkeySignInAllowed(rules.factors)) return refuse('passkey sign-in not allowed');
  // Only the account's own credentials: another account's passkey is simply not found.
  const key = await deps.store.factors.byCredential(account.id, parsed.id);
  if (!key) return refuse('credential not of this account');
  if (userHandleOf(parsed.json) !== key.userId) return refuse('user handle does not name the credential’s holder');
  const user = await deps.store.users.get(account.id, key.userId);
  if (!user) return refuse('credential not of this account');
  found = { account, key, user };
  if (user.state !== 'active') return refuse('user disabled');
  if (!passkeySignInAllowed(rules.factors, user.role)) return refuse('passkey sign-in not allowed');

  // The user's second-factor lock, as a wrong code counts: before the signature is checked.
  const userKey = secondFactorThrottleKey(account.id, user.id);
  const admission = await admitAttempt(deps, userKey, deps.settings.throttle);
  if (!admission.admitted) return refuse('second factor locked', { ok: false, reason: 'locked', lockedUntil: admission.lockedUntil });
  const lockNow = async () => {
    if (admission.lock?.lockedNow) {
      await audit(deps, { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip: input.ip, action: 'mfa.locked', result: 'failure', detail: { lockedUntil: admission.lock.lockedUntil } });
    }
  };

  const { verifyAuthenticationResponse } = await library();
  let newCount: number;
  try {
    const result = await verifyAuthenticationResponse({
      response: parsed.json as unknown as AuthenticationResponseJSON,
      expectedChallenge: stored.challenge,
      expectedOrigin: input.relyingParty.origin,
      expectedRPID: input.relyingParty.id,
      expectedType: 'webauthn.get',
      credential: { id: key.credentialId, publicKey: Buffer.from(key.publicKey, 'base64url'), counter: 0, transports: key.transports },
      // Without user verification a passkey is one factor: refused here (the library checks the UV flag).
      requireUserVerification: true,
    });
    if (!result.verified) {
      await lockNow();
      return await refuse('not verified', admission.lock ? { ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil } : undefined);
    }
    newCount = result.authenticationInfo.newCounter;
  } catch (error) {
    await lockNow();
    return refuse(libraryRefusal(error).reason, admission.lock ? { ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil } : undefined);
  }
  // W3C WebAuthn Level 3 §6.1.1: a counter that did not go up may mean a cloned key (as at the code step).
  if ((key.signCount > 0 || newCount > 0) && newCount <= key.signCount) {
    await audit(deps, { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip: input.ip, action: 'factor.possible_clone', result: 'failure', detail: { factorId: key.id } });
    await lockNow();
    return refuse('possible_clone', admission.lock ? { ok: false, reason: 'locked', lockedUntil: admission.lock.lockedUntil } : undefined);
  }

  // Account Access Control's networks, after the proof (as after a right password): the attempt is taken back.
  if (!mayUseFrom(rules, user.role, input.ip)) {
    await inTransaction(deps, async (tx) => {
      await clearThrottle(tx, userKey);
      await audit(tx, { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip: input.ip, action: 'sign_in.network_refused', result: 'failure', detail: { cause: 'address not allowed', method: 'passkey' } });
    });
    return { ok: false, reason: 'network' };
  }

  // One transaction: the challenge spent (of two answers racing with it, one
  // gets it), the counter recorded on condition it is still the one checked,
  // the lock cleared, the session made.
  const session = await inTransaction(deps, async (tx) => {
    // The user's row first (PostgreSQL), as Reset MFA, a factor's removal and
    // the code step take it: rows taken in another order could deadlock.
    await tx.store.users.lockForUpdate(account.id, user.id);
    if (!(await tx.store.passkeyChallenges.spend(binding, stored.id, now))) return undefined;
    if (!(await tx.store.factors.recordWebAuthnUse(account.id, user.id, key.id, key.signCount, newCount, now))) return undefined;
    await clearThrottle(tx, userKey);
    await tx.store.users.markActive(account.id, user.id, now);
    const made = await createSession(tx, user, 'full', { ip: input.ip, agent: describeAgent(input.userAgent) }, [{ kind: 'passkey', at: now }]);
    await audit(tx, {
      accountId: account.id,
      actorUserId: user.id,
      actor: user.username,
      action: 'sign_in.passkey',
      targetUserId: user.id,
      target: user.username,
      ip: input.ip,
      result: 'success',
      detail: { factorId: key.id },
    });
    return made;
  });
  if (!session) return refuse('challenge or counter used meanwhile');
  return { ok: true, token: session.token, user };
}
