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

export type Factor = TotpFactor;

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
