import { createHash } from 'node:crypto';
import type { RandomSource } from './providers.ts';

// Recovery codes: 10 per enrolment, each 12 characters from a 32-symbol
// alphabet without look-alikes (60 bits), shown as XXXX-XXXX-XXXX. At 60
// bits a guess is hopeless within the lockout, so a salted SHA-256 is enough
// to store them (the Copenhagen Book, "Recovery codes"); each is single-use.

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const LENGTH = 12;

export function generateRecoveryCodes(random: RandomSource, count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const bytes = random.bytes(LENGTH);
    const chars = Array.from(bytes, (b) => ALPHABET[b & 31]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
  });
}

/** Upper-cases and drops spaces and dashes; undefined if it cannot be a recovery code. */
export function normalizeRecoveryCode(input: string): string | undefined {
  const clean = input.replace(/[\s-]/g, '').toUpperCase();
  return clean.length === LENGTH && [...clean].every((c) => ALPHABET.includes(c)) ? clean : undefined;
}

/** Salted with the user id, so equal codes of two users hash differently. */
export function hashRecoveryCode(userId: string, normalized: string): string {
  return createHash('sha256').update(`portcullis-recovery:${userId}:${normalized}`).digest('hex');
}
