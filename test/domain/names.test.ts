import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_NUMBER_LENGTH,
  checkAccountName,
  checkSkillName,
  checkUsername,
  isAccountNumber,
  usernameKey,
} from '../../src/domain/names.ts';

/** A CJK ideograph outside the BMP: one letter, two UTF-16 units, unchanged by NFKC. */
const astralLetter = '\u{20000}';

describe('isAccountNumber', () => {
  it('issues 8-digit numbers', () => {
    expect(ACCOUNT_NUMBER_LENGTH).toBe(8);
  });

  it('accepts 1 to 20 ASCII digits', () => {
    for (const value of ['73411025', '1', '0', '12345678901234567890']) {
      expect(isAccountNumber(value), value).toBe(true);
    }
  });

  it('refuses anything else', () => {
    for (const value of [
      '',
      '123456789012345678901', // 21 digits
      '7341a025',
      ' 73411025',
      '73411025 ',
      '73411025\n',
      '-1',
      '1.5',
      '1e5',
      '\u0667\u0663\u0664', // Arabic-Indic digits
      '\uFF17\uFF13', // full-width digits
    ]) {
      expect(isAccountNumber(value), JSON.stringify(value)).toBe(false);
    }
  });
});

describe('checkUsername', () => {
  it('keeps the name as typed and keys it lower-cased', () => {
    expect(checkUsername('Alice')).toEqual({ ok: true, name: 'Alice', key: 'alice' });
  });

  it('gives "Alice", "ALICE" and a full-width "Ａlice" the same key', () => {
    const keys = ['Alice', 'ALICE', 'alice', '\uFF21lice', '\uFF21\uFF2C\uFF29\uFF23\uFF25'].map((raw) => {
      const result = checkUsername(raw);
      if (!result.ok) throw new Error(`refused ${raw}: ${result.reason}`);
      return result.key;
    });
    expect(new Set(keys)).toEqual(new Set(['alice']));
  });

  it('stores the NFKC form, so a composed and a decomposed "é" are the same name', () => {
    const composed = checkUsername('Jos\u00E9');
    const decomposed = checkUsername('Jose\u0301');
    expect(composed).toEqual({ ok: true, name: 'Jos\u00E9', key: 'jos\u00E9' });
    expect(decomposed).toEqual(composed);
  });

  it('usernameKey agrees with checkUsername', () => {
    expect(usernameKey('\uFF21lice')).toBe('alice');
    expect(usernameKey('  Bob ')).toBe('bob');
  });

  it('accepts letters of any script, digits and . _ @ + -', () => {
    for (const raw of ['a.b_c@d+e-f', 'alice@example.com', 'agent007', '\u0395\u03BB\u03AD\u03BD\u03B7', '\u5F20\u4F1F']) {
      expect(checkUsername(raw).ok, raw).toBe(true);
    }
  });

  it('trims surrounding spaces', () => {
    expect(checkUsername('  alice  ')).toEqual({ ok: true, name: 'alice', key: 'alice' });
  });

  it('accepts 64 characters and refuses 65', () => {
    expect(checkUsername('a'.repeat(64)).ok).toBe(true);
    expect(checkUsername('a'.repeat(65)).ok).toBe(false);
  });

  it('counts the 64 in characters, not UTF-16 units', () => {
    expect(checkUsername(astralLetter.repeat(64)).ok).toBe(true);
    expect(checkUsername(astralLetter.repeat(65)).ok).toBe(false);
  });

  it('refuses empty names, spaces, markup, quotes and control or invisible characters', () => {
    for (const raw of [
      '',
      '   ',
      'al ice',
      '<script>',
      'a<b',
      'a>b',
      '\uFF1Cb', // full-width "<", becomes "<" under NFKC
      'a"b',
      "a'b",
      'a`b',
      'a\u0000b',
      'a\u0007b',
      'a\tb',
      'a\nb',
      'a\u007Fb',
      'ali\u200Bce', // zero-width space
      'a/b',
      'a,b',
      'a;b',
      'a:b',
    ]) {
      const result = checkUsername(raw);
      expect(result.ok, JSON.stringify(raw)).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/Username/);
    }
  });
});

