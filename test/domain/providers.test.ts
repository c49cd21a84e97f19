import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { randomDigits, randomId } from '../../src/domain/providers.ts';
import type { RandomSource } from '../../src/domain/providers.ts';
import { bufferedRandom } from '../../src/runtime.ts';

const cryptoRandom: RandomSource = { bytes: (n) => new Uint8Array(randomBytes(n)) };

/** Hands out the given bytes in order, as many as each call asks for. */
function scripted(bytes: number[]): RandomSource {
  let next = 0;
  return {
    bytes(length) {
      if (next + length > bytes.length) throw new Error('scripted random source ran out');
      const out = Uint8Array.from(bytes.slice(next, next + length));
      next += length;
      return out;
    },
  };
}

describe('randomDigits', () => {
  it('answers only digits, of the asked length', () => {
    for (const length of [1, 6, 8, 10, 33]) {
      expect(randomDigits(cryptoRandom, length)).toMatch(new RegExp(`^[0-9]{${length}}$`));
    }
  });

  it('answers an empty string for length 0', () => {
    expect(randomDigits(cryptoRandom, 0)).toBe('');
  });

  it('is roughly uniform over 20,000 digits (each between 8% and 12%)', () => {
    const digits = randomDigits(cryptoRandom, 20_000);
    expect(digits).toHaveLength(20_000);
    const counts = new Array<number>(10).fill(0);
    for (const d of digits) counts[Number(d)] = (counts[Number(d)] ?? 0) + 1;
    for (const [digit, count] of counts.entries()) {
      expect(count / 20_000, `digit ${digit}`).toBeGreaterThan(0.08);
      expect(count / 20_000, `digit ${digit}`).toBeLessThan(0.12);
    }
  });

  it('takes a byte b below 250 as b mod 10', () => {
    expect(randomDigits(scripted([0, 9, 10, 123, 249, 7]), 6)).toBe('090397');
  });

  it('throws away bytes 250-255 instead of letting them bias 0-5', () => {
    expect(randomDigits(scripted([250, 255, 3, 249]), 2)).toBe('39');
    expect(randomDigits(scripted([252, 251, 253, 254, 41, 58]), 2)).toBe('18');
  });
});

describe('randomId', () => {
  it('is 32 hex characters (128 bits)', () => {
    expect(randomId(cryptoRandom)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('encodes the 16 bytes it is given', () => {
    const bytes = Array.from({ length: 16 }, (_, i) => i * 17);
    expect(randomId(scripted(bytes))).toBe('00112233445566778899aabbccddeeff');
  });

  it('differs from call to call with a real random source', () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomId(cryptoRandom)));
    expect(ids.size).toBe(100);
  });
});

describe('the buffered system random source', () => {
  it('hands out each byte once, in copies of the asked length, across refills', () => {
    const random = bufferedRandom(64); // a refill every four 16-byte draws
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const draw = random.bytes(16);
      expect(draw).toHaveLength(16);
      expect(draw.buffer.byteLength).toBe(16); // a copy, not a view of the pool
      seen.add(Buffer.from(draw).toString('hex'));
    }
    expect(seen.size).toBe(1000);
    expect(random.bytes(5)).toHaveLength(5);
    expect(random.bytes(1000)).toHaveLength(1000); // larger than a quarter of the pool: drawn directly
  });

  it('looks uniform: every byte value turns up about as often in 256 KiB', () => {
    const random = bufferedRandom();
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 16_384; i++) for (const byte of random.bytes(16)) counts[byte] = (counts[byte] ?? 0) + 1;
    // Expected 1,024 each; a fair source stays within ±25% with overwhelming probability.
    expect(Math.min(...counts)).toBeGreaterThan(768);
    expect(Math.max(...counts)).toBeLessThan(1280);
  });
});
