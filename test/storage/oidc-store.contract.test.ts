import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, storeKinds } from '../helpers/stores.ts';
import type { TestDatabase } from '../helpers/stores.ts';
import type { Application } from '../../src/storage/records.ts';
import { openDatabase } from '../../src/storage/database.ts';
import { createStore } from '../../src/storage/store.ts';
import type { Store } from '../../src/storage/store.ts';

// The OpenID Connect provider's storage (issue 13), as a contract both
// databases keep: rows found until they expire, a code consumed once even
// when two connections race for it, revocation by grant and by user, and
// applications reached only within their account.

const NOW = Date.UTC(2026, 11, 1, 12);
const index = (over: Partial<{ grantId: string; uid: string; userId: string; expiresAt: number }> = {}) => ({
  grantId: over.grantId ?? null,
  uid: over.uid ?? null,
  userCode: null,
  userId: over.userId ?? null,
  expiresAt: over.expiresAt ?? NOW + 60_000,
});

describe.each(await storeKinds())('the OpenID Connect store (%s)', (kind) => {
  let t: TestDatabase;
  let other: { store: Store; close(): Promise<void> };
  let accountId = '';
  let otherAccount = '';

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    // A second connection to the same database, as another instance has.
    const second = t.name === 'sqlite' ? openDatabase(t.url) : openDatabase(t.url, { ...(t.schema ? { schema: t.schema } : {}), poolSize: 2 });
    other = { store: createStore(second.db, second.dialect), close: () => second.close() };
    accountId = 'a1'.padEnd(8, '1');
    otherAccount = 'a2'.padEnd(8, '2');
    for (const id of [accountId, otherAccount]) await t.store.accounts.create({ id, name: `Account ${id}`, mfaEnabled: false, createdAt: NOW });
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  it('finds a row until it expires, with its payload as given', async () => {
    await t.store.oidcPayloads.upsert('AccessToken', 'at-1', JSON.stringify({ jti: 'at-1', scope: 'openid' }), index({ expiresAt: NOW + 1000 }));
    expect((await t.store.oidcPayloads.find('AccessToken', 'at-1', NOW))?.payload).toEqual({ jti: 'at-1', scope: 'openid' });
    expect(await t.store.oidcPayloads.find('AccessToken', 'at-1', NOW + 1000)).toBeUndefined();
    expect(await t.store.oidcPayloads.find('RefreshToken', 'at-1', NOW)).toBeUndefined();
    expect(await t.store.oidcPayloads.deleteExpired(NOW + 1000)).toBeGreaterThanOrEqual(1);
  });

  it('replaces a row on upsert and finds an interaction by uid', async () => {
    await t.store.oidcPayloads.upsert('Session', 's-1', JSON.stringify({ v: 1 }), index({ uid: 'u-1' }));
    await t.store.oidcPayloads.upsert('Session', 's-1', JSON.stringify({ v: 2 }), index({ uid: 'u-1' }));
    expect((await t.store.oidcPayloads.findByUid('Session', 'u-1', NOW))?.payload).toEqual({ v: 2 });
  });

  it('consumes a code once: of two connections racing, exactly one wins', async () => {
    for (let round = 0; round < 10; round++) {
      const id = `code-${round}`;
      await t.store.oidcPayloads.upsert('AuthorizationCode', id, JSON.stringify({ jti: id }), index({ grantId: `g-${round}` }));
      const results = await Promise.all([
        t.store.oidcPayloads.consume('AuthorizationCode', id, NOW),
        other.store.oidcPayloads.consume('AuthorizationCode', id, NOW),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await t.store.oidcPayloads.find('AuthorizationCode', id, NOW))?.consumedAt).toBe(NOW);
      expect(await t.store.oidcPayloads.consume('AuthorizationCode', id, NOW)).toBe(false);
    }
  });

  it('revokes what a grant issued, and the grant, and nothing of another grant', async () => {
    await t.store.oidcPayloads.upsert('Grant', 'g-x', JSON.stringify({}), index());
    await t.store.oidcPayloads.upsert('AccessToken', 'at-x', JSON.stringify({}), index({ grantId: 'g-x' }));
    await t.store.oidcPayloads.upsert('RefreshToken', 'rt-x', JSON.stringify({}), index({ grantId: 'g-x' }));
    await t.store.oidcPayloads.upsert('RefreshToken', 'rt-y', JSON.stringify({}), index({ grantId: 'g-y' }));
    expect(await t.store.oidcPayloads.revokeGrant('g-x')).toBe(3);
    expect(await t.store.oidcPayloads.find('RefreshToken', 'rt-x', NOW)).toBeUndefined();
    expect(await t.store.oidcPayloads.find('RefreshToken', 'rt-y', NOW)).toBeDefined();
  });

  it('ends everything of one user and lists their sessions first', async () => {
    await t.store.oidcPayloads.upsert('Session', 's-u', JSON.stringify({ accountId: 'user-1', authorizations: {} }), index({ userId: 'user-1' }));
    await t.store.oidcPayloads.upsert('RefreshToken', 'rt-u', JSON.stringify({}), index({ userId: 'user-1' }));
    await t.store.oidcPayloads.upsert('RefreshToken', 'rt-v', JSON.stringify({}), index({ userId: 'user-2' }));
    expect((await t.store.oidcPayloads.sessionsOf('user-1', NOW)).map((s) => s.jti)).toEqual(['s-u']);
    expect(await t.store.oidcPayloads.deleteForUser('user-1')).toBe(2);
    expect(await t.store.oidcPayloads.find('RefreshToken', 'rt-v', NOW)).toBeDefined();
  });

  it('ends everything of one user but one provider session and what its grants issued', async () => {
    const user = 'user-3';
    const row = (model: string, id: string, over: Partial<{ grantId: string; userId: string }> = {}) =>
      t.store.oidcPayloads.upsert(model, id, JSON.stringify({ accountId: over.userId ?? user }), index({ userId: user, ...over }));
    await row('Session', 'keep-s');
    await row('Grant', 'keep-g');
    await row('RefreshToken', 'keep-rt', { grantId: 'keep-g' });
    await row('AccessToken', 'keep-at', { grantId: 'keep-g' });
    await row('Session', 'other-s');
    await row('Grant', 'other-g');
    await row('RefreshToken', 'other-rt', { grantId: 'other-g' });
    // A grant no live session names any more (its session expired): it is not this browser's.
    await row('Grant', 'orphan-g');
    await row('RefreshToken', 'orphan-rt', { grantId: 'orphan-g' });
    // Another user's session of the same id space is not touched.
    await row('RefreshToken', 'someone-rt', { grantId: 'keep-g', userId: 'user-4' });
    expect(await t.store.oidcPayloads.deleteForUserExcept(user, { sessionId: 'keep-s', grantIds: ['keep-g'] })).toBe(5);
    for (const [model, id] of [['Session', 'keep-s'], ['Grant', 'keep-g'], ['RefreshToken', 'keep-rt'], ['AccessToken', 'keep-at'], ['RefreshToken', 'someone-rt']]) {
      expect(await t.store.oidcPayloads.find(model!, id!, NOW), `${model} ${id} is kept`).toBeDefined();
    }
    for (const [model, id] of [['Session', 'other-s'], ['Grant', 'other-g'], ['RefreshToken', 'other-rt'], ['Grant', 'orphan-g'], ['RefreshToken', 'orphan-rt']]) {
      expect(await t.store.oidcPayloads.find(model!, id!, NOW), `${model} ${id} is gone`).toBeUndefined();
    }
    // A session without grants keeps only itself.
    expect(await t.store.oidcPayloads.deleteForUserExcept(user, { sessionId: 'keep-s', grantIds: [] })).toBe(3);
    expect(await t.store.oidcPayloads.find('Session', 'keep-s', NOW)).toBeDefined();
    expect(await t.store.oidcPayloads.deleteForUser(user)).toBe(1);
  });

  it('reaches an application only within its account, and by client id for the provider', async () => {
    const app: Application = {
      id: `client-${kind}`,
      accountId,
      name: 'Wiki',
      secretHash: 'ab'.repeat(32),
      redirectUris: ['https://wiki.example/cb'],
      postLogoutRedirectUris: [],
      backchannelLogoutUri: null,
      launchUrl: 'https://wiki.example/',
      createdAt: NOW,
      updatedAt: NOW,
    };
    await t.store.applications.create(app);
    expect(await t.store.applications.byClientId(app.id)).toEqual(app);
    expect(await t.store.applications.get(otherAccount, app.id)).toBeUndefined();
    expect(await t.store.applications.update(otherAccount, app.id, { name: 'Stolen' }, NOW)).toBe(false);
    expect(await t.store.applications.delete(otherAccount, app.id)).toBe(false);
    expect((await t.store.applications.list(accountId)).map((a) => a.name)).toEqual(['Wiki']);
    expect(await t.store.applications.update(accountId, app.id, { redirectUris: ['https://wiki.example/cb2'] }, NOW + 1)).toBe(true);
    expect((await t.store.applications.get(accountId, app.id))?.redirectUris).toEqual(['https://wiki.example/cb2']);
    expect(await t.store.applications.delete(accountId, app.id)).toBe(true);
  });

  it('keeps one first signing key when two instances add it at once', async () => {
    const key = (by: string) => ({
      id: 'rs256-1',
      alg: 'RS256' as const,
      privateJwk: { keyId: 'k', ciphertext: by },
      createdAt: NOW,
      signsFrom: NOW,
      retiredAt: null,
    });
    await Promise.all([t.store.signingKeys.addIfAbsent(key('first')), other.store.signingKeys.addIfAbsent(key('second'))]);
    const keys = await t.store.signingKeys.all();
    expect(keys.filter((k) => k.id === 'rs256-1')).toHaveLength(1);
    await t.store.signingKeys.retire('rs256-1', NOW + 10);
    await t.store.signingKeys.retire('rs256-1', NOW + 20); // a later retirement does not postpone an earlier one
    expect((await t.store.signingKeys.all()).find((k) => k.id === 'rs256-1')?.retiredAt).toBe(NOW + 10);
    expect(await t.store.signingKeys.deleteRetired(NOW + 10)).toBe(1);
  });
});
