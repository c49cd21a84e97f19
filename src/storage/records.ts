import type { AuthStep, FactorType } from '../domain/auth-methods.ts';
import type { Role } from '../domain/roles.ts';
import type { TotpAlgorithm } from '../domain/totp.ts';

// What the store hands to services: plain records, camelCase, no SQL types.

export interface Account {
  id: string;
  name: string;
  mfaEnabled: boolean;
  createdAt: number;
}

export type UserState = 'active' | 'disabled';

export interface User {
  id: string;
  accountId: string;
  username: string;
  role: Role;
  passwordHash: string;
  state: UserState;
  email: string | null;
  createdAt: number;
  /** The password is one an admin set: the user must choose their own before anything else. */
  passwordChangeRequired: boolean;
  /** When the inactivity rule disabled the user, the time their inactivity began; null otherwise (migration 010). */
  inactiveSince?: number | null;
}

export interface Skill {
  id: string;
  name: string;
}

export type SessionState = 'pending' | 'full';

export interface Session {
  /** SHA-256 of the cookie token, hex. */
  id: string;
  accountId: string;
  userId: string;
  state: SessionState;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  /** How it was authenticated: each factor verified and when, in order (secondFactorVerifiedAt reads the latest factor's time). */
  methods: AuthStep[];
  codeFailures: number;
  /** A pending sign-in's set-up of the user's first factor; stable across reloads. */
  enrolment: Enrolment | null;
  /** Where it was signed in from: the client's address and a short User-Agent. */
  client: SessionClient;
}

export interface SessionClient {
  ip: string | null;
  agent: string | null;
}

/** A ciphertext and the id of the key that sealed it. */
export interface Sealed {
  keyId: string;
  ciphertext: string;
}

/** The factor being set up and its state, sealed (for totp: the candidate secret). */
export interface Enrolment {
  type: FactorType;
  state: Sealed;
}

interface FactorBase {
  id: string;
  accountId: string;
  userId: string;
  type: FactorType;
  /** The name the user gives it ("Authenticator app" until they do). */
  name: string;
  createdAt: number;
  createdIp: string | null;
  lastUsedAt: number | null;
}

/** An authenticator app: RFC 6238 parameters, the sealed secret, the replay defence and the observed drift. */
export interface TotpFactor extends FactorBase {
  type: 'totp';
  secret: Sealed;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
  lastUsedStep: number;
  driftSteps: number;
}

/** A security key or passkey (WebAuthn): its credential, the public key and the signature counter it last reported. */
export interface WebAuthnFactor extends FactorBase {
  type: 'webauthn';
  /** base64url, as the browser reports it. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The signature counter of its last accepted assertion (0 for authenticators that keep none). */
  signCount: number;
  /** How the browser may reach it (usb, nfc, ble, internal, hybrid), as it said at registration. */
  transports: string[];
}

export type Factor = TotpFactor | WebAuthnFactor;

/** What a WebAuthn challenge is for: setting up a key, or signing in with one. */
export type WebAuthnPurpose = 'register' | 'authenticate';

/** A ceremony's challenge, kept server-side for the session that asked for it; single use, expiring. */
export interface WebAuthnChallenge {
  id: string;
  sessionId: string;
  accountId: string;
  userId: string;
  purpose: WebAuthnPurpose;
  /** base64url, as sent to the browser. */
  challenge: string;
  createdAt: number;
  expiresAt: number;
}

/** A passkey sign-in's challenge: asked for by one browser (binding: the SHA-256 of its cookie's token) for one account; single use, expiring. */
export interface PasskeyChallenge {
  id: string;
  binding: string;
  accountId: string;
  /** base64url, as sent to the browser. */
  challenge: string;
  createdAt: number;
  expiresAt: number;
}

export type ThrottleScope = 'password' | 'address' | 'totp';

export interface ThrottleKey {
  scope: ThrottleScope;
  /** '' for keys that belong to no account (client addresses). */
  accountId: string;
  subject: string;
}

export interface ThrottleState {
  failures: number;
  lockCount: number;
  lockedUntil: number | null;
}

export interface AuditEvent {
  id: string;
  accountId: string;
  at: number;
  actorUserId: string | null;
  /** Who acted, as a person reads it: a username, "cli" or "anonymous". */
  actor: string;
  action: string;
  targetUserId: string | null;
  target: string | null;
  ip: string | null;
  result: 'success' | 'failure';
  detail: Record<string, unknown> | null;
}

/** An OpenID Connect client of an account (issue 13). */
export interface Application {
  /** The client id. */
  id: string;
  accountId: string;
  name: string;
  /** SHA-256 of the client secret (hex); null for a public client. */
  secretHash: string | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  /** Where the home page's launcher opens the application; null: not listed. */
  launchUrl: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What oidc-provider stored under one model and id, as it gave it. */
export interface OidcPayload {
  payload: Record<string, unknown>;
  consumedAt: number | null;
}

/** A signing key of the provider, its private JWK sealed. */
export interface SigningKey {
  id: string;
  alg: 'RS256' | 'ES256';
  privateJwk: Sealed;
  createdAt: number;
  signsFrom: number;
  retiredAt: number | null;
}
