/**
 * A part the request needs failed for a moment (a hashing thread lost, a lock
 * not granted in time): nothing was decided and nothing changed, so the client
 * should try again rather than be told its credentials are wrong. Answered 503.
 */
export class TemporarilyUnavailable extends Error {
  override name = 'TemporarilyUnavailable';
}
