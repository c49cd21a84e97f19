import type { Generated } from 'kysely';

// Row types of every table. Times are milliseconds since the epoch (bigint
// columns, read as numbers). Every table holding tenant data has account_id.

export interface AccountsTable {
  id: string;
  name: string;
  mfa_enabled: number;
  created_at: number;
}

export interface UsersTable {
  id: string;
  account_id: string;
  username: string;
  username_key: string;
  role: string;
  password_hash: string;
  state: string;
  email: string | null;
  created_at: number;
  updated_at: number;
  /** 1 while the password is one an admin set: the user must choose their own first (migration 009). */
  password_change_required: Generated<number>;
  /** The last sign-in, or re-enabling (migration 010). */
  last_active_at: Generated<number | null>;
  /** Set when the inactivity job disabled the user: since when they were inactive (migration 010). */
  inactive_since: Generated<number | null>;
}

/** Account Access Control's sign-in rules, one row per account (migration 010). */
export interface AccountAccessRulesTable {
  account_id: string;
  /** AddressRange[] as JSON. */
  ranges: Generated<string>;
  applies_to: Generated<string>;
  min_password_length: Generated<number | null>;
  lock_after_failures: Generated<number | null>;
  idle_timeout_ms: Generated<number | null>;
  absolute_timeout_ms: Generated<number | null>;
  inactive_days: Generated<number | null>;
  inactive_from: Generated<number | null>;
  /** Remember this browser: days a browser may skip the code; null or 0: off (migration 012). */
  remember_browser_days: Generated<number | null>;
  /** The allowed kinds of factor, comma-separated (migration 011). */
  allowed_factors: Generated<string>;
  admins_need_key: Generated<number>;
  updated_at: number;
}

/** A browser a user chose to remember (migration 012): found by the hash of its cookie's token only. */
export interface RememberedBrowsersTable {
  id: string;
  account_id: string;
  user_id: string;
  token_hash: string;
  /** A short name for the browser and system, from the User-Agent. */
  device: string | null;
  ip: string | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
}

export interface SkillsTable {
  id: string;
  account_id: string;
  name: string;
  name_key: string;
  created_at: number;
}

export interface UserSkillsTable {
  account_id: string;
  user_id: string;
  skill_id: string;
}

export interface SessionsTable {
  /** SHA-256 of the cookie's token, hex; the token itself is never stored. */
  id: string;
  account_id: string;
  user_id: string;
  state: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  /** When a second factor was last verified (derived from auth_steps, kept for the SQL filters). */
  mfa_verified_at: number | null;
  code_failures: Generated<number>;
  /** A pending sign-in's set-up of its first factor: the type and its sealed state (migration 006). */
  enrolment_type: Generated<string | null>;
  enrolment_key_id: Generated<string | null>;
  enrolment_state: Generated<string | null>;
  /** How it was authenticated: AuthStep[] as JSON (migration 006). */
  auth_steps: Generated<string | null>;
  /** The address and short User-Agent of the sign-in (migration 005). */
  client_ip: Generated<string | null>;
  client_agent: Generated<string | null>;
}

/** A user's factors (migration 006): the columns of one type are null for the others. */
export interface FactorsTable {
  id: string;
  account_id: string;
  user_id: string;
  type: string;
  name: string;
  created_at: number;
  created_ip: string | null;
  last_used_at: number | null;
  /** totp */
  secret_key_id: string | null;
  secret_ciphertext: string | null;
  algorithm: string | null;
  digits: number | null;
  period: number | null;
  last_used_step: number | null;
  drift_steps: number | null;
  /** webauthn (migration 008) */
  credential_id: Generated<string | null>;
  public_key: Generated<string | null>;
  sign_count: Generated<number | null>;
  transports: Generated<string | null>;
}

/** A WebAuthn ceremony's challenge, bound to the session that asked for it (migration 008). */
export interface WebAuthnChallengesTable {
  id: string;
  session_id: string;
  account_id: string;
  user_id: string;
  purpose: string;
  challenge: string;
  created_at: number;
  expires_at: number;
}

export interface PasskeyChallengesTable {
  id: string;
  binding: string;
  account_id: string;
  challenge: string;
  created_at: number;
  expires_at: number;
}

export interface RecoveryCodesTable {
  id: string;
  account_id: string;
  user_id: string;
  code_hash: string;
  used_at: number | null;
}

export interface ThrottlesTable {
  scope: string;
  account_id: string;
  subject: string;
  failures: number;
  lock_count: number;
  locked_until: number | null;
  updated_at: number;
}

export interface AuditEventsTable {
  id: string;
  account_id: string;
  at: number;
  actor_user_id: string | null;
  actor: string;
  action: string;
  target_user_id: string | null;
  target: string | null;
  ip: string | null;
  result: string;
  detail: string | null;
}

/** A user's live Reset password link, by the SHA-256 of its token (migration 009): one per user. */
export interface PasswordResetsTable {
  account_id: string;
  user_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  /** Who issued it, as a person reads it: an admin's username or "cli". */
  created_by: string;
}

/** Each user's name once per starting position, cut short (migration 004): the part-of-name search. */
export interface UserNameSuffixesTable {
  account_id: string;
  suffix: string;
  user_id: string;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  skills: SkillsTable;
  user_skills: UserSkillsTable;
  sessions: SessionsTable;
  throttles: ThrottlesTable;
  audit_events: AuditEventsTable;
  factors: FactorsTable;
  recovery_codes: RecoveryCodesTable;
  webauthn_challenges: WebAuthnChallengesTable;
  passkey_challenges: PasskeyChallengesTable;
  user_name_suffixes: UserNameSuffixesTable;
  applications: ApplicationsTable;
  oidc_payloads: OidcPayloadsTable;
  signing_keys: SigningKeysTable;
  password_resets: PasswordResetsTable;
  account_access_rules: AccountAccessRulesTable;
  remembered_browsers: RememberedBrowsersTable;
}

export interface ApplicationsTable {
  id: string;
  account_id: string;
  name: string;
  secret_hash: string | null;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  backchannel_logout_uri: string | null;
  launch_url: string | null;
  created_at: number;
  updated_at: number;
}

export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  user_id: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

export interface SigningKeysTable {
  id: string;
  alg: string;
  secret_key_id: string;
  private_jwk: string;
  created_at: number;
  signs_from: number;
  retired_at: number | null;
}
