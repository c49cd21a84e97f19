// Agent Workspace: a small application that signs its users in through
// Portcullis with OpenID Connect, the way any relying party would. Plain
// node:http and openid-client 6 (panva); nothing of Portcullis's own code.
//
//   PORTCULLIS_ISSUER  Portcullis's address (its discovery document is at
//                      <issuer>/.well-known/openid-configuration)
//   CLIENT_ID, CLIENT_SECRET   what `portcullis client create` printed
//   PORT               where this application listens (default 3001)
//   APP_URL            its public address (default http://127.0.0.1:PORT)
//
// What it shows: the authorization code flow with PKCE, state and nonce
// (OpenID Connect Core §3.1, RFC 7636); the ID token's claims; a refresh
// (RFC 6749 §6); RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)
// and back-channel logout (OpenID Connect Back-Channel Logout 1.0), which
// ends this application's sessions of a user when Portcullis ends theirs.

/* global fetch */
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { URL, URLSearchParams } from 'node:url';
import * as oidc from 'openid-client';

const ISSUER = process.env.PORTCULLIS_ISSUER ?? 'http://127.0.0.1:3000';
const CLIENT_ID = process.env.CLIENT_ID;
const CLIENT_SECRET = process.env.CLIENT_SECRET;
const PORT = Number(process.env.PORT ?? 3001);
const APP_URL = (process.env.APP_URL ?? `http://127.0.0.1:${PORT}`).replace(/\/$/, '');
const REDIRECT_URI = `${APP_URL}/callback`;
const POST_LOGOUT_REDIRECT_URI = `${APP_URL}/signed-out`;
const COOKIE = 'agent_workspace';
/** A sign-in started and not finished within this time is forgotten. */
const PENDING_MS = 10 * 60_000;
/** A signed-in session of this application ends this long after sign-in (its cookie too). */
const SESSION_MS = 8 * 3600_000;
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

if (!CLIENT_ID || !CLIENT_SECRET) {
  console.error('agent-workspace: set CLIENT_ID and CLIENT_SECRET (printed by `portcullis client create`); see README.md');
  process.exit(1);
}

// Plain http is for a laptop only: openid-client refuses it unless told.
const insecure = new URL(ISSUER).protocol === 'http:';
const config = await oidc.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, oidc.ClientSecretBasic(CLIENT_SECRET), {
  ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
});
const metadata = config.serverMetadata();

/**
 * The sessions of this application, in memory: the cookie holds only a random
 * id (32 bytes), never a token. A session is either a sign-in under way
 * (state, nonce, PKCE verifier) or a signed-in user (tokens and claims).
 */
const sessions = new Map();

function newSessionId() {
  return randomBytes(32).toString('base64url');
}

function sessionOf(req) {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return { id: rest.join('='), session: sessions.get(rest.join('=')) };
  }
  return { id: undefined, session: undefined };
}

function cookie(id, maxAgeSeconds) {
  const secure = new URL(APP_URL).protocol === 'https:' ? '; Secure' : '';
  return `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure}`;
}

const escape = (value) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(res, status, title, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' " + new URL(ISSUER).origin,
    ...headers,
  });
  res.end(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · Agent Workspace</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse}th,td{text-align:left;padding:.25rem 1rem .25rem 0;border-bottom:1px solid #ddd}form{display:inline}button,a.button{font:inherit;margin:1rem .5rem 0 0}</style>
</head>
<body><main>${body}</main></body>
</html>`);
}

function redirect(res, location, headers = {}) {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...headers });
  res.end();
}

function readForm(req) {
  return new Promise((done, fail) => {
    let body = '';
    let tooLarge = false;
    req.on('data', (chunk) => {
      if (tooLarge) return;
      body += chunk.toString('utf8');
      if (body.length > 64 * 1024) {
        tooLarge = true;
        body = '';
        fail(Object.assign(new Error('body too large'), { status: 413 }));
      }
    });
    req.on('end', () => done(new URLSearchParams(body)));
    req.on('error', fail);
  });
}

/** The form fields of a POST carry the session's own token: no other site can post them (OWASP CSRF Cheat Sheet, synchronizer token). */
function sameToken(a, b) {
  const x = Buffer.from(String(a ?? ''));
  const y = Buffer.from(String(b ?? ''));
  return x.length === y.length && timingSafeEqual(x, y);
}

const SHOWN = ['sub', 'preferred_username', 'email', 'amr', 'acr', 'auth_time', 'account_id', 'account_name', 'role', 'skills'];

function show(value) {
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function signedInPage(res, session, notice) {
  const claims = { ...session.claims, ...session.userinfo };
  const rows = SHOWN.filter((name) => claims[name] !== undefined)
    .map((name) => `<tr><th scope="row">${escape(name)}</th><td data-claim="${escape(name)}">${escape(show(claims[name]))}</td></tr>`)
    .join('\n');
  const expires = new Date(session.expiresAt).toISOString();
  page(
    res,
    200,
    'Signed in',
    `<h1>Agent Workspace</h1>
${notice ? `<p role="status">${escape(notice)}</p>` : ''}
<p>Signed in as <strong>${escape(claims.preferred_username ?? claims.sub)}</strong> through Portcullis.</p>
<table aria-label="Claims"><tbody>
${rows}
</tbody></table>
<p>Access token valid until ${escape(expires)}; refreshed ${session.refreshes} time(s).</p>
<form method="post" action="/refresh"><input type="hidden" name="csrf" value="${escape(session.csrf)}"><button type="submit">Refresh token</button></form>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${escape(session.csrf)}"><button type="submit">Sign out</button></form>`,
  );
}

