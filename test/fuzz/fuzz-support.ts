import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

// Generators and checks shared by the hostile-input tests. The generators
// never produce text that looks like a leak (a stack line, "Error:", a
// Fastify code), so a leak found in an answer came from the server, not from
// an input it echoed.

/** What a leaked stack trace or framework internal looks like in an answer. */
// FST_ERR_ and FST_CSRF_, not FST_: a random CSRF token once held "FST_" and read as a leak.
export const LEAK = /^\s*at .+:\d+:\d+\)?\s*$|node_modules|\.tsx?:\d+|FST_(ERR|CSRF)_|Error:|"stack"|"statusCode"/m;

/**
 * The seed of this run: FUZZ_SEED replays one, otherwise a fresh one, printed
 * so that any failure can be replayed. FUZZ_SCALE multiplies every numRuns.
 */
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const SCALE = process.env.FUZZ_SCALE ? Number(process.env.FUZZ_SCALE) : 1;

/** fast-check parameters: the seed (also printed by fast-check on failure) and the number of cases. */
export function runs(numRuns: number): { seed: number; numRuns: number; endOnFailure: true } {
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)), endOnFailure: true };
}

/** Counts cases across a file, so its last test can print how many ran. */
export class CaseCounter {
  total = 0;
  count<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
    return arb.map((value) => {
      this.total += 1;
      return value;
    });
  }
}

// --- Strings -----------------------------------------------------------------

/** Characters no username, skill, role, state or account number may contain. */
// (No lone surrogates here: spliced next to another they can pair into a letter.)
export const POISON = ['\u0000', "'", '"', '<', '>', ';', '=', '(', ')', '*', '\u202e', '\u200b', '\u200f', '\u0007', '\\', '`', '$', '{', '}', '|', '\ufffd', '!', '#', '%', ',', ':', '?', '[', ']', '^', '~'];

const DICTIONARY = [
  "' OR '1'='1",
  "alice'--",
  "1; DROP TABLE users; --",
  "' UNION SELECT password_hash FROM users --",
  '%',
  '_',
  '\\',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '{{7*7}}',
  '${7*7}',
  '../../../etc/passwd',
  'admin\u0000',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udc00x',
  'x\ud83d',
  '\u202eecila', // right-to-left override
  'al\u200bice', // zero-width space
  'a\u0301lice', // combining acute
  'ｱﾘｽ',
  'ａｌｉｃｅ', // full-width, NFKC-equal to alice
  'аlice', // Cyrillic a
  'ℌ𝔢𝔩𝔩𝔬',
  '𝟘𝟙𝟚',
  'ﷺ',
  'ß',
  'İ',
  '\ufeff',
  ' ',
  '',
  '\r\n',
  '\t',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e309',
  '9'.repeat(25),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'on',
  'true',
  'admin',
  'Billing',
];

const longString = fc
  .tuple(fc.constantFrom('a', 'Z', '9', '\u0000', 'é', '😀', '<', '%'), fc.integer({ min: 65, max: 3_000 }))
  .map(([c, n]) => c.repeat(n));

const loneSurrogates = fc.array(fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', 'a'), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));

/** Any text a hostile client might type or script. */
export const hostileText: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...DICTIONARY) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: loneSurrogates },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([a, b]) => `${a}\u0000${b}`) },
    { weight: 1, arbitrary: longString },
    { weight: 2, arbitrary: fc.array(fc.constantFrom(...DICTIONARY, ...POISON), { maxLength: 6 }).map((a) => a.join('')) },
  )
  .filter((s) => !LEAK.test(s));

/** Text that is never valid as a name, role or state: a poison character spliced in, or too long. */
export const invalidName: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(hostileText, fc.constantFrom(...POISON), fc.nat()).map(([s, p, at]) => {
    const i = s.length === 0 ? 0 : at % s.length;
    // Never split a surrogate pair: splice at a code point boundary or at the end.
    const head = s.slice(0, i);
    return /[\ud800-\udbff]$/.test(head) ? s + p : head + p + s.slice(i);
  }),
  fc.integer({ min: 65, max: 5_000 }).map((n) => 'n'.repeat(n)),
);

/** A TOTP or recovery code that is never a right one: six or eight plain digits are left out. */
export const hostileCode: fc.Arbitrary<string> = fc
  .oneof(hostileText, fc.stringMatching(/^[0-9 -]{0,12}$/), fc.stringMatching(/^[a-z0-9]{4,5}-[a-z0-9]{4,5}$/))
  .filter((s) => !/^\d{6,8}$/.test(s.replace(/[\s-]/g, '')));

/** A client address of its own per case, so address throttles do not make every later case a 429. */
export const clientIp: fc.Arbitrary<string> = fc
  .tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 }))
  .map(([a, b, c]) => `10.${a}.${b}.${c}`);

// --- Values and bodies -------------------------------------------------------

