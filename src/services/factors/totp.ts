import { groupsOfFour, base32Encode } from '../../domain/base32.ts';
import { otpauthUri } from '../../domain/otpauth-uri.ts';
import { randomId } from '../../domain/providers.ts';
import { checkTotp, standardTotp } from '../../domain/totp.ts';
import type { TotpCheck, TotpCheckOptions } from '../../domain/totp.ts';
import type { TotpFactor } from '../../storage/records.ts';
import type { SessionView } from '../../storage/queries/sessions.ts';
import type { Deps } from '../deps.ts';
import { totpContext } from '../secret-box.ts';
import { StartOver } from './factor-module.ts';
import { freshRecoveryCodes } from './recovery-code.ts';
import type { Challenge, SecondFactor, Spent, Verified } from './factor-module.ts';

// The authenticator app (RFC 6238): offered at set-up as a QR code, checked
// against each of the user's apps, spent by recording the accepted step.

export const DEFAULT_TOTP_NAME = 'Authenticator app';

export interface TotpOffer {
  /** The otpauth:// URI the QR code encodes. */
  uri: string;
  /** The secret in base32, in groups of four, for typing by hand. */
  manualKey: string;
}

/** A code that checked out: which app (none while setting one up), and the step it proves. */
export type TotpProof = { factorId: string | null; step: number; drift: number };

export function totpFactorsOf(challenge: Pick<Challenge, 'factors'>): TotpFactor[] {
  return challenge.factors.filter((f): f is TotpFactor => f.type === 'totp');
}

function options(deps: Deps, lastUsedStep: number | null): TotpCheckOptions {
  return { nowMs: deps.clock.now(), window: deps.settings.mfa.window, lastUsedStep, skewSearch: deps.settings.mfa.skewSearchSteps };
}

export type Checked = { ok: true; factorId: string | null; step: number; drift: number } | { ok: false; reason: string; driftSteps?: number };

function fromCheck(check: TotpCheck | { ok: false; reason: string }, factorId: string | null): Checked {
  if (check.ok) return { ok: true, factorId, step: check.step, drift: check.drift };
  return 'driftSteps' in check ? { ok: false, reason: check.reason, driftSteps: check.driftSteps } : { ok: false, reason: check.reason };
}

/** Checks a code against one app without recording anything. */
export function checkTotpFactor(deps: Deps, factor: TotpFactor, input: string): Checked {
  const secret = deps.secrets.open(factor.secret, totpContext(factor.accountId, factor.userId));
  if (!secret) {
    deps.logger.error({ userId: factor.userId, factorId: factor.id, keyId: factor.secret.keyId }, 'TOTP secret does not decrypt: wrong or missing key');
    return { ok: false, reason: 'unreadable' };
  }
  const params = { algorithm: factor.algorithm, digits: factor.digits, period: factor.period };
  return fromCheck(checkTotp(secret, input, params, options(deps, factor.lastUsedStep)), factor.id);
}

/**
 * Checks a code against each of the user's apps: the first that accepts it
 * wins. When none does, the most telling refusal is kept (a used code, then
 * a clock hint, then plain wrong), so a replay is still told as one.
 */
export function checkTotpFactors(deps: Deps, factors: readonly TotpFactor[], input: string): Checked {
  let refusal: Checked = { ok: false, reason: 'no authenticator' };
  const rank = (c: Checked) => (c.ok ? 3 : c.reason === 'reused' ? 2 : c.reason === 'clock_skew' ? 1 : 0);
  for (const factor of factors) {
    const check = checkTotpFactor(deps, factor, input);
    if (check.ok) return check;
    if (rank(check) > rank(refusal) || refusal.reason === 'no authenticator') refusal = check;
  }
  return refusal;
}

function enrolmentSecret(deps: Deps, view: SessionView): Uint8Array | undefined {
  const enrolment = view.session.enrolment;
  if (!enrolment || enrolment.type !== 'totp') return undefined;
  return deps.secrets.open(enrolment.state, totpContext(view.account.id, view.user.id));
}

