import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import type { SecretBox } from '../secret-box.ts';
import { createProvider } from './provider.ts';
import type { ApplicationLogout, LogoutChannel, LogoutDelivery } from './revocation.ts';
import { keySetAt } from './signing-keys.ts';

// One way back-channel logout tokens leave Portcullis, for `serve` and for
// the CLI alike: the provider's own Client#backchannelLogout, which signs the
// token with the key the client's ID tokens are signed with (OpenID Connect
// Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti, sub, sid, events,
// no nonce; typ logout+jwt) and POSTs it (§2.5). Each delivery is bounded by
// the provider's httpOptions (LOGOUT_DELIVERY_TIMEOUT_MS, provider.ts), and
// all of one send run at once: one slow application delays nobody else.

/** Runs one delivery per logout, all at once; never rejects. */
export function providerLogoutChannel(deps: Pick<Deps, 'logger'>, provider: () => Promise<Provider>): LogoutChannel {
  return {
    async send(logouts: ApplicationLogout[]): Promise<LogoutDelivery[]> {
      let current: Provider;
      try {
        current = await provider();
      } catch (err) {
        deps.logger.warn({ err }, 'back-channel logout not sent: no provider');
        const error = err instanceof Error ? err.message : String(err);
        return logouts.map((l) => ({ clientId: l.clientId, sent: false, error }));
      }
      return Promise.all(logouts.map((logout) => deliver(deps, current, logout)));
    },
  };
}

/**
 * The channel of a process that answers no request (the CLI): serve's
 * provider configuration and key set, the same issuer when it runs with
 * serve's settings, built on the first send. The secret key ring is asked
 * for then too, so a command that ends no application session needs none.
 */
export function standaloneLogoutChannel(deps: Deps, issuer: string, secrets: () => SecretBox): LogoutChannel {
  let built: Promise<Provider> | undefined;
  const build = async (): Promise<Provider> => {
    const withKeys = { ...deps, secrets: secrets() };
    const keySet = await keySetAt(withKeys, deps.clock.now());
    if (keySet.keys.length === 0) throw new Error('no signing key opens with this secret key');
    return createProvider(withKeys, {
      issuer,
      jwks: keySet.keys,
      // This provider answers no request: what only requests use is inert.
      sessionCookieName: 'portcullis_session',
      cookieKeys: [randomBytes(32).toString('base64url')],
      proxy: false,
      interactionPath: () => '/',
      renderError: answersNoRequest,
      logoutSource: answersNoRequest,
      postLogoutSuccessSource: answersNoRequest,
    });
  };
  return providerLogoutChannel(deps, () => (built ??= build()));
}

function answersNoRequest(): never {
  throw new Error('the CLI\'s provider answers no request');
}

async function deliver(deps: Pick<Deps, 'logger'>, provider: Provider, logout: ApplicationLogout): Promise<LogoutDelivery> {
  try {
    const client = await provider.Client.find(logout.clientId);
    // An application deleted since, or one without a back-channel URI: nothing to tell.
    if (!client?.backchannelLogoutUri) return { clientId: logout.clientId, sent: false, skipped: true };
    await (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout(logout.sub, logout.sid ?? '');
    deps.logger.info({ clientId: logout.clientId }, 'back-channel logout sent');
    return { clientId: logout.clientId, sent: true, uri: client.backchannelLogoutUri };
  } catch (err) {
    // Not the error itself: got's error carries the request it made (the
    // logout token in its form) and the answer, and pino would write them all.
    const error = describe(err);
    deps.logger.warn({ clientId: logout.clientId, error }, 'back-channel logout failed');
    return { clientId: logout.clientId, sent: false, error };
  }
}

/** What went wrong, as an operator reads it: the status, the network error's code, or the timeout. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (err as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer in time';
  return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
