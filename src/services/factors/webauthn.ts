import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { webauthnDefaults } from '../../config/defaults.ts';
import { randomId } from '../../domain/providers.ts';
import { allowedKinds, usableFactors } from '../../domain/factor-policy.ts';
import type { WebAuthnFactor, WebAuthnPurpose } from '../../storage/records.ts';
import type { SessionView } from '../../storage/queries/sessions.ts';
import type { Deps } from '../deps.ts';
import { StartOver } from './factor-module.ts';
import type { Challenge, RelyingParty, SecondFactor, Spent, Verified } from './factor-module.ts';
import { freshRecoveryCodes } from './recovery-code.ts';

// Security keys and passkeys (W3C WebAuthn Level 3, through @simplewebauthn/server).
// A ceremony starts with options holding a challenge kept server-side for the
// session that asked (webauthn_challenges: single use, expiring); the browser's
// answer is verified against that challenge, this relying party's id and
// origin, and the user's own credentials; spending it deletes the challenge and
// records the new signature counter in the transaction that completes the
// sign-in. Attestation "none": we do not ask which make of key it is
// (§5.4.7), so any key will do and nothing identifying is kept.

export const DEFAULT_WEBAUTHN_NAME = 'Security key';

/**
 * The library, loaded on first use: the CLI reaches this module through the
 * factor index, and a break-glass command should not pay for loading a WebAuthn
 * verifier it never calls.
 */
export const library = () => import('@simplewebauthn/server');

/** What the browser half needs to start a ceremony: create a credential, or sign with one. */
export type CeremonyOptions =
  | { mode: 'register'; options: PublicKeyCredentialCreationOptionsJSON }
  | { mode: 'authenticate'; options: PublicKeyCredentialRequestOptionsJSON };

export type WebAuthnProof =
  | { kind: 'register'; challengeId: string; credential: { id: string; publicKey: string; counter: number; transports: string[] } }
  | { kind: 'authenticate'; challengeId: string; factorId: string; checkedCount: number; newCount: number };

export function webauthnFactorsOf(challenge: Pick<Challenge, 'factors'>): WebAuthnFactor[] {
  return challenge.factors.filter((f): f is WebAuthnFactor => f.type === 'webauthn');
}

export const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** The user handle a credential is made for (§5.4.3): the user's random id, never the username. */
export function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(userId);
}

async function issueChallenge(deps: Deps, view: SessionView, purpose: WebAuthnPurpose): Promise<string> {
  const challenge = b64url(deps.random.bytes(webauthnDefaults.challengeBytes));
  const now = deps.clock.now();
  await deps.store.webauthnChallenges.issue({
    id: randomId(deps.random),
    sessionId: view.session.id,
    accountId: view.account.id,
    userId: view.user.id,
    purpose,
    challenge,
    createdAt: now,
    expiresAt: now + webauthnDefaults.challengeTtlMs,
  });
  return challenge;
}

/** Options to create a credential for the session's user (their keys excluded, so one key is not added twice). */
export async function registrationOptions(deps: Deps, view: SessionView, rp: RelyingParty): Promise<CeremonyOptions> {
  const keys = webauthnFactorsOf({ factors: await deps.store.factors.forUser(view.account.id, view.user.id) });
  const challenge = await issueChallenge(deps, view, 'register');
  const { generateRegistrationOptions } = await library();
  const options = await generateRegistrationOptions({
    rpName: view.account.name,
    rpID: rp.id,
    userName: view.user.username,
    userID: userHandle(view.user.id),
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: webauthnDefaults.ceremonyTimeoutMs,
    attestationType: 'none',
    excludeCredentials: keys.map((k) => ({ id: k.credentialId, transports: k.transports })),
    // A passkey where the authenticator can keep one; user verification asked
    // for, not required (the password was the first factor).
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  return { mode: 'register', options };
}

/** Options to sign with one of the user's keys; undefined when they have none. */
export async function authenticationOptions(deps: Deps, view: SessionView, rp: RelyingParty): Promise<CeremonyOptions | undefined> {
  const keys = webauthnFactorsOf({ factors: await deps.store.factors.forUser(view.account.id, view.user.id) });
  if (keys.length === 0) return undefined;
  const challenge = await issueChallenge(deps, view, 'authenticate');
  const { generateAuthenticationOptions } = await library();
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: webauthnDefaults.ceremonyTimeoutMs,
    allowCredentials: keys.map((k) => ({ id: k.credentialId, transports: k.transports })),
    userVerification: 'preferred',
  });
  return { mode: 'authenticate', options };
}

