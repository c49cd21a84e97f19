// Rules for the names people type: account numbers, usernames, skills.

/** Account numbers are digits, e.g. 73411025 (the spec); we issue 8. */
export const ACCOUNT_NUMBER_LENGTH = 8;
const ACCOUNT_NUMBER = /^\d{1,20}$/;

export function isAccountNumber(value: string): boolean {
  return ACCOUNT_NUMBER.test(value);
}

export type NameCheck = { ok: true; name: string; key: string } | { ok: false; reason: string };

/** Letters, digits and . _ @ + - (so emails work as usernames); 1–64 characters. */
const USERNAME = /^[\p{L}\p{N}._@+-]{1,64}$/u;

/**
 * Usernames are unique per account, case-insensitively: the key is the NFKC,
 * lower-cased form, so "Alice" and "alice" (and a full-width "Ａlice") collide.
 */
export function checkUsername(raw: string): NameCheck {
  const name = raw.normalize('NFKC').trim();
  if (!USERNAME.test(name)) {
    return {
      ok: false,
      reason: 'Username must be 1–64 letters, digits or . _ @ + - characters.',
    };
  }
  return { ok: true, name, key: usernameKey(name) };
}

export function usernameKey(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

const SKILL = /^[\p{L}\p{N} ._&/+-]{1,64}$/u;

export function checkSkillName(raw: string): NameCheck {
  const name = raw.normalize('NFKC').trim().replace(/\s+/g, ' ');
  if (!SKILL.test(name)) {
    // Not the text itself: in an import file with its columns swapped it may be a password.
    return { ok: false, reason: 'A skill name must be 1–64 letters, digits, spaces or . _ & / + -.' };
  }
  return { ok: true, name, key: name.toLowerCase() };
}

export function checkAccountName(raw: string): NameCheck {
  const name = raw.normalize('NFKC').trim().replace(/\s+/g, ' ');
  // The name becomes the issuer of TOTP key URIs, where ':' separates issuer from account.
  const chars = [...name].length;
  if (chars < 1 || chars > 100 || /[:\p{Cc}]/u.test(name)) {
    return { ok: false, reason: 'Account name must be 1–100 characters, without ":" or control characters.' };
  }
  return { ok: true, name, key: name.toLowerCase() };
}
