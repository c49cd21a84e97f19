import type { SecondFactorMethod } from '../../domain/auth-methods.ts';
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

/** Whether the user holds any factor (set up, so sign-in asks for a code rather than offering set-up). */
export async function hasFactor(deps: Pick<Deps, 'store'>, accountId: string, userId: string): Promise<boolean> {
  return (await userFactors(deps, accountId, userId)).length > 0;
}