function signedOutPage(res, notice) {
  page(
    res,
    200,
    'Signed out',
    `<h1>Agent Workspace</h1>
${notice ? `<p role="status">${escape(notice)}</p>` : ''}
<p>You are signed out.</p>
<p><a class="button" href="/login">Sign in with Portcullis</a></p>`,
  );
}

function keep(session, tokens) {
  session.tokens = tokens;
  session.claims = tokens.claims() ?? session.claims;
  session.expiresAt = Date.now() + (tokens.expiresIn() ?? 0) * 1000;
}

// --- back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.6) ---

const seenLogoutTokens = new Map();

async function publicKey(kid) {
  // The key set is fetched each time: a logout is rare, and a rotated key is then always found.
  const res = await fetch(metadata.jwks_uri, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`the key set answered ${res.status}`);
  const { keys } = await res.json();
  const jwk = keys.find((k) => k.kid === kid);
  return jwk ? createPublicKey({ key: jwk, format: 'jwk' }) : undefined;
}

/** The logout token's claims if it is one Portcullis signed for this application, or a reason why not. */
async function validLogoutToken(jwt) {
  const parts = typeof jwt === 'string' ? jwt.split('.') : [];
  if (parts.length !== 3) return { reason: 'not a JWS' };
  const [head, body, signature] = parts;
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { reason: 'not JSON' };
  }
  // §2.6 step 3 and RFC 8725 §3.1: the algorithm is one we expect, never "none".
  if (header.alg !== 'RS256' && header.alg !== 'ES256') return { reason: `algorithm ${String(header.alg)}` };
  const key = await publicKey(header.kid);
  if (!key) return { reason: 'unknown key' };
  const data = Buffer.from(`${head}.${body}`);
  const sig = Buffer.from(signature, 'base64url');
  const ok = header.alg === 'RS256' ? verify('sha256', data, key, sig) : verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) return { reason: 'bad signature' };
  const now = Math.floor(Date.now() / 1000);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== metadata.issuer) return { reason: 'wrong issuer' };
  if (!aud.includes(CLIENT_ID)) return { reason: 'wrong audience' };
  if (typeof claims.iat !== 'number' || claims.iat > now + 60) return { reason: 'bad iat' };
  if (typeof claims.exp === 'number' && claims.exp < now - 60) return { reason: 'expired' };
  if (!claims.events || typeof claims.events !== 'object' || !(BACKCHANNEL_EVENT in claims.events)) return { reason: 'no logout event' };
  if (!claims.sub && !claims.sid) return { reason: 'neither sub nor sid' };
  // §2.4: a logout token never has a nonce (so an ID token cannot pass for one).
  if ('nonce' in claims) return { reason: 'has a nonce' };
  if (typeof claims.jti !== 'string' || seenLogoutTokens.has(claims.jti)) return { reason: 'replayed or no jti' };
  seenLogoutTokens.set(claims.jti, Date.now());
  return { claims };
}

async function backchannelLogout(req, res) {
  const form = await readForm(req);
  const result = await validLogoutToken(form.get('logout_token'));
  const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (!result.claims) {
    console.warn(`agent-workspace: refused a logout token (${result.reason})`);
    res.writeHead(400, headers).end(JSON.stringify({ error: 'invalid_request', error_description: 'invalid logout token' }));
    return;
  }
  const { sub, sid } = result.claims;
  let ended = 0;
  for (const [id, session] of sessions) {
    if (!session.claims) continue;
    // With a sid, the sessions that Portcullis session opened; with only a sub, all of that user's.
    const match = sid ? session.claims.sid === sid && (!sub || session.claims.sub === sub) : session.claims.sub === sub;
    if (match) {
      sessions.delete(id);
      ended++;
    }
  }
  console.log(`agent-workspace: back-channel logout ended ${ended} session(s)`);
  res.writeHead(200, headers).end('{}');
}

// --- routes ---

