import { randomId } from '../../domain/providers.ts';
import { generateRecoveryCodes, hashRecoveryCode, normalizeRecoveryCode } from '../../domain/recovery-codes.ts';
import type { Deps } from '../deps.ts';
import type { SecondFactor, Spent, Verified } from './factor-module.ts';

// Recovery codes: a set of their own, not a factor row. They stand in for any
// factor the user holds, so a user with none (still setting up) has none to use.

export type RecoveryProof = { hash: string };

export const recoveryCodeSecondFactor: SecondFactor<RecoveryProof> = {
  method: 'recovery_code',
  maxInput: 64,

  verify(_deps, challenge, input): Verified<RecoveryProof> {
    if (challenge.factors.length === 0) return { ok: false, reason: 'no factor' };
    const code = normalizeRecoveryCode(input);
    if (!code) return { ok: false, reason: 'malformed' };
    return { ok: true, proof: { hash: hashRecoveryCode(challenge.view.user.id, code) } };
  },

  async spend(deps, challenge, proof): Promise<Spent> {
    const { account, user } = challenge.view;
    const { store } = deps;
    const used = await store.recoveryCodes.use(account.id, user.id, proof.hash, deps.clock.now());
    if (!used) return { ok: false, reason: 'recovery code unknown or used' };
    return { ok: true, recoveryCodesLeft: await store.recoveryCodes.countUnused(account.id, user.id) };
  },
};

/** A fresh set of recovery codes for the user, replacing any earlier set (in the caller's transaction); answers the codes, to show once. */
export async function freshRecoveryCodes(deps: Deps, accountId: string, userId: string): Promise<string[]> {
  const codes = generateRecoveryCodes(deps.random);
  await deps.store.recoveryCodes.replace(
    accountId,
    userId,
    codes.map((code) => ({ id: randomId(deps.random), hash: hashRecoveryCode(userId, code.replaceAll('-', '')) })),
  );
  return codes;
}
