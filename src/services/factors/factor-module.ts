import type { SecondFactorMethod } from '../../domain/auth-methods.ts';
import type { Factor } from '../../storage/records.ts';
import type { SessionView } from '../../storage/queries/sessions.ts';
import type { Deps } from '../deps.ts';

// One small interface every kind of second factor implements, so the code
// step (mfa-challenge.ts) and step-up never ask which kind they hold. The
// client names the kind it submits (a form's or a body's `method`); nothing
// is guessed from the input's shape.

/** A pending or full sign-in and the factors its user holds, as read inside the step's transaction. */
export interface Challenge {
  view: SessionView;
  factors: readonly Factor[];
  /** Who the browser was talking to (WebAuthn): the relying party id and origin this request was served under. */
  relyingParty?: RelyingParty | undefined;
}

/**
 * The relying party of a WebAuthn ceremony (W3C WebAuthn Level 3 §5.1.3,
 * §7.1 steps 9 and 13): its id is the host users reach (PORTCULLIS_PUBLIC_URL's,
 * or the local address served), the origin the service's own.
 */
export interface RelyingParty {
  id: string;
  origin: string;
}

/**
 * Why a second factor was refused (for the audit log only), how far off the
 * phone's clock seemed, and the factor refused when the refusal concerns one
 * (a security key whose counter went backwards).
 */
export type Refusal = { ok: false; reason: string; driftSteps?: number; factorId?: string };

export type Verified<P> = { ok: true; proof: P } | Refusal;

/** What spending a proof gave: new recovery codes after a set-up, the codes left after one was used. */
export type Spent = { ok: true; recoveryCodes?: string[]; recoveryCodesLeft?: number } | Refusal;

export interface SecondFactor<P> {
  readonly method: SecondFactorMethod;
  /** The longest input it reads, in characters; anything longer is refused unread. */
  readonly maxInput: number;
  /** Checks what the client submitted against the user's factors; writes nothing. */
  verify(deps: Deps, challenge: Challenge, input: string): Verified<P> | Promise<Verified<P>>;
  /**
   * Spends a proof in the caller's transaction (deps.store, from inTransaction):
   * records the step, uses the code, saves the new factor. Answers why not when it was spent already
   * (a replay that lost a race). Throws StartOver when the sign-in must begin
   * again (someone set up a factor for this user a moment ago).
   */
  spend(deps: Deps, challenge: Challenge, proof: P, ip: string): Promise<Spent>;
}

/** Thrown inside a transaction to roll it back: the sign-in starts over. */
export class StartOver extends Error {}
