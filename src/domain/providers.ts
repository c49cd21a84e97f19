// Time and randomness are passed in, never read directly by domain code, so
// tests set the clock instead of sleeping and fix the random bytes they need.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export interface RandomSource {
  bytes(length: number): Uint8Array;
}

/** A uniformly random string of decimal digits (rejection sampling, no modulo bias). */
export function randomDigits(random: RandomSource, length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of random.bytes(length)) {
      if (byte < 250 && out.length < length) out += String(byte % 10);
    }
  }
  return out;
}

/** A random identifier: 128 bits, hex. */
export function randomId(random: RandomSource): string {
  return Buffer.from(random.bytes(16)).toString('hex');
}
