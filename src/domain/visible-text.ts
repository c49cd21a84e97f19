/**
 * Text someone else typed (a username at a failed sign-in), made safe to show
 * as a value in a list: every character that moves or hides text is shown by
 * its code point, as ⟨U+202E⟩, so a line break cannot start a fake entry and
 * a bidirectional override cannot reorder what follows it (Unicode TR #36
 * §2.1; CVE-2021-42574, "Trojan Source").
 *
 * Made visible: C0 and C1 controls and DEL (Unicode general category Cc),
 * the bidirectional formatting characters (UAX #9 §2: U+061C, U+200E–U+200F,
 * U+202A–U+202E, U+2066–U+2069), zero-width and invisible formatting
 * characters (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, U+180E), and the
 * line and paragraph separators (U+2028, U+2029).
 */
const hidden = /[\p{Cc}\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/gu;

export function visibleText(text: string): string {
  return text.replace(hidden, (c) => `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}
