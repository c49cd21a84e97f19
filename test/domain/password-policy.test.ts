import { describe, expect, it } from 'vitest';
import { passwordDefaults } from '../../src/config/defaults.ts';
import { commonPasswords } from '../../src/domain/common-passwords.ts';
import { checkNewPassword, normalizePassword } from '../../src/domain/password-policy.ts';

const rules = { minLength: passwordDefaults.minLength, maxLength: passwordDefaults.maxLength };

/** n characters of a pattern that is on no blocklist. */
const sample = (n: number) => Array.from({ length: n }, (_, i) => 'bq7Zx!Km2Rw9'[i % 12]).join('');

describe('checkNewPassword: length (ASVS V2.1.1, V2.1.2)', () => {
  it('ships the ASVS numbers: at least 12, at most 128', () => {
    expect(rules).toEqual({ minLength: 12, maxLength: 128 });
  });

  it('refuses 11 characters', () => {
    const result = checkNewPassword(sample(11), rules);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/at least 12/) });
  });

  it('accepts 12 characters', () => {
    expect(checkNewPassword(sample(12), rules)).toEqual({ ok: true, normalized: sample(12) });
  });

  it('accepts 128 characters', () => {
    expect(checkNewPassword(sample(128), rules)).toEqual({ ok: true, normalized: sample(128) });
  });

  it('refuses 129 characters instead of truncating them', () => {
    const result = checkNewPassword(sample(129), rules);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/at most 128/) });
  });

  it('counts an emoji as one character, not two UTF-16 units', () => {
    const fox = '\u{1F98A}';
    expect(fox.length).toBe(2);
    // 11 emoji are 22 UTF-16 units but only 11 characters: too short.
    expect(checkNewPassword(fox.repeat(11), rules).ok).toBe(false);
    expect(checkNewPassword(fox.repeat(12), rules).ok).toBe(true);
    // 128 emoji are 256 UTF-16 units but 128 characters: allowed.
    expect(checkNewPassword(fox.repeat(128), rules).ok).toBe(true);
    expect(checkNewPassword(fox.repeat(129), rules).ok).toBe(false);
  });

  it('keeps every character of a long password (no truncation)', () => {
    const a = `${sample(127)}A`;
    const b = `${sample(127)}B`;
    const checkedA = checkNewPassword(a, rules);
    const checkedB = checkNewPassword(b, rules);
    expect(checkedA).toEqual({ ok: true, normalized: a });
    expect(checkedB).toEqual({ ok: true, normalized: b });
  });
});

describe('normalizePassword: NFKC (NIST SP 800-63B §5.1.1.2)', () => {
  it('maps full-width letters and digits to their ASCII forms', () => {
    expect(normalizePassword('\uFF30\uFF41\uFF53\uFF53\uFF17')).toBe('Pass7');
  });

  it('gives the same string for a composed and a decomposed "é"', () => {
    const composed = 'caf\u00E9-au-lait-42';
    const decomposed = 'cafe\u0301-au-lait-42';
    expect(composed).not.toBe(decomposed);
    expect(normalizePassword(composed)).toBe(normalizePassword(decomposed));
  });

  it('returns the normalized form from checkNewPassword, which is what gets hashed', () => {
    const result = checkNewPassword('cafe\u0301-au-lait-42', rules);
    expect(result).toEqual({ ok: true, normalized: 'caf\u00E9-au-lait-42' });
  });

  it('does not change case', () => {
    expect(normalizePassword('CorrectHorse')).toBe('CorrectHorse');
  });
});

describe('checkNewPassword: the shipped blocklist (ASVS V2.1.7)', () => {
  const entries = [...commonPasswords];

  it('ships only entries that the length rule would let through (others are dead weight)', () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      const chars = [...entry].length;
      expect(chars, entry).toBeGreaterThanOrEqual(rules.minLength);
      expect(chars, entry).toBeLessThanOrEqual(rules.maxLength);
      // Lookups use the NFKC, lower-cased form; an entry in any other form never matches.
      expect(entry.normalize('NFKC').toLowerCase(), entry).toBe(entry);
    }
  });

  it('refuses every entry as listed, upper-cased and capitalized', () => {
    for (const entry of entries) {
      const capitalized = entry.charAt(0).toUpperCase() + entry.slice(1);
      for (const form of [entry, entry.toUpperCase(), capitalized]) {
        expect(checkNewPassword(form, rules), form).toEqual({ ok: false, reason: expect.stringMatching(/too common/) });
      }
    }
  });

  it('refuses an entry typed in full-width characters', () => {
    // "ＰＡＳＳＷＯＲＤ１２３４" normalizes to "PASSWORD1234".
    const fullWidth = [...'PASSWORD1234'].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');
    expect(checkNewPassword(fullWidth, rules).ok).toBe(false);
  });

  it('accepts a password that merely contains an entry', () => {
    expect(checkNewPassword('password1234 and then some', rules).ok).toBe(true);
  });
});
