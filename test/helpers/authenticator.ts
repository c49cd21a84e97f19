import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

// A security key in software, for tests that go through HTTP without a
// browser: it makes a P-256 credential (attestation "none") and signs
// assertions exactly as W3C WebAuthn Level 3 §6.1 and §6.5 lay out the bytes
// (authenticator data, client data, a DER ECDSA signature over
// authData ‖ SHA-256(clientDataJSON)). Its counter can be set, to play a
// cloned key; the origin and RP id it claims can be set, to play a phishing
// page. The e2e tests use Chromium's own virtual authenticator instead.

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (bytes: Uint8Array | string): Buffer => createHash('sha256').update(bytes).digest();

export interface CeremonyOptionsJSON {
  challenge: string;
  rp?: { id?: string };
  rpId?: string;
  /** Registration: the user the credential is made for (its id is the user handle, base64url). */
  user?: { id?: string };
}

export interface AssertOptions {
  challenge?: string;
  /** Whether the authenticator says it verified the user (the UV flag): true unless told. */
  userVerified?: boolean;
  /** The user handle to report, as a passkey (a discoverable credential) does: the one it was made for unless told; null for none. */
  userHandle?: string | null;
}

export class SoftKey {
  readonly credentialId: Buffer = randomBytes(32);
  private readonly privateKey: KeyObject;
  private readonly cosePublicKey: Uint8Array;
  /** The signature counter the next assertion reports (then one more each time). */
  counter = 0;
  /** The user handle the credential was made for (options.user.id at registration), as a passkey keeps it. */
  userHandle: string | undefined;

  constructor(
    /** The origin the browser reports, e.g. http://localhost:3000. */
    public origin: string,
    /** The RP id the authenticator signs for (its hash goes in the authenticator data). */
    public rpId: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    // RFC 9053 §7.1.1 (COSE EC2 key): kty 2, alg -7 (ES256), crv 1 (P-256), x, y.
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x ?? '', 'base64url')],
      [-3, Buffer.from(jwk.y ?? '', 'base64url')],
    ]);
    this.cosePublicKey = isoCBOR.encode(cose);
  }

  get id(): string {
    return b64url(this.credentialId);
  }

  private authData(flags: number, counter: number, attested?: Uint8Array): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(this.rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  private clientData(type: string, challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }

  /** The answer navigator.credentials.create() would give, as @simplewebauthn/browser sends it. */
  register(options: CeremonyOptionsJSON, { challenge = options.challenge }: { challenge?: string } = {}): Record<string, unknown> {
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, this.credentialId, Buffer.from(this.cosePublicKey)]);
    // Flags: UP (0x01), UV (0x04), AT (0x40).
    const authData = this.authData(0x45, this.counter, attested);
    this.userHandle = options.user?.id;
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', challenge)),
        attestationObject: b64url(attestationObject),
        transports: ['usb'],
      },
    };
  }

  /**
   * The answer navigator.credentials.get() would give; the counter goes up by
   * one first. Flags UP and UV (0x05), or UP alone when the user was not verified.
   */
  assert(options: CeremonyOptionsJSON, { challenge = options.challenge, userVerified = true, userHandle }: AssertOptions = {}): Record<string, unknown> {
    this.counter += 1;
    const authData = this.authData(userVerified ? 0x05 : 0x01, this.counter);
    const handle = userHandle === undefined ? this.userHandle : userHandle;
    const clientData = this.clientData('webauthn.get', challenge);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), this.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(handle ? { userHandle: handle } : {}),
      },
    };
  }
}
