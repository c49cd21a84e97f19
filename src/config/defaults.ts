// Every security number Portcullis uses, with the source it comes from.
// Settings (src/config/settings.ts) start from these and may override them
// from the environment; nothing else hard-codes a limit.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const passwordDefaults = {
  // OWASP Password Storage Cheat Sheet, "Argon2id": m=19 MiB, t=2, p=1.
  argon2MemoryKiB: 19_456,
  argon2Iterations: 2,
  argon2Parallelism: 1,
  // ASVS 4.0.3 V2.1.1 (at least 12 characters) and V2.1.2 (64 or more allowed;
  // we allow 128). NIST SP 800-63B §5.1.1.2: no truncation, NFKC normalization.
  minLength: 12,
  maxLength: 128,
} as const;

export const passwordResetDefaults = {
  // A Reset password link an admin sends (issue 15): valid 24 hours, once.
  // OWASP Forgot Password Cheat Sheet ("URL tokens": random, long, single
  // use, expiring; stored hashed) and NIST SP 800-63B §5.1.1.2 leave the
  // lifetime to the verifier; a day covers the next shift of a contact centre.
  lifetimeMs: 24 * HOUR,
  // 256 bits from the CSPRNG, as a session token (NIST SP 800-63B §5.2.7 asks
  // for at least 64 bits of a secret the verifier looks up).
  tokenBytes: 32,
} as const;

export const rememberBrowserDefaults = {
  // Remember this browser (issue 15): the cookie's token is 256 bits from the
  // CSPRNG, as a session token (ASVS 4.0.3 V3.2.2 asks at least 64), stored as
  // its SHA-256 only. The days (at most 30) are the account's admin's choice,
  // off by default (domain/remember-browser.ts).
  tokenBytes: 32,
} as const;

export const throttleDefaults = {
  // The spec's abuse limits, also used for passwords "the same way":
  // NIST SP 800-63B §5.2.2 requires rate limiting to at most 100 consecutive
  // failures; we lock after 10, for 15 minutes, doubling up to 24 hours.
  maxConsecutiveFailures: 10,
  firstLockMs: 15 * MINUTE,
  maxLockMs: 24 * HOUR,
  // A client address is no user: one NAT or one proxy on the same host may
  // stand for hundreds of people, so failures counted against it only slow it
  // down (issue 16, finding 3): each `maxConsecutiveFailures` of them within
  // the window make it wait this long, never longer and never doubling; the
  // per-user locks above stay the wall against guessing. 30 seconds is the
  // first wait NIST SP 800-63B §5.2.2 gives as an example.
  addressDelayMs: 30_000,
} as const;

export const sessionDefaults = {
  // NIST SP 800-63B §4.2.3 (AAL2): reauthenticate after 12 hours of use or
  // 30 minutes of inactivity. ASVS 4.0.3 V3.3.2 asks for the same kind of limits.
  idleTimeoutMs: 30 * MINUTE,
  absoluteTimeoutMs: 12 * HOUR,
  // The spec: a pending sign-in (password verified, code outstanding) lives 5 minutes.
  pendingTimeoutMs: 5 * MINUTE,
  // Write last-seen at most once a minute, so a busy session costs one write a minute.
  touchIntervalMs: MINUTE,
  // ASVS 4.0.3 V3.2.2: at least 64 bits of entropy; we use 256.
  tokenBytes: 32,
} as const;

export const mfaDefaults = {
  // The spec: a pending sign-in takes at most 5 wrong codes.
  maxCodesPerPendingSignIn: 5,
  // RFC 6238 §5.2: allow at most one step of delay either side.
  window: 1,
  // How far (in steps, 10 = 5 minutes) a wrong code is compared, without being
  // accepted, to tell the user their phone's clock is off.
  skewSearchSteps: 10,
  // ASVS 4.0.3 V4.3.1 / the spec: sensitive admin actions want a second factor
  // verified within the last 15 minutes.
  stepUpMaxAgeMs: 15 * MINUTE,
  // RFC 4226 §4 R6 / the spec: 160-bit secrets.
  secretBytes: 20,
} as const;

export const webauthnDefaults = {
  // W3C WebAuthn Level 3 §13.4.3: challenges at least 16 random bytes; we use 32.
  challengeBytes: 32,
  // W3C WebAuthn Level 3 §15.1 (ceremony timeouts): 5 to 10 minutes when user
  // verification is asked for. 5 minutes, the life of a pending sign-in, so a
  // challenge never outlives the sign-in it belongs to.
  challengeTtlMs: 5 * MINUTE,
  // How long the browser waits for the key (the options' timeout), the same.
  ceremonyTimeoutMs: 5 * MINUTE,
  // The largest response a browser sends for one key (ids, authenticator data,
  // a signature, client data and, at registration, an attestation object with
  // attestation "none"): a few KiB. Anything bigger is refused unread.
  maxResponseChars: 16_384,
} as const;

export const httpDefaults = {
  // Issue 16, finding 7: a body trickled a byte every few seconds held a
  // connection open for minutes. The largest body a browser sends is a form
  // (64 KiB at most); the API takes up to 1 MiB. At 256 kbit/s, a poor mobile
  // link, 1 MiB arrives in about 33 s, so a whole request (headers and body)
  // gets 60 s. Node's own default is 300 s (node:http server.requestTimeout).
  requestTimeoutMs: 60_000,
  // Headers are a few KiB: 20 s (Node's default is 60 s) is ample on any link,
  // and never longer than the whole request (Node refuses that).
  headersTimeoutMs: 20_000,
} as const;
