import { base32Encode } from './base32.ts';
import type { TotpParams } from './totp.ts';

/**
 * The Google Authenticator key-URI format:
 *   otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * The issuer appears both as the label prefix and as a parameter, as the
 * format recommends; both are percent-encoded (a space as %20).
 */
export function otpauthUri(issuer: string, accountName: string, secret: Uint8Array, params: TotpParams): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`;
  const query = [
    `secret=${base32Encode(secret)}`,
    `issuer=${encodeURIComponent(issuer)}`,
    `algorithm=${params.algorithm}`,
    `digits=${params.digits}`,
    `period=${params.period}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}
