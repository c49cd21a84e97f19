import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The user's phone, played by tools that are not ours: zbarimg reads the QR
// code, oathtool computes the codes. Our own TOTP code never produces a code
// a test types.

/** Reads the QR code image of a set-up page with zbarimg and answers the URI it encodes. */
export function scanQr(html: string): string {
  const match = /<img class="qr" src="data:image\/png;base64,([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no QR code image on the page');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-qr-'));
  try {
    const file = join(dir, 'qr.png');
    writeFileSync(file, Buffer.from(match[1], 'base64'));
    return execFileSync('zbarimg', ['--quiet', '--raw', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The base32 secret of an otpauth:// URI. */
export function secretOf(uri: string): string {
  const secret = new URL(uri).searchParams.get('secret');
  if (!secret) throw new Error(`no secret in ${uri}`);
  return secret;
}

/** The code oathtool computes for a base32 secret at a time (ms), optionally some steps away. */
export function oathCode(secretBase32: string, atMs: number, stepOffset = 0): string {
  const seconds = Math.floor(atMs / 1000) + stepOffset * 30;
  return execFileSync('oathtool', ['--totp', '--base32', `--now=@${seconds}`, secretBase32], { encoding: 'utf8' }).trim();
}
