import type { Account, KoaContextWithOIDC } from 'oidc-provider';
import type { Deps } from '../deps.ts';

// What an application learns about who signed in (issue 13; the claims are
// listed in docs/oidc.md). sub is the user's id: stable across renames and
// never reused. Only users of the application's own account are found, and
// only while active: a user of another account never gets a token for it.

/** acr values (OpenID Connect Core §2): a password alone, or a password and a second factor. */
export const ACR_PWD = 'urn:portcullis:loa:pwd';
export const ACR_MFA = 'urn:portcullis:loa:mfa';

/** An authorization request's acr_values (space-separated, Core §3.1.2.1) asks for a second factor. */
export function asksForMfa(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(ACR_MFA);
}

export function acrOf(secondFactor: boolean): string {
  return secondFactor ? ACR_MFA : ACR_PWD;
}

function accountIdOf(ctx: KoaContextWithOIDC): string | undefined {
  const value = (ctx.oidc.client as { portcullis_account_id?: unknown } | undefined)?.portcullis_account_id;
  return typeof value === 'string' ? value : undefined;
}

export async function findAccount(deps: Deps, ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> {
  const accountId = accountIdOf(ctx);
  if (!accountId) return undefined;
  const user = await deps.store.users.get(accountId, sub);
  if (!user || user.state !== 'active') return undefined;
  const account: Account = {
    accountId: user.id,
    async claims(_use, scope) {
      const scopes = new Set(scope.split(' '));
      const claims: Record<string, unknown> = { sub: user.id };
      if (scopes.has('profile')) claims.preferred_username = user.username;
      if (scopes.has('email') && user.email) {
        claims.email = user.email;
        // Portcullis does not verify addresses: an admin typed it.
        claims.email_verified = false;
      }
      if (scopes.has('account')) {
        const tenant = await deps.store.accounts.get(user.accountId);
        const skills = await deps.store.skills.forUsers(user.accountId, [user.id]);
        claims.account_id = user.accountId;
        claims.account_name = tenant?.name ?? null;
        claims.role = user.role;
        claims.skills = skills.get(user.id) ?? [];
      }
      return claims as { sub: string };
    },
  };
  return account;
}