describe('checkSkillName', () => {
  it('accepts letters, digits, spaces and . _ & / + -', () => {
    for (const raw of ['Billing', 'Customer Service', 'C++', 'R&D', 'Sales/Support', 'Tier_2', 'Node.js', 'E-mail']) {
      expect(checkSkillName(raw), raw).toEqual({ ok: true, name: raw, key: raw.toLowerCase() });
    }
  });

  it('trims and collapses runs of spaces', () => {
    expect(checkSkillName('  Billing    Disputes ')).toEqual({ ok: true, name: 'Billing Disputes', key: 'billing disputes' });
  });

  it('normalizes with NFKC and keys case-insensitively', () => {
    expect(checkSkillName('\uFF33\uFF31\uFF2C')).toEqual({ ok: true, name: 'SQL', key: 'sql' });
  });

  it('accepts 64 characters and refuses 65', () => {
    expect(checkSkillName('s'.repeat(64)).ok).toBe(true);
    expect(checkSkillName('s'.repeat(65)).ok).toBe(false);
  });

  it('refuses empty names, the import separator ";", commas, markup, quotes and control characters', () => {
    for (const raw of ['', '   ', 'a;b', 'a,b', '<b>', 'a"b', "a'b", 'a\u0000b', 'a\u0007b', 'a:b']) {
      const result = checkSkillName(raw);
      expect(result.ok, JSON.stringify(raw)).toBe(false);
    }
  });

  it('never repeats the refused text in the reason (in an import file it may be a password)', () => {
    const result = checkSkillName('Secret <pass> 1');
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^A skill name must be/) });
    expect(JSON.stringify(result)).not.toContain('Secret');
  });
});

describe('checkAccountName', () => {
  it('accepts an ordinary name, trimmed and with spaces collapsed', () => {
    expect(checkAccountName('  Acme   Corp ')).toEqual({ ok: true, name: 'Acme Corp', key: 'acme corp' });
  });

  it('accepts punctuation other than ":"', () => {
    expect(checkAccountName('Müller & Söhne (EU) / Support-Desk #1').ok).toBe(true);
  });

  it('refuses ":" because it separates issuer and account in a TOTP key URI', () => {
    expect(checkAccountName('Acme:Corp').ok).toBe(false);
    expect(checkAccountName(':').ok).toBe(false);
    // Full-width colon becomes ":" under NFKC.
    expect(checkAccountName('Acme\uFF1ACorp').ok).toBe(false);
  });

  it('refuses control characters', () => {
    for (const c of ['\u0000', '\u0007', '\u001B', '\u007F', '\u0085']) {
      const result = checkAccountName(`Acme${c}Corp`);
      expect(result.ok, JSON.stringify(c)).toBe(false);
    }
  });

  it('never keeps a tab or line break in the name', () => {
    for (const raw of ['Acme\tCorp', 'Acme\nCorp', 'Acme\r\nCorp']) {
      const result = checkAccountName(raw);
      if (result.ok) expect(result.name, JSON.stringify(raw)).not.toMatch(/\p{Cc}/u);
    }
  });

  it('refuses an empty name', () => {
    expect(checkAccountName('').ok).toBe(false);
    expect(checkAccountName('    ').ok).toBe(false);
  });

  it('accepts 100 characters and refuses 101', () => {
    expect(checkAccountName('a'.repeat(100)).ok).toBe(true);
    expect(checkAccountName('a'.repeat(101)).ok).toBe(false);
  });

  it('counts the 100 in characters, not UTF-16 units, like usernames', () => {
    expect(checkAccountName(astralLetter.repeat(100)).ok).toBe(true);
    expect(checkAccountName(astralLetter.repeat(101)).ok).toBe(false);
  });
});