/** Keys a body might carry beyond its own: prototype pollution and lookalikes. */
export const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'role', 'admin', 'isAdmin', 'accountId', 'id', '_csrf', '', 'a'.repeat(300), '\u0000', 'username[]', 'toString'];

/** Any JSON value, weighted towards wrong types and hostile strings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -0, 1e308) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(hostileText, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom({ $ne: '' }, { $gt: '' }, JSON.parse('{"__proto__":{"admin":true}}') as unknown, ['alice'], [[]], {}) },
);

export type Entries = Array<[string, unknown]>;

/**
 * A body's entries: the required fields always (each from its own generator,
 * the one that keeps the body invalid), the optional ones maybe, with values
 * of any type, extra keys (prototype pollution among them), and maybe a
 * required field repeated with another value from its generator.
 */
export function hostileEntries(required: Record<string, fc.Arbitrary<unknown>>, optional: string[], value: fc.Arbitrary<unknown> = hostileValue): fc.Arbitrary<Entries> {
  const own = new Set([...Object.keys(required), ...optional]);
  const req = Object.entries(required).map(([f, arb]) => arb.map((v): [string, unknown] => [f, v]));
  const opt = optional.map((f) => fc.option(value.map((v): [string, unknown] => [f, v]), { nil: undefined }));
  const extraKey = fc.oneof(fc.constantFrom(...EXTRA_KEYS.filter((k) => !own.has(k))), hostileText.filter((k) => !own.has(k)));
  const extra = fc.array(fc.tuple(extraKey, value), { maxLength: 3 });
  const repeat = req.length > 0 ? fc.option(fc.oneof(...req), { nil: undefined, freq: 4 }) : fc.constant(undefined);
  return fc
    .tuple(fc.tuple(...req), fc.tuple(...opt), extra, repeat, fc.boolean())
    .map(([r, o, e, again, reversed]) => {
      const entries: Entries = [...r, ...o.filter((x): x is [string, unknown] => x !== undefined), ...e, ...(again ? [again] : [])];
      return reversed ? entries.reverse() : entries;
    });
}

/** JSON text of entries, written by hand so "__proto__" and repeated keys reach the server as sent. */
export function jsonOf(entries: Entries): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** Percent-encodes the UTF-8 bytes of a string (a lone surrogate becomes U+FFFD, as a browser sends it). */
export function pct(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A form value as it goes on the wire: strings encoded, other values stringified, some raw broken escapes. */
export const rawFormPieces = ['%', '%Z', '%zz', '%E0%A4%A', '%FF%FE', '%C0%AF', '%ED%A0%80', '%00', '+', '&&', '==', '%25%'];

export function formOf(entries: Entries): string {
  return entries.map(([k, v]) => `${pct(k)}=${typeof v === 'string' ? pct(v) : pct(JSON.stringify(v) ?? '')}`).join('&');
}

// --- Checks ------------------------------------------------------------------

const ERROR_KEYS = new Set(['error', 'message', 'retryAfter', 'clockSkewMinutes']);

function where(res: LightMyRequestResponse, label: string): string {
  return `${label}: ${res.statusCode} ${res.body.slice(0, 300)}`;
}

/** Never a 5xx, never a leak. */
export function expectServed(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, where(res, label)).toBeLessThan(500);
  const leak = LEAK.exec(res.body);
  expect(leak && res.body.slice(Math.max(0, leak.index - 120), leak.index + 120), `${label}: leaks`).toBeNull();
}

/** A refusal from the JSON API: 4xx, exactly {error, message} (plus retryAfter or clockSkewMinutes), no stack. */
export function expectApiRefusal(res: LightMyRequestResponse, label: string, allowed?: number[]): void {
  expectServed(res, label);
  expect(res.statusCode, where(res, label)).toBeGreaterThanOrEqual(400);
  if (allowed) expect(allowed, where(res, label)).toContain(res.statusCode);
  expect(res.headers['content-type'], where(res, label)).toMatch(/^application\/json/);
  const body = res.json<Record<string, unknown>>();
  expect(typeof body.error, where(res, label)).toBe('string');
  expect(typeof body.message === 'string' && body.message.length > 0, where(res, label)).toBe(true);
  for (const key of Object.keys(body)) expect(ERROR_KEYS.has(key), `${where(res, label)} (key ${key})`).toBe(true);
}

/** A page answer: HTML, no stack; a refusal unless the status is one the route may also answer (a redirect, a form). */
export function expectPage(res: LightMyRequestResponse, label: string, allowed: number[]): void {
  expectServed(res, label);
  expect(allowed, where(res, label)).toContain(res.statusCode);
  if (res.statusCode >= 300 && res.statusCode < 400) return;
  expect(res.headers['content-type'], where(res, label)).toMatch(/^text\/html/);
  expect(res.body, where(res, label)).toMatch(/^<!doctype html>/i);
}