/**
 * The secret offered to a pending sign-in without a factor. Made on the
 * first visit and kept (sealed) on the pending session, so reloading the page
 * shows the same QR code; saved to the user only once a code proves the app
 * has it.
 */
export async function totpOffer(deps: Deps, view: SessionView): Promise<TotpOffer | undefined> {
  let secret = enrolmentSecret(deps, view);
  if (!view.session.enrolment) {
    const state = deps.secrets.seal(deps.random.bytes(deps.settings.mfa.secretBytes), totpContext(view.account.id, view.user.id));
    await deps.store.sessions.setEnrolment(view.session.id, { type: 'totp', state });
    // Re-read: if another tab stored its secret first, that one wins.
    const again = await deps.store.sessions.view(view.session.id);
    secret = again ? enrolmentSecret(deps, again) : undefined;
  }
  if (!secret) return undefined;
  return offerFor(view.account.name, view.user.username, secret);
}

/** The QR code's URI and the key by hand for a secret. */
export function offerFor(accountName: string, username: string, secret: Uint8Array): TotpOffer {
  return { uri: otpauthUri(accountName, username, secret, standardTotp), manualKey: groupsOfFour(base32Encode(secret)) };
}

/** Checks a code against a secret offered but not saved yet (set-up, or another app added): no step of it was accepted before. */
export function checkCandidateSecret(deps: Deps, secret: Uint8Array, input: string): Checked {
  return fromCheck(checkTotp(secret, input, standardTotp, options(deps, null)), null);
}

/**
 * Saves the proven secret as the user's first authenticator app, with the step
 * of the code that proved it already used, and a fresh set of recovery codes.
 */
async function saveFirstFactor(deps: Deps, challenge: Challenge, proof: TotpProof, ip: string): Promise<Spent> {
  const { view } = challenge;
  const { store } = deps;
  const enrolment = view.session.enrolment;
  // Someone (another tab, another instance) set up a factor for this user a
  // moment ago. The code step holds the user's row lock, so this read is current.
  if (challenge.factors.length > 0 || !enrolment) throw new StartOver();
  const now = deps.clock.now();
  await store.factors.createTotp({
    id: randomId(deps.random),
    accountId: view.account.id,
    userId: view.user.id,
    type: 'totp',
    name: DEFAULT_TOTP_NAME,
    createdAt: now,
    createdIp: ip,
    lastUsedAt: now,
    secret: enrolment.state,
    ...standardTotp,
    lastUsedStep: proof.step,
    driftSteps: proof.drift,
  });
  return { ok: true, recoveryCodes: await freshRecoveryCodes(deps, view.account.id, view.user.id) };
}

export const totpSecondFactor: SecondFactor<TotpProof> = {
  method: 'totp',
  maxInput: 64,

  verify(deps, challenge, input): Verified<TotpProof> {
    const apps = totpFactorsOf(challenge);
    let check: Checked;
    if (apps.length > 0) check = checkTotpFactors(deps, apps, input);
    else if (challenge.factors.length > 0) check = { ok: false, reason: 'no authenticator' };
    else {
      // Setting up: the code must come from the secret this sign-in offered.
      const secret = enrolmentSecret(deps, challenge.view);
      if (!secret) return { ok: false, reason: 'no enrolment secret' };
      check = checkCandidateSecret(deps, secret, input);
    }
    if (!check.ok) return check;
    return { ok: true, proof: { factorId: check.factorId, step: check.step, drift: check.drift } };
  },

  async spend(deps, challenge, proof, ip): Promise<Spent> {
    if (proof.factorId === null) return saveFirstFactor(deps, challenge, proof, ip);
    const { account, user } = challenge.view;
    const recorded = await deps.store.factors.recordTotpUse(account.id, user.id, proof.factorId, proof.step, proof.drift, deps.clock.now());
    return recorded ? { ok: true } : { ok: false, reason: 'reused' };
  },
};

/** "about 4 minutes" from a drift in steps, for the clock hint. */
export function skewMinutes(driftSteps: number, period = standardTotp.period): number {
  return Math.max(1, Math.round((Math.abs(driftSteps) * period) / 60));
}
