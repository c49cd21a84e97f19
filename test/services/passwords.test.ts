import { describe, expect, it } from 'vitest';
import { passwordDefaults } from '../../src/config/defaults.ts';
import { createPasswordHasher } from '../../src/services/passwords.ts';

// Full cost only where the parameters themselves are under test; m=1024,t=1 elsewhere keeps the suite fast.
const cheap = createPasswordHasher({ argon2MemoryKiB: 1024, argon2Iterations: 1, argon2Parallelism: 1 });

describe('createPasswordHasher at the OWASP parameters', () => {
  const hasher = createPasswordHasher(passwordDefaults);

  it('writes an argon2id PHC string with m=19456,t=2,p=1 and verifies it', async () => {
    const password = 'correct horse battery staple';
    const hash = await hasher.hash(password);
    expect(hash.startsWith('$argon2id$v=19$m=19456,t=2,p=1$')).toBe(true);
    // $argon2id$v=19$params$salt$hash: a salt and a tag, both unpadded base64.
    expect(hash.split('$')).toHaveLength(6);
    expect(await hasher.verify(hash, password)).toBe(true);
    expect(await hasher.verify(hash, 'correct horse battery stapler')).toBe(false);
  });
});

describe('createPasswordHasher.verify', () => {
  it('accepts the right password and refuses a wrong one', async () => {
    const hash = await cheap.hash('Tr0ub4dor&3-and-more');
    expect(hash.startsWith('$argon2id$v=19$m=1024,t=1,p=1$')).toBe(true);
    expect(await cheap.verify(hash, 'Tr0ub4dor&3-and-more')).toBe(true);
    expect(await cheap.verify(hash, 'tr0ub4dor&3-and-more')).toBe(false);
    expect(await cheap.verify(hash, '')).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([cheap.hash('same password twice'), cheap.hash('same password twice')]);
    expect(a).not.toBe(b);
  });

  it('accepts an NFKC-equivalent form of the password', async () => {
    const fullWidth = await cheap.hash('\uFF30\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44-\uFF17\uFF17-horse');
    expect(await cheap.verify(fullWidth, 'Password-77-horse')).toBe(true);

    const decomposed = await cheap.hash('cafe\u0301 au lait 1964');
    expect(await cheap.verify(decomposed, 'caf\u00E9 au lait 1964')).toBe(true);
  });

  it('normalizes when verifying too, not only when hashing', async () => {
    const ascii = await cheap.hash('Password-77-horse');
    expect(await cheap.verify(ascii, '\uFF30\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44-\uFF17\uFF17-horse')).toBe(true);

    const composed = await cheap.hash('caf\u00E9 au lait 1964');
    expect(await cheap.verify(composed, 'cafe\u0301 au lait 1964')).toBe(true);
  });

  it('does not truncate: passwords that differ only in the 128th character do not match', async () => {
    const stem = 'x'.repeat(127);
    const hash = await cheap.hash(`${stem}a`);
    expect(await cheap.verify(hash, `${stem}a`)).toBe(true);
    expect(await cheap.verify(hash, `${stem}b`)).toBe(false);
    expect(await cheap.verify(hash, stem)).toBe(false);
  });

  it('answers false, without throwing, for a malformed hash', async () => {
    for (const bad of [
      '',
      'not-a-hash',
      '$argon2id$',
      '$argon2id$v=19$m=1024,t=1,p=1$',
      '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$!!!',
      '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234', // bcrypt
    ]) {
      await expect(cheap.verify(bad, 'whatever password'), JSON.stringify(bad)).resolves.toBe(false);
    }
  });
});

describe('createPasswordHasher.verifyDummy', () => {
  it('answers false for any password, even the one behind the dummy hash', async () => {
    expect(await cheap.verifyDummy('some password')).toBe(false);
    expect(await cheap.verifyDummy('portcullis-dummy-password')).toBe(false);
    expect(await cheap.verifyDummy('')).toBe(false);
  });
});
