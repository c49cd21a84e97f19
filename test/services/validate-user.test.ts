import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.ts';
import { validateUser } from '../../src/services/users.ts';
import type { UserDraft } from '../../src/services/users.ts';

const deps = { settings: loadSettings({}) };
const good: UserDraft = { username: 'Alice', role: 'agent', password: 'a long passphrase 42' };

describe('validateUser', () => {
  it('accepts a good draft and keys the username', () => {
    expect(validateUser(deps, good)).toEqual({
      ok: true,
      value: { username: 'Alice', usernameKey: 'alice', role: 'agent', password: 'a long passphrase 42', skills: [], email: null },
    });
  });

  it('collects every error of a bad draft, not just the first', () => {
    const result = validateUser(deps, {
      username: 'bad name',
      role: 'root',
      password: 'short',
      skills: ['Billing', '<b>bold</b>'],
      email: 'not-an-email',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(5);
    expect(result.errors).toEqual([
      expect.stringMatching(/Username/),
      expect.stringMatching(/^Role must be one of admin, agent-manager, agent\.$/),
      expect.stringMatching(/at least 12/),
      expect.stringMatching(/^A skill name must be/),
      expect.stringMatching(/Enter a valid email address/),
    ]);
  });

  it('refuses a common password', () => {
    const result = validateUser(deps, { ...good, password: 'Password1234' });
    expect(result).toEqual({ ok: false, reason: 'invalid', errors: [expect.stringMatching(/too common/)] });
  });

  it('refuses a role by its exact name only', () => {
    expect(validateUser(deps, { ...good, role: 'Admin' }).ok).toBe(false);
    for (const role of ['admin', 'agent-manager', 'agent']) {
      expect(validateUser(deps, { ...good, role }).ok, role).toBe(true);
    }
  });

  it('dedupes skills case-insensitively, keeping the first spelling, and skips blanks', () => {
    const result = validateUser(deps, { ...good, skills: ['Billing', 'billing', '  BILLING ', '', '   ', 'Sales', '\uFF33ales'] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.skills).toEqual([
      { name: 'Billing', key: 'billing' },
      { name: 'Sales', key: 'sales' },
    ]);
  });

  it('keeps a trimmed email and treats a blank one as none', () => {
    const withEmail = validateUser(deps, { ...good, email: '  alice@example.com ' });
    expect(withEmail.ok && withEmail.value.email).toBe('alice@example.com');
    for (const email of [null, undefined, '', '   ']) {
      const result = validateUser(deps, { ...good, email });
      expect(result.ok && result.value.email, JSON.stringify(email)).toBeNull();
    }
  });

  it('rejects a bad email', () => {
    for (const email of ['alice', 'alice@', '@example.com', 'a@b@example.com', 'ali ce@example.com', `${'a'.repeat(65)}@example.com`]) {
      const result = validateUser(deps, { ...good, email });
      expect(result, email).toEqual({ ok: false, reason: 'invalid', errors: [expect.stringMatching(/^Enter a valid email address, or leave it empty\.$/)] });
    }
  });
});
