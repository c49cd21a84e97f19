import { randomId } from '../domain/providers.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import type { RelyingParty } from './factors/factor-module.ts';
import { usableFactorsOf } from './factors/index.ts';
import { freshRecoveryCodes } from './factors/recovery-code.ts';
import { DEFAULT_WEBAUTHN_NAME, registrationOptions, verifyNewKey } from './factors/webauthn.ts';
import type { CeremonyOptions } from './factors/webauthn.ts';
import { checkFactorName, proveCurrentFactor, tellUser, unusedName } from './own-factors.ts';
import type { OwnFactor, ProofRefusal } from './own-factors.ts';

// A security key or passkey added from "Your security" (issue 14): the
// registration ceremony set-up uses (a challenge kept for this session, used
// once, expiring; the user's keys excluded), with the same rule as adding an
// app: a user who holds a factor proves a current one in the same request.
// The key's answer is checked first (reading only), so a refused answer does
// not spend the code typed beside it.

/** Options for the browser to create a credential for the signed-in user (whether keys are allowed is checked when the answer comes). */
export async function keyAdditionOptions(deps: Deps, auth: SessionView, rp: RelyingParty): Promise<Extract<CeremonyOptions, { mode: 'register' }>> {
  const ceremony = await registrationOptions(deps, auth, rp);
  if (ceremony.mode !== 'register') throw new Error('registration options without mode register');
  return ceremony;
}

export type KeyAddResult =
  | { ok: true; factor: OwnFactor; recoveryCodes?: string[] }
  | { ok: false; reason: 'invalid_name'; message: string }
  /** The browser's answer was refused (malformed, another origin, challenge used or expired, key already registered); why is audited. */
  | { ok: false; reason: 'key_refused' }
  /** The account does not allow security keys for this user. */
  | { ok: false; reason: 'not_allowed' }
  | ProofRefusal;

/** Thrown inside the transaction to roll it back. */
class Refused extends Error {}
class NotAllowed extends Error {}

export async function addSecurityKey(
  deps: Deps,
  auth: SessionView,
  input: { credential: string; code?: string | undefined; name?: string | undefined },
  rp: RelyingParty,
  ip: string,
): Promise<KeyAddResult> {
  const named = input.name === undefined || input.name.trim() === '' ? undefined : checkFactorName(input.name);
  if (named && !named.ok) return { ok: false, reason: 'invalid_name', message: named.message };
  const { account, user } = auth;
  const base = { accountId: account.id, actorUserId: user.id, actor: user.username, targetUserId: user.id, target: user.username, ip };
  const refuse = async (reason: string): Promise<KeyAddResult> => {
    await audit(deps, { ...base, action: 'factor.add', result: 'failure', detail: { type: 'webauthn', reason } });
    return { ok: false, reason: 'key_refused' };
  };

  const usable = await usableFactorsOf(deps, account.id, user);
  if (!usable.kinds.includes('webauthn')) return { ok: false, reason: 'not_allowed' };
  const verified = await verifyNewKey(deps, auth, rp, input.credential);
  if (!verified.ok) return refuse(verified.reason);
  if (usable.factors.length > 0) {
    const proof = await proveCurrentFactor(deps, auth, input.code, ip);
    if (!proof.ok) return proof;
  }
  const { credential } = verified.proof;
  let added: { factor: OwnFactor; recoveryCodes?: string[] };
  try {
    added = await inTransaction(deps, async (tx) => {
      await tx.store.users.lockForUpdate(account.id, user.id);
      // The challenge goes first: of two answers racing with one challenge, one spends it.
      if (!(await tx.store.webauthnChallenges.spend(auth.session.id, verified.proof.challengeId, tx.clock.now()))) throw new Refused('challenge used or expired');
      if (await tx.store.factors.credentialTaken(account.id, credential.id)) throw new Refused('credential already registered in this account');
      const counting = await usableFactorsOf(tx, account.id, user);
      if (!counting.kinds.includes('webauthn')) throw new NotAllowed();
      const factors = await tx.store.factors.forUser(account.id, user.id);
      const now = tx.clock.now();
      const factor = {
        id: randomId(tx.random),
        accountId: account.id,
        userId: user.id,
        type: 'webauthn' as const,
        name: named?.name ?? unusedName(DEFAULT_WEBAUTHN_NAME, factors),
        createdAt: now,
        createdIp: ip,
        lastUsedAt: now,
        credentialId: credential.id,
        publicKey: credential.publicKey,
        signCount: credential.counter,
        transports: credential.transports,
      };
      await tx.store.factors.createWebAuthn(factor);
      const recoveryCodes = counting.factors.length === 0 ? await freshRecoveryCodes(tx, account.id, user.id) : undefined;
      await audit(tx, { ...base, action: 'factor.add', result: 'success', detail: { factorId: factor.id, type: 'webauthn', name: factor.name, factorsHeld: factors.length + 1 } });
      const own: OwnFactor = { id: factor.id, name: factor.name, type: 'webauthn', createdAt: now, lastUsedAt: now, allowed: true };
      return recoveryCodes ? { factor: own, recoveryCodes } : { factor: own };
    });
  } catch (error) {
    if (error instanceof Refused) return refuse(error.message);
    if (error instanceof NotAllowed) return { ok: false, reason: 'not_allowed' };
    throw error;
  }
  await tellUser(deps, auth, 'A security key was added', `A security key ("${added.factor.name}") was added`, ip);
  return { ok: true, ...added };
}
