import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { KeyRing } from '../config/secret-key.ts';
import type { RandomSource } from '../domain/providers.ts';

// TOTP secrets at rest: AES-256-GCM under the active key of PORTCULLIS_SECRET_KEY.
// Stored as base64url(iv ‖ ciphertext ‖ tag) beside the id of the key used, so
// keys can rotate. The associated data binds each ciphertext to its owner:
// a secret copied onto another user's row does not decrypt.

const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit IVs, random per encryption.
const TAG_BYTES = 16;

export interface Sealed {
  keyId: string;
  ciphertext: string;
}

export interface SecretBox {
  seal(plaintext: Uint8Array, context: string): Sealed;
  /** Undefined when the key is unknown or the ciphertext or context does not match. */
  open(sealed: Sealed, context: string): Uint8Array | undefined;
  readonly activeKeyId: string;
}

export function createSecretBox(ring: KeyRing, random: RandomSource): SecretBox {
  return {
    activeKeyId: ring.active.id,
    seal(plaintext, context) {
      const iv = random.bytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', ring.active.key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { keyId: ring.active.id, ciphertext: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url') };
    },
    open(sealed, context) {
      const key = ring.all.get(sealed.keyId);
      const raw = Buffer.from(sealed.ciphertext, 'base64url');
      if (!key || raw.length < IV_BYTES + TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        return new Uint8Array(Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]));
      } catch {
        return undefined;
      }
    },
  };
}

/** The associated data of a user's TOTP secret. */
export function totpContext(accountId: string, userId: string): string {
  return `portcullis:totp:${accountId}:${userId}`;
}
