import { createHash } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { TestApp } from '../helpers/app.ts';
import type { TestBrowser } from '../helpers/client.ts';

// Small helpers shared by the HTTP tests in this folder: raw requests a
// TestBrowser cannot make (extra headers, no Origin), cookie lookups and
// direct reads of the tables an attacker would like to see.

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export type SetCookie = LightMyRequestResponse['cookies'][number];

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** The Set-Cookie entry of that name in a response, if any. */
export function cookieNamed(res: LightMyRequestResponse, name: string): SetCookie | undefined {
  return res.cookies.find((c) => c.name === name);
}

/** The raw Set-Cookie header lines, for attribute checks the parsed form hides. */
export function setCookieLines(res: LightMyRequestResponse): string[] {
  const raw = res.headers['set-cookie'];
  if (raw === undefined) return [];
  return Array.isArray(raw) ? raw : [String(raw)];
}

export function cookieHeaderOf(browser: TestBrowser): string {
  return [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

/**
 * A form POST from the browser's cookie jar with headers of the test's
 * choosing (Origin, Sec-Fetch-Site…); no Origin unless given.
 */
export async function rawFormPost(
  app: FastifyInstance,
  browser: TestBrowser,
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    remoteAddress: browser.ip,
    headers: {
      host: browser.host,
      cookie: cookieHeaderOf(browser),
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    payload: new URLSearchParams(fields).toString(),
  });
}

export interface ApiCall {
  ip?: string;
  host?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

/** A non-browser API client: JSON body, no Origin, no cookies unless given. */
export async function apiPost(app: FastifyInstance, url: string, body: unknown, call: ApiCall = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    remoteAddress: call.ip ?? '127.0.0.1',
    headers: {
      host: call.host ?? '127.0.0.1:3000',
      'content-type': 'application/json',
      ...(call.cookie ? { cookie: call.cookie } : {}),
      ...call.headers,
    },
    payload: JSON.stringify(body),
  });
}

export async function apiGet(app: FastifyInstance, url: string, call: ApiCall = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'GET',
    url,
    remoteAddress: call.ip ?? '127.0.0.1',
    headers: { host: call.host ?? '127.0.0.1:3000', ...(call.cookie ? { cookie: call.cookie } : {}), ...call.headers },
  });
}

export interface SessionRow {
  id: string;
  user_id: string;
  state: string;
}

/** Every row of the sessions table, straight from the database. */
export async function sessionRows(t: TestApp): Promise<SessionRow[]> {
  return t.db.database.db.selectFrom('sessions').select(['id', 'user_id', 'state']).execute();
}

export async function sessionCount(t: TestApp): Promise<number> {
  return (await sessionRows(t)).length;
}

/** The throttle rows, for "changes nothing" checks. */
export async function throttleRows(t: TestApp): Promise<unknown[]> {
  return t.db.database.db.selectFrom('throttles').selectAll().orderBy('scope').orderBy('subject').execute();
}

/** A distinct client address per call, so the per-address throttle stays out of a per-user test. */
export function addressSource(prefix: string): () => string {
  let n = 0;
  return () => {
    n += 1;
    return `${prefix}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  };
}
