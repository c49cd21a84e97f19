import type { Deps } from './deps.ts';
import { resealSigningKeys } from './oidc/signing-keys.ts';
import { totpContext } from './secret-box.ts';

export interface RotationResult {
  /** TOTP secrets. */
  resealed: number;
  /** Ciphertexts under a key that is no longer in the ring: they cannot be read. */
  unreadable: number;
  /** The OpenID Connect signing keys' private halves, sealed with the same ring. */
  signingKeys: { resealed: number; unreadable: number };
}

/**
 * Re-encrypts every TOTP secret not sealed under the active key, a batch at a
 * time, and every signing key. Each row is updated only if it still holds the
 * ciphertext read, so a concurrent reset or enrolment is never overwritten.
 */
export async function rotateSecrets(deps: Deps, batchSize = 500): Promise<RotationResult> {
  let resealed = 0;
  const unreadable = new Set<string>();
  for (;;) {
    const batch = (await deps.store.factors.sealedWithOtherKey(deps.secrets.activeKeyId, batchSize + unreadable.size)).filter(
      (a) => !unreadable.has(a.id),
    );
    if (batch.length === 0) break;
    for (const a of batch) {
      const context = totpContext(a.accountId, a.userId);
      const secret = deps.secrets.open(a.secret, context);
      if (!secret) {
        unreadable.add(a.id);
        continue;
      }
      if (await deps.store.factors.reseal(a.id, a.secret, deps.secrets.seal(secret, context))) resealed++;
    }
  }
  return { resealed, unreadable: unreadable.size, signingKeys: await resealSigningKeys(deps) };
}