/**
 * The options a pending sign-in needs: set up a first key when the user has no
 * factor that counts (and the account allows keys), else sign with one;
 * undefined when neither applies.
 */
export async function signInOptions(deps: Deps, view: SessionView, rp: RelyingParty): Promise<CeremonyOptions | undefined> {
  const rules = await deps.store.accessRules.get(view.account.id);
  const all = await deps.store.factors.forUser(view.account.id, view.user.id);
  const factors = usableFactors(rules.factors, view.user.role, all);
  if (factors.length === 0) return allowedKinds(rules.factors, view.user.role).includes('webauthn') ? registrationOptions(deps, view, rp) : undefined;
  return webauthnFactorsOf({ factors }).length > 0 ? authenticationOptions(deps, view, rp) : undefined;
}

export type Parsed = { ok: true; json: Record<string, unknown>; id: string; challenge: string; type: string } | { ok: false; reason: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The browser's answer as far as we read it before verifying: its shape, the credential id and the challenge its client data holds. */
export function parse(input: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(input);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isRecord(json) || json.type !== 'public-key' || !isRecord(json.response)) return { ok: false, reason: 'malformed' };
  const { id, rawId } = json;
  if (typeof id !== 'string' || !B64URL.test(id) || id !== rawId) return { ok: false, reason: 'malformed' };
  const clientData = json.response.clientDataJSON;
  if (typeof clientData !== 'string' || !B64URL.test(clientData)) return { ok: false, reason: 'malformed' };
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isRecord(data) || typeof data.challenge !== 'string' || typeof data.type !== 'string') return { ok: false, reason: 'malformed' };
  return { ok: true, json, id, challenge: data.challenge, type: data.type };
}

/** The library's reason, for the audit log (its messages name the check that failed: origin, RP id, challenge, signature). */
export function libraryRefusal(error: unknown): { ok: false; reason: string } {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, reason: `rejected: ${message.slice(0, 200)}` };
}

async function verifyRegistration(deps: Deps, challenge: Challenge, rp: RelyingParty, parsed: Extract<Parsed, { ok: true }>): Promise<Verified<WebAuthnProof>> {
  const stored = await deps.store.webauthnChallenges.find(challenge.view.session.id, 'register', parsed.challenge, deps.clock.now());
  if (!stored) return { ok: false, reason: 'challenge unknown, expired or used' };
  const { verifyRegistrationResponse } = await library();
  try {
    const result = await verifyRegistrationResponse({
      response: parsed.json as unknown as RegistrationResponseJSON,
      expectedChallenge: stored.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      expectedType: 'webauthn.create',
      requireUserVerification: false,
    });
    if (!result.verified) return { ok: false, reason: 'not verified' };
    const { credential } = result.registrationInfo;
    const transports = (credential.transports ?? []).filter((t) => typeof t === 'string').slice(0, 8);
    return {
      ok: true,
      proof: { kind: 'register', challengeId: stored.id, credential: { id: credential.id, publicKey: b64url(credential.publicKey), counter: credential.counter, transports } },
    };
  } catch (error) {
    return libraryRefusal(error);
  }
}

async function verifyAssertion(deps: Deps, challenge: Challenge, rp: RelyingParty, parsed: Extract<Parsed, { ok: true }>): Promise<Verified<WebAuthnProof>> {
  const stored = await deps.store.webauthnChallenges.find(challenge.view.session.id, 'authenticate', parsed.challenge, deps.clock.now());
  if (!stored) return { ok: false, reason: 'challenge unknown, expired or used' };
  // Only the user's own keys: another user's or another account's credential is simply not one of them.
  const key = webauthnFactorsOf(challenge).find((k) => k.credentialId === parsed.id);
  if (!key) return { ok: false, reason: 'credential not one of the user’s' };
  let newCount: number;
  const { verifyAuthenticationResponse } = await library();
  try {
    const result = await verifyAuthenticationResponse({
      response: parsed.json as unknown as AuthenticationResponseJSON,
      expectedChallenge: stored.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      expectedType: 'webauthn.get',
      // The counter is checked below, by us, so a counter going backwards is told apart and audited.
      credential: { id: key.credentialId, publicKey: Buffer.from(key.publicKey, 'base64url'), counter: 0, transports: key.transports },
      requireUserVerification: false,
    });
    if (!result.verified) return { ok: false, reason: 'not verified' };
    newCount = result.authenticationInfo.newCounter;
  } catch (error) {
    return libraryRefusal(error);
  }
  // W3C WebAuthn Level 3 §6.1.1 and §7.2 step 22: a signature counter that is
  // not greater than the stored one (when either is non-zero) signals that the
  // key may have been cloned. Refused, and told apart so it is audited as such.
  if ((key.signCount > 0 || newCount > 0) && newCount <= key.signCount) return { ok: false, reason: 'possible_clone', factorId: key.id };
  return { ok: true, proof: { kind: 'authenticate', challengeId: stored.id, factorId: key.id, checkedCount: key.signCount, newCount } };
}

