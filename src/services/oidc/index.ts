import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { Application } from '../../storage/records.ts';
import type { Settings } from '../../config/settings.ts';
import type { Deps } from '../deps.ts';
import { asksForMfa } from './claims.ts';
import { createProvider } from './provider.ts';
import type { OidcOptions } from './provider.ts';
import { ensureSigningKeys, keySetAt } from './signing-keys.ts';
import { providerLogoutChannel } from './logout-channel.ts';

export { OIDC_PREFIX, loginResult, accountOfClient, providerCookieKey, clientAddresses } from './provider.ts';
export { clientSecretHash } from './adapter.ts';
export { ACR_MFA, asksForMfa } from './claims.ts';

/**
 * The issuer: PORTCULLIS_PUBLIC_URL, or the local address when it is unset
 * (with the start-up warning the cookies have). No trailing slash: the
 * discovery document is at issuer + /.well-known/openid-configuration.
 */
export function issuerFor(settings: Pick<Settings, 'publicUrl' | 'host' | 'port'>): string {
  if (settings.publicUrl) return `${settings.publicUrl.origin}${settings.publicUrl.pathname.replace(/\/+$/, '')}`;
  const host = ['0.0.0.0', '::'].includes(settings.host) ? 'localhost' : settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return `http://${host}:${settings.port}`;
}

/** The provider's session cookie (oidc-provider's default name); its value is the provider session's id. */
export const PROVIDER_SESSION_COOKIE = '_session';

/** How often an instance looks for a changed key set (a rotated key that now signs, a retired one). */
export const KEY_SET_CHECK_MS = 60_000;

export interface InteractionContext {
  uid: string;
  application: Application;
  accountName: string;
  /** The application asked for a second factor (acr_values with ACR_MFA): asked for at this sign-in even where the account's MFA is off. */
  mfaRequested: boolean;
}

/**
 * The provider as the HTTP layer sees it. The provider is rebuilt when the
 * key set changes (rotation), so the current one is asked for each time.
 */
export interface Oidc {
  current(): Provider;
  /** The Node handler of the current provider. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The application and account of a pending interaction, or undefined when it is gone or unknown. */
  interaction(uid: string): Promise<InteractionContext | undefined>;
  /** Looks at the key set now and rebuilds the provider if it changed. */
  refreshKeys(): Promise<void>;
  close(): void;
}

export async function createOidc(deps: Deps, opts: Omit<OidcOptions, 'jwks'>): Promise<Oidc> {
  await ensureSigningKeys(deps);
  let keySet = await keySetAt(deps, deps.clock.now());
  let provider = createProvider(deps, { ...opts, jwks: keySet.keys });
  let handler = provider.callback();

  async function refreshKeys(): Promise<void> {
    const next = await keySetAt(deps, deps.clock.now());
    if (next.fingerprint === keySet.fingerprint) return;
    keySet = next;
    provider = createProvider(deps, { ...opts, jwks: next.keys });
    handler = provider.callback();
    deps.logger.info({ keys: next.fingerprint }, 'signing key set changed');
  }

  // Back-channel logout tokens for the sessions Portcullis ends (revocation.ts).
  deps.logoutChannel = providerLogoutChannel(deps, async () => provider);

  // The key set is looked at again once KEY_SET_CHECK_MS have passed on the
  // service's clock, before the next request the provider answers: a rotated
  // key starts signing (and a retired one leaves) within a minute on every
  // instance, and a test moves its clock instead of waiting.
  let checkedAt = deps.clock.now();
  let checking: Promise<void> | undefined;
  async function keysFresh(): Promise<void> {
    if (checking) return checking;
    if (deps.clock.now() - checkedAt < KEY_SET_CHECK_MS) return;
    checkedAt = deps.clock.now();
    checking = refreshKeys()
      .catch((err: unknown) => deps.logger.warn({ err }, 'could not read the signing keys'))
      .finally(() => {
        checking = undefined;
      });
    return checking;
  }

  return {
    current: () => provider,
    handle: (req, res) => {
      keysFresh().then(
        () => void handler(req, res),
        () => void handler(req, res),
      );
    },
    async interaction(uid) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(uid)) return undefined;
      const interaction = await provider.Interaction.find(uid);
      const clientId = interaction?.params.client_id;
      if (!interaction || typeof clientId !== 'string') return undefined;
      const application = await deps.store.applications.byClientId(clientId);
      if (!application) return undefined;
      const account = await deps.store.accounts.get(application.accountId);
      if (!account) return undefined;
      return { uid, application, accountName: account.name, mfaRequested: asksForMfa(interaction?.params.acr_values) };
    },
    refreshKeys,
    close: () => undefined,
  };
}