async function handle(req, res) {
  const url = new URL(req.url ?? '/', APP_URL);
  const { id, session: found } = sessionOf(req);
  const session = found?.signedInAt && Date.now() - found.signedInAt > SESSION_MS ? undefined : found;

  if (req.method === 'GET' && url.pathname === '/') {
    if (session?.tokens) signedInPage(res, session, url.searchParams.get('refreshed') ? 'Token refreshed.' : '');
    else signedOutPage(res, '');
    return;
  }

  if (req.method === 'GET' && url.pathname === '/login') {
    const verifier = oidc.randomPKCECodeVerifier();
    const pending = {
      verifier,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      startedAt: Date.now(),
    };
    const fresh = newSessionId();
    sessions.set(fresh, pending);
    const target = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email account',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    redirect(res, target.href, { 'set-cookie': cookie(fresh, PENDING_MS / 1000) });
    return;
  }

  if (req.method === 'GET' && url.pathname === '/callback') {
    if (!session || !session.verifier || Date.now() - session.startedAt > PENDING_MS) {
      signedOutPage(res, 'That sign-in has expired; please sign in again.');
      return;
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: session.verifier,
        expectedState: session.state,
        expectedNonce: session.nonce,
      });
      // A new id once signed in (no session fixation, OWASP Session Management Cheat Sheet).
      sessions.delete(id);
      const signedIn = { csrf: randomBytes(32).toString('base64url'), refreshes: 0, signedInAt: Date.now() };
      keep(signedIn, tokens);
      try {
        signedIn.userinfo = await oidc.fetchUserInfo(config, tokens.access_token, signedIn.claims.sub);
      } catch (err) {
        console.warn(`agent-workspace: userinfo failed: ${err.message}`);
      }
      const next = newSessionId();
      sessions.set(next, signedIn);
      redirect(res, '/', { 'set-cookie': cookie(next, SESSION_MS / 1000) });
    } catch (err) {
      sessions.delete(id);
      console.warn(`agent-workspace: sign-in failed: ${err.error ?? err.message}`);
      page(res, 400, 'Sign-in failed', `<h1>Agent Workspace</h1><p role="alert">Sign-in failed: ${escape(err.error ?? err.message)}</p><p><a href="/login">Try again</a></p>`);
    }
    return;
  }

  if (req.method === 'POST' && (url.pathname === '/refresh' || url.pathname === '/logout')) {
    const form = await readForm(req);
    if (!session?.tokens || !sameToken(form.get('csrf'), session.csrf)) {
      signedOutPage(res, url.pathname === '/logout' ? 'You are signed out.' : 'Your session has ended; please sign in again.');
      return;
    }
    if (url.pathname === '/refresh') {
      try {
        keep(session, await oidc.refreshTokenGrant(config, session.tokens.refresh_token));
        session.refreshes++;
        redirect(res, '/?refreshed=1');
      } catch (err) {
        // Portcullis revoked the grant (Reset MFA, a disabled user, …): this session is over.
        sessions.delete(id);
        signedOutPage(res, `Portcullis refused the refresh (${err.error ?? err.message}); please sign in again.`);
      }
      return;
    }
    sessions.delete(id);
    const end = oidc.buildEndSessionUrl(config, {
      id_token_hint: session.tokens.id_token,
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
    });
    redirect(res, end.href, { 'set-cookie': cookie('', 0) });
    return;
  }

  if (req.method === 'GET' && url.pathname === '/signed-out') {
    signedOutPage(res, 'You have signed out of Agent Workspace and Portcullis.');
    return;
  }

  if (req.method === 'POST' && url.pathname === '/backchannel-logout') {
    await backchannelLogout(req, res);
    return;
  }

  page(res, 404, 'Not found', '<h1>Not found</h1><p><a href="/">Agent Workspace</a></p>');
}

// Forget sign-ins never finished, and logout token ids older than any token could be.
setInterval(() => {
  const now = Date.now();
  for (const [id, session] of sessions) {
    if (session.verifier && now - session.startedAt > PENDING_MS) sessions.delete(id);
    if (session.signedInAt && now - session.signedInAt > SESSION_MS) sessions.delete(id);
  }
  for (const [jti, at] of seenLogoutTokens) if (now - at > 3600_000) seenLogoutTokens.delete(jti);
}, 60_000).unref();

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    if (err.status !== 413) console.error('agent-workspace:', err);
    if (res.headersSent) res.end();
    else if (err.status === 413) page(res, 413, 'Too large', '<h1>Request too large</h1>');
    else page(res, 500, 'Error', '<h1>Something went wrong</h1>');
  });
});
server.listen(PORT, new URL(APP_URL).hostname === '127.0.0.1' ? '127.0.0.1' : undefined, () => {
  console.log(`agent-workspace: listening on ${APP_URL} (issuer ${metadata.issuer})`);
});
