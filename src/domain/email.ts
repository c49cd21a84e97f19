/**
 * An e-mail address is optional: blank means none. Otherwise one "@" between a
 * local part of at most 64 octets and a domain of at most 255 (RFC 5321
 * §4.5.3.1.1 and §4.5.3.1.2), no spaces. Deliverability is not ours to judge.
 */
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export const EMAIL_MESSAGE = 'Enter a valid email address, or leave it empty.';

export type EmailCheck = { ok: true; email: string | null } | { ok: false; reason: string };

export function checkEmail(raw: string | null | undefined): EmailCheck {
  const email = raw?.trim() || null;
  if (email !== null && !EMAIL.test(email)) return { ok: false, reason: EMAIL_MESSAGE };
  return { ok: true, email };
}
