import type { AccessRules } from '../../domain/access-rules.ts';
import type { FactorType, SecondFactorMethod } from '../../domain/auth-methods.ts';
import { allowedKinds, usableFactors } from '../../domain/factor-policy.ts';
import type { FactorPolicy } from '../../domain/factor-policy.ts';
import type { Role } from '../../domain/roles.ts';
import type { Factor } from '../../storage/records.ts';
import type { Deps } from '../deps.ts';
import type { SecondFactor } from './factor-module.ts';
import { recoveryCodeSecondFactor } from './recovery-code.ts';
import { totpSecondFactor } from './totp.ts';
import { webauthnSecondFactor } from './webauthn.ts';

// The kinds of second factor, by what the client says it submits. A new kind
// is one module and one line here.

export const secondFactors: { [M in SecondFactorMethod]: SecondFactor<unknown> } = {
  totp: totpSecondFactor,
  webauthn: webauthnSecondFactor,
  recovery_code: recoveryCodeSecondFactor,
};

/** Which factors the user holds: every page and route that needs to know asks this. */
export function userFactors(deps: Pick<Deps, 'store'>, accountId: string, userId: string): Promise<Factor[]> {
  return deps.store.factors.forUser(accountId, userId);
}

/** The user's factors that count under the account's factor policy (domain/factor-policy.ts), with the kinds they may set up. */
export async function usableFactorsOf(
  deps: Pick<Deps, 'store'>,
  accountId: string,
  user: { id: string; role: Role },
  /**
   * The account's rules as this request already read them (sign-in, the
   * session's resolution): not read again. Every request reads them afresh, and
   * a session that a policy changed since no longer allows ends at its next one.
   */
  known?: Pick<AccessRules, 'factors'>,
): Promise<{ factors: Factor[]; kinds: FactorType[]; policy: FactorPolicy; all: Factor[] }> {
  const [all, rules] = await Promise.all([userFactors(deps, accountId, user.id), known ?? deps.store.accessRules.get(accountId)]);
  return { factors: usableFactors(rules.factors, user.role, all), kinds: allowedKinds(rules.factors, user.role), policy: rules.factors, all };
}

/** Whether the user holds a factor that counts (set up, so sign-in asks for it rather than offering set-up). */
export async function hasFactor(deps: Pick<Deps, 'store'>, accountId: string, user: { id: string; role: Role }, known?: Pick<AccessRules, 'factors'>): Promise<boolean> {
  return (await usableFactorsOf(deps, accountId, user, known)).factors.length > 0;
}
