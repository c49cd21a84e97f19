import { generateKeyPairSync } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { SigningKey } from '../../storage/records.ts';
import type { Deps } from '../deps.ts';

// The provider's signing keys (issue 13). RS256 is what every relying party
// verifies (OpenID Connect Core 1.0 §15.1: RS256 is mandatory to implement);
// ES256 is offered beside it for clients that ask for it
// (id_token_signed_response_alg). Private keys are sealed with the secret key
// ring, as TOTP secrets are; the public halves are published at the jwks
// endpoint.
//
// Rotation publishes before it signs: `portcullis keys rotate-signing` adds a
// key that signs only once signingDelayMs has passed, so every relying party
// that refreshes its key set within that time already knows the key when the
// first token signed with it arrives; the keys it replaces stay published
// until the last ID token they signed has expired, then leave the set.

export const signingAlgs = ['RS256', 'ES256'] as const;

/**
 * How long a rotated key is published before it signs: a day, longer than
 * relying parties usually cache a key set (openid-client and most libraries
 * fetch it again on an unknown kid anyway), and longer than the
 * KEY_SET_CHECK_MS after which every instance publishes it.
 */
export const DEFAULT_SIGNING_DELAY_S = 24 * 60 * 60;
/** The provider's ID token lifetime (provider.ts ttl.IdToken): a replaced key stays published this long after it stops signing. */
export const ID_TOKEN_TTL_S = 60 * 60;
export type SigningAlg = (typeof signingAlgs)[number];

/** The associated data a private key is sealed under: a key copied onto another row does not open. */
function keyContext(id: string, alg: string): string {
  return `portcullis:signing-key:${alg}:${id}`;
}

function generate(alg: SigningAlg): JsonWebKey {
  const { privateKey } =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'jwk' });
}

function newKey(deps: Deps, alg: SigningAlg, id: string, signsFrom: number): SigningKey {
  const jwk = generate(alg);
  const now = deps.clock.now();
  return {
    id,
    alg,
    privateJwk: deps.secrets.seal(new TextEncoder().encode(JSON.stringify(jwk)), keyContext(id, alg)),
    createdAt: now,
    signsFrom,
    retiredAt: null,
  };
}

/**
 * One key of each algorithm on first start. Their ids are fixed, so two
 * instances starting at once on one PostgreSQL insert one key each, not two.
 */
export async function ensureSigningKeys(deps: Deps): Promise<void> {
  const existing = await deps.store.signingKeys.all();
  for (const alg of signingAlgs) {
    if (existing.some((k) => k.alg === alg)) continue;
    await deps.store.signingKeys.addIfAbsent(newKey(deps, alg, `${alg.toLowerCase()}-1`, deps.clock.now()));
  }
}

export interface RotationResult {
  added: Array<{ kid: string; alg: SigningAlg; signsFrom: number }>;
  retiring: Array<{ kid: string; retiresAt: number }>;
}

/**
 * Adds a key of each algorithm that signs after the delay, and schedules the
 * keys it replaces to leave the key set once the tokens they sign have
 * expired (the delay, then the ID token lifetime).
 */
export async function rotateSigningKeys(deps: Deps, opts: { delayMs: number; idTokenTtlMs: number }): Promise<RotationResult> {
  const now = deps.clock.now();
  const signsFrom = now + opts.delayMs;
  const result: RotationResult = { added: [], retiring: [] };
  const before = await deps.store.signingKeys.all();
  for (const alg of signingAlgs) {
    const id = `${alg.toLowerCase()}-${Buffer.from(deps.random.bytes(9)).toString('base64url')}`;
    await deps.store.signingKeys.add(newKey(deps, alg, id, signsFrom));
    result.added.push({ kid: id, alg, signsFrom });
    const retiresAt = signsFrom + opts.idTokenTtlMs;
    for (const old of before.filter((k) => k.alg === alg && (k.retiredAt === null || k.retiredAt > retiresAt))) {
      await deps.store.signingKeys.retire(old.id, retiresAt);
      result.retiring.push({ kid: old.id, retiresAt });
    }
  }
  return result;
}

/**
 * Re-encrypts every signing key not sealed under the secret key ring's active
 * key (`portcullis keys rotate`), so the old secret key can leave the ring.
 * Conditional on the ciphertext read, like the TOTP secrets' re-sealing.
 */
export async function resealSigningKeys(deps: Deps): Promise<{ resealed: number; unreadable: number }> {
  let resealed = 0;
  let unreadable = 0;
  for (const key of await deps.store.signingKeys.all()) {
    if (key.privateJwk.keyId === deps.secrets.activeKeyId) continue;
    const context = keyContext(key.id, key.alg);
    const opened = deps.secrets.open(key.privateJwk, context);
    if (!opened) {
      unreadable++;
      continue;
    }
    if (await deps.store.signingKeys.reseal(key.id, key.privateJwk, deps.secrets.seal(opened, context))) resealed++;
  }
  return { resealed, unreadable };
}

export interface KeySet {
  /** Private JWKs in the provider's order: the signing key of each algorithm first, then the published ones. */
  keys: JsonWebKey[];
  /** Which keys sign and which are only published, to tell when the set has changed. */
  fingerprint: string;
}

/** The key set at a moment: keys that are not yet retired, the newest that may sign of each algorithm first. */
export async function keySetAt(deps: Deps, now: number): Promise<KeySet> {
  const all = (await deps.store.signingKeys.all()).filter((k) => k.retiredAt === null || k.retiredAt > now);
  const signing: SigningKey[] = [];
  for (const alg of signingAlgs) {
    const signer = all.filter((k) => k.alg === alg && k.signsFrom <= now).sort((a, b) => b.signsFrom - a.signsFrom || b.createdAt - a.createdAt)[0];
    if (signer) signing.push(signer);
  }
  const ordered = [...signing, ...all.filter((k) => !signing.includes(k))];
  const keys: JsonWebKey[] = [];
  for (const key of ordered) {
    const opened = deps.secrets.open(key.privateJwk, keyContext(key.id, key.alg));
    if (!opened) {
      deps.logger.error({ kid: key.id }, 'a signing key does not open with the secret key ring; it is left out of the key set');
      continue;
    }
    const jwk = JSON.parse(new TextDecoder().decode(opened)) as JsonWebKey;
    keys.push({ ...jwk, kid: key.id, alg: key.alg, use: 'sig' });
  }
  return { keys, fingerprint: ordered.map((k) => `${k.id}${signing.includes(k) ? '*' : ''}`).join(',') };
}
