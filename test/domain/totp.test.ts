import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, groupsOfFour } from '../../src/domain/base32.ts';
import { otpauthUri } from '../../src/domain/otpauth-uri.ts';
import { checkTotp, hotp, normalizeCode, standardTotp, timeStep, totpAt } from '../../src/domain/totp.ts';
import type { TotpAlgorithm } from '../../src/domain/totp.ts';

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));

describe('HOTP (RFC 4226 Appendix D)', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  for (const [count, code] of expected.entries()) {
    it(`count ${count} gives ${code}`, () => {
      expect(hotp(ascii('12345678901234567890'), count, 6)).toBe(code);
    });
  }
});

describe('TOTP (RFC 6238 Appendix B)', () => {
  const seeds: Record<TotpAlgorithm, string> = {
    SHA1: '12345678901234567890',
    SHA256: '12345678901234567890123456789012',
    SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
  };
  const rows: Array<[number, string, string, string]> = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [time, sha1, sha256, sha512] of rows) {
    for (const [algorithm, code] of [['SHA1', sha1], ['SHA256', sha256], ['SHA512', sha512]] as const) {
      it(`${algorithm} at T=${time} gives ${code}`, () => {
        const step = timeStep(time * 1000, 30);
        expect(totpAt(ascii(seeds[algorithm]), step, { algorithm, digits: 8, period: 30 })).toBe(code);
      });
    }
  }
});

describe('TOTP against oathtool (an independent implementation)', () => {
  it('agrees on 20 random secrets at random times', () => {
    for (let i = 0; i < 20; i++) {
      const secret = randomBytes(20);
      const time = 1_600_000_000 + Math.floor(Math.random() * 400_000_000);
      const theirs = execFileSync('oathtool', ['--totp', '-b', `--now=@${time}`, base32Encode(secret)], { encoding: 'utf8' }).trim();
      expect(totpAt(secret, timeStep(time * 1000, 30), standardTotp)).toBe(theirs);
    }
  });
});

describe('checkTotp', () => {
  const key = randomBytes(20);
  const now = 1_795_860_000_000;
  const step = timeStep(now, 30);
  const opts = { nowMs: now, window: 1, lastUsedStep: null, skewSearch: 10 };
  const code = (offset: number) => totpAt(key, step + offset, standardTotp);

  it('accepts the current step and one either side, reporting the drift', () => {
    expect(checkTotp(key, code(0), standardTotp, opts)).toEqual({ ok: true, step, drift: 0 });
    expect(checkTotp(key, code(-1), standardTotp, opts)).toEqual({ ok: true, step: step - 1, drift: -1 });
    expect(checkTotp(key, code(1), standardTotp, opts)).toEqual({ ok: true, step: step + 1, drift: 1 });
  });

  it('refuses a code two to ten steps old, telling the clock is behind', () => {
    expect(checkTotp(key, code(-2), standardTotp, opts)).toEqual({ ok: false, reason: 'clock_skew', driftSteps: -2 });
    expect(checkTotp(key, code(-8), standardTotp, opts)).toEqual({ ok: false, reason: 'clock_skew', driftSteps: -8 });
    expect(checkTotp(key, code(-10), standardTotp, opts)).toEqual({ ok: false, reason: 'clock_skew', driftSteps: -10 });
  });

  it('refuses a code two to ten steps ahead as a plain mismatch: it names a step still to come (issue 16, finding 1)', () => {
    for (const offset of [2, 8, 10]) expect(checkTotp(key, code(offset), standardTotp, opts)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a code of the last accepted step or an earlier one (RFC 6238 §5.2)', () => {
    expect(checkTotp(key, code(0), standardTotp, { ...opts, lastUsedStep: step })).toEqual({ ok: false, reason: 'reused' });
    expect(checkTotp(key, code(-1), standardTotp, { ...opts, lastUsedStep: step })).toEqual({ ok: false, reason: 'reused' });
    expect(checkTotp(key, code(1), standardTotp, { ...opts, lastUsedStep: step })).toMatchObject({ ok: true, step: step + 1 });
  });

  it('takes a code typed with a space or dash in the middle, and nothing else', () => {
    const c = code(0);
    expect(checkTotp(key, `${c.slice(0, 3)} ${c.slice(3)}`, standardTotp, opts)).toMatchObject({ ok: true });
    expect(checkTotp(key, `${c.slice(0, 3)}-${c.slice(3)}`, standardTotp, opts)).toMatchObject({ ok: true });
    expect(normalizeCode('12345', 6)).toBeUndefined();
    expect(normalizeCode('1234567', 6)).toBeUndefined();
    expect(normalizeCode('12a456', 6)).toBeUndefined();
    expect(normalizeCode('١٢٣٤٥٦', 6)).toBeUndefined();
    expect(checkTotp(key, 'abcdef', standardTotp, opts)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('calls a code from far away a plain mismatch', () => {
    const far = totpAt(key, step + 500, standardTotp);
    const result = checkTotp(key, far, standardTotp, opts);
    // A far code may collide with a near one with probability ~1e-5; then it is not a mismatch.
    if (far !== code(0) && far !== code(-1) && far !== code(1)) expect(result.ok).toBe(false);
  });
});

describe('base32 and the key URI', () => {
  it('round-trips and matches RFC 4648 test vectors', () => {
    expect(base32Encode(ascii('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Encode(ascii('f'))).toBe('MY');
    expect(Buffer.from(base32Decode('mzxw 6ytb oi==')!).toString()).toBe('foobar');
    expect(base32Decode('not base32!')).toBeUndefined();
    const secret = randomBytes(20);
    expect(Buffer.from(base32Decode(base32Encode(secret))!)).toEqual(secret);
    expect(groupsOfFour('JBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP');
  });

  it('builds the Google Authenticator key URI with the issuer twice', () => {
    const uri = otpauthUri('Acme Support', 'bob@acme', ascii('12345678901234567890'), standardTotp);
    expect(uri).toBe(
      'otpauth://totp/Acme%20Support:bob%40acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Support&algorithm=SHA1&digits=6&period=30',
    );
  });
});
