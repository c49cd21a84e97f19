import { createHmac, timingSafeEqual } from 'node:crypto';

// HOTP (RFC 4226) and TOTP (RFC 6238) on node:crypto. Checked against every
// row of RFC 4226 Appendix D and RFC 6238 Appendix B, and against oathtool.

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: number;
  /** Seconds per step (X in RFC 6238 §4.1). */
  period: number;
}

/** What every authenticator app honours (Google Authenticator key-URI format). */
export const standardTotp: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };

/** RFC 4226 §5.3: HMAC, dynamic truncation, modulo 10^digits. */
export function hotp(key: Uint8Array, counter: number, digits: number, algorithm: TotpAlgorithm = 'SHA1'): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm.toLowerCase(), key).update(message).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, '0');
}

/** RFC 6238 §4.2: T = floor((now - T0) / X), T0 = 0. */
export function timeStep(nowMs: number, period: number): number {
  return Math.floor(nowMs / 1000 / period);
}

export function totpAt(key: Uint8Array, step: number, params: TotpParams): string {
  return hotp(key, step, params.digits, params.algorithm);
}

function sameCode(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Accepts "123456", "123 456" and "123-456", as apps display codes; anything else is not a code. */
export function normalizeCode(input: string, digits: number): string | undefined {
  const code = input.replace(/[\s-]/g, '');
  return new RegExp(`^\\d{${digits}}$`).test(code) ? code : undefined;
}

export type TotpCheck =
  | { ok: true; step: number; drift: number }
  | { ok: false; reason: 'malformed' | 'mismatch' | 'reused' }
  /** A wrong code that matches an earlier step outside the window: the phone's clock is behind by about -driftSteps. */
  | { ok: false; reason: 'clock_skew'; driftSteps: number };

export interface TotpCheckOptions {
  nowMs: number;
  /** RFC 6238 §5.2: steps accepted either side of now (1: one step of network delay or clock skew). */
  window: number;
  /** The last step accepted for this authenticator; it and every earlier step are refused. */
  lastUsedStep: number | null;
  /** How far back to look, without accepting, to tell a user their clock is behind (never ahead: finding 1 of issue 16). */
  skewSearch: number;
}

/**
 * Checks a code against the steps around now. Every candidate step is
 * compared (in constant time per comparison) so timing does not reveal which
 * step matched. The caller must still record the step atomically: this
 * function alone cannot stop two concurrent requests with the same code.
 */
export function checkTotp(key: Uint8Array, input: string, params: TotpParams, options: TotpCheckOptions): TotpCheck {
  const code = normalizeCode(input, params.digits);
  if (code === undefined) return { ok: false, reason: 'malformed' };
  const now = timeStep(options.nowMs, params.period);
  let matched: number | undefined;
  for (let offset = -options.window; offset <= options.window; offset++) {
    if (sameCode(totpAt(key, now + offset, params), code) && matched === undefined) matched = offset;
  }
  if (matched !== undefined) {
    const step = now + matched;
    if (options.lastUsedStep !== null && step <= options.lastUsedStep) return { ok: false, reason: 'reused' };
    return { ok: true, step, drift: matched };
  }
  // The hint looks only behind the window (a phone running slow). A step
  // behind now - window is never accepted again, so naming it gives a guesser
  // nothing; a step ahead would be accepted when its time comes, so telling
  // that a guess matched one would turn each guess into 3 + skewSearch - window
  // usable steps instead of 3 (issue 16, finding 1; docs/security.md). A code
  // of a step ahead is therefore refused exactly as a wrong one, and is not
  // even compared, so its answer takes the wrong code's time too.
  for (let distance = options.window + 1; distance <= options.skewSearch; distance++) {
    if (sameCode(totpAt(key, now - distance, params), code)) return { ok: false, reason: 'clock_skew', driftSteps: -distance };
  }
  return { ok: false, reason: 'mismatch' };
}
