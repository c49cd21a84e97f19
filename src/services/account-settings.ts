import { secondFactorVerifiedAt } from '../domain/auth-methods.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { createSession } from './sessions.ts';
import { endApplicationSessionsWithoutMfa } from './oidc/revocation.ts';

export type MfaSettingResult =
  | { ok: true; change: 'unchanged' }
  | { ok: true; change: 'disabled' }
  /** MFA is on; the admin's own session needs its second factor now: continue with this pending session. */
  | { ok: true; change: 'enabled'; sessionsEnded: number; pendingToken: string | undefined };

/**
 * Switches the account's MFA policy. Switching it on applies at once: every
 * session signed in without a second factor ends, and the admin who saved it
 * is moved to a pending sign-in so they set up (or verify) right away.
 */
export async function setAccountMfa(deps: Deps, admin: SessionView, enabled: boolean, ip: string): Promise<MfaSettingResult> {
  const { account, user, session } = admin;
  if (account.mfaEnabled === enabled) return { ok: true, change: 'unchanged' };
  const base = { accountId: account.id, actorUserId: user.id, actor: user.username, ip, result: 'success' as const };
  if (!enabled) {
    await inTransaction(deps, async (tx) => {
      await tx.store.accounts.setMfaEnabled(account.id, false);
      await audit(tx, { ...base, action: 'account.mfa_disabled' });
    });
    return { ok: true, change: 'disabled' };
  }
  const ownNeedsFactor = secondFactorVerifiedAt(session.methods) === null;
  const sessionsEnded = await inTransaction(deps, async (tx) => {
    await tx.store.accounts.setMfaEnabled(account.id, true);
    const ended = await tx.store.sessions.deleteWithoutSecondFactor(account.id, ownNeedsFactor ? null : session.id);
    // Browsers remembered before MFA went off skip nothing now: every sign-in gives a code again first.
    await tx.store.rememberedBrowsers.deleteForAccount(account.id);
    await endApplicationSessionsWithoutMfa(tx, account.id);
    await audit(tx, { ...base, action: 'account.mfa_enabled', detail: { sessionsEnded: ended } });
    return ended;
  });
  const client = { ip, agent: session.client.agent };
  // The admin's password step carries over; the factor is what is still owed.
  const methods = session.methods.filter((m) => m.kind === 'password');
  const pending = ownNeedsFactor ? await createSession(deps, { accountId: account.id, id: user.id }, 'pending', client, methods) : undefined;
  return { ok: true, change: 'enabled', sessionsEnded, pendingToken: pending?.token };
}