/** A new key's registration, verified against the session's register challenge (adding a key from Your security); writes nothing. */
export type NewKeyProof = Extract<WebAuthnProof, { kind: 'register' }>;

export async function verifyNewKey(deps: Deps, view: SessionView, rp: RelyingParty, input: string): Promise<Verified<NewKeyProof>> {
  const parsed = parse(input.slice(0, webauthnDefaults.maxResponseChars));
  if (!parsed.ok) return parsed;
  if (parsed.type !== 'webauthn.create') return { ok: false, reason: 'not a registration' };
  const verified = await verifyRegistration(deps, { view, factors: [] }, rp, parsed);
  if (!verified.ok) return verified;
  return verified.proof.kind === 'register' ? { ok: true, proof: verified.proof } : { ok: false, reason: 'not a registration' };
}

async function saveFirstKey(deps: Deps, challenge: Challenge, proof: Extract<WebAuthnProof, { kind: 'register' }>, ip: string): Promise<Spent> {
  const { view } = challenge;
  // Someone set up a factor for this user a moment ago (the code step holds the user's row lock, so this read is current).
  if (challenge.factors.length > 0) throw new StartOver();
  const taken = await deps.store.factors.credentialTaken(view.account.id, proof.credential.id);
  if (taken) return { ok: false, reason: 'credential already registered in this account' };
  const now = deps.clock.now();
  await deps.store.factors.createWebAuthn({
    id: randomId(deps.random),
    accountId: view.account.id,
    userId: view.user.id,
    type: 'webauthn',
    name: DEFAULT_WEBAUTHN_NAME,
    createdAt: now,
    createdIp: ip,
    lastUsedAt: now,
    credentialId: proof.credential.id,
    publicKey: proof.credential.publicKey,
    signCount: proof.credential.counter,
    transports: proof.credential.transports,
  });
  return { ok: true, recoveryCodes: await freshRecoveryCodes(deps, view.account.id, view.user.id) };
}

export const webauthnSecondFactor: SecondFactor<WebAuthnProof> = {
  method: 'webauthn',
  maxInput: webauthnDefaults.maxResponseChars,

  async verify(deps, challenge, input): Promise<Verified<WebAuthnProof>> {
    const rp = challenge.relyingParty;
    if (!rp) return { ok: false, reason: 'no relying party' };
    const parsed = parse(input);
    if (!parsed.ok) return parsed;
    if (challenge.factors.length === 0) {
      if (parsed.type !== 'webauthn.create') return { ok: false, reason: 'not a registration' };
      return verifyRegistration(deps, challenge, rp, parsed);
    }
    if (parsed.type !== 'webauthn.get') return { ok: false, reason: 'not an assertion' };
    return verifyAssertion(deps, challenge, rp, parsed);
  },

  async spend(deps, challenge, proof, ip): Promise<Spent> {
    // The challenge goes first: of two answers racing with one challenge, one spends it.
    if (!(await deps.store.webauthnChallenges.spend(challenge.view.session.id, proof.challengeId, deps.clock.now()))) {
      return { ok: false, reason: 'challenge used or expired' };
    }
    if (proof.kind === 'register') return saveFirstKey(deps, challenge, proof, ip);
    const { account, user } = challenge.view;
    const recorded = await deps.store.factors.recordWebAuthnUse(account.id, user.id, proof.factorId, proof.checkedCount, proof.newCount, deps.clock.now());
    return recorded ? { ok: true } : { ok: false, reason: 'counter changed meanwhile' };
  },
};
