import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Application } from '../../storage/records.ts';
import type { Deps } from '../deps.ts';

// oidc-provider's storage through our store (issue 13): one adapter per
// model. Clients come from the applications table (what the account's admins
// registered); every other model is a row of oidc_payloads. An authorization
// code is consumed by a conditional update: of two instances redeeming one
// code at once, one consumes it and the other gets invalid_grant and revokes
// the grant, as a code redeemed twice does (RFC 6749 §4.1.2; RFC 9700 §4.1.3
// ... "the authorization server SHOULD revoke all tokens").

/** The hash a client secret is kept as: SHA-256, hex (the secret is 256 random bits). */
export function clientSecretHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Client metadata for the provider. client_secret holds the hash; compareClientSecret (provider.ts) hashes what is presented. */
export function clientMetadata(app: Application): AdapterPayload {
  return {
    client_id: app.id,
    client_name: app.name,
    // A confidential client may present its secret either way: the provider
    // accepts client_secret_post for a client registered with _basic.
    ...(app.secretHash !== null ? { client_secret: app.secretHash, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'web',
    ...(app.backchannelLogoutUri ? { backchannel_logout_uri: app.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    portcullis_account_id: app.accountId,
  };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export function adapterFactory(deps: Deps): new (model: string) => Adapter {
  const store = () => deps.store;
  return class StoreAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are registered through Portcullis, not the provider');
      const now = deps.clock.now();
      const userId = typeof payload.accountId === 'string' ? payload.accountId : null;
      await store().oidcPayloads.upsert(this.model, id, JSON.stringify(payload), {
        grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        userCode: typeof payload.userCode === 'string' ? payload.userCode : null,
        userId,
        expiresAt: expiresIn ? now + expiresIn * 1000 : null,
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') {
        const app = await store().applications.byClientId(id);
        return app ? clientMetadata(app) : undefined;
      }
      const found = await store().oidcPayloads.find(this.model, id, deps.clock.now());
      if (!found) return undefined;
      return { ...found.payload, ...(found.consumedAt !== null ? { consumed: seconds(found.consumedAt) } : {}) };
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const found = await store().oidcPayloads.findByUserCode(this.model, userCode, deps.clock.now());
      return found?.payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const found = await store().oidcPayloads.findByUid(this.model, uid, deps.clock.now());
      if (!found) return undefined;
      return { ...found.payload, ...(found.consumedAt !== null ? { consumed: seconds(found.consumedAt) } : {}) };
    }

    async consume(id: string): Promise<void> {
      if (await store().oidcPayloads.consume(this.model, id, deps.clock.now())) return;
      // Another request consumed it between the provider's read and this
      // write: the same code used twice. What it issued is revoked.
      const grantId = await store().oidcPayloads.grantOf(this.model, id);
      if (grantId) await store().oidcPayloads.revokeGrant(grantId);
      throw new errors.InvalidGrant('authorization code already consumed');
    }

    async destroy(id: string): Promise<void> {
      await store().oidcPayloads.destroy(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store().oidcPayloads.revokeGrant(grantId);
    }
  };
}
