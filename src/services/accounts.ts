import { ACCOUNT_NUMBER_LENGTH, checkAccountName } from '../domain/names.ts';
import { randomDigits } from '../domain/providers.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { insertUser, validateUser } from './users.ts';
import type { Actor } from './users.ts';

export type CreateAccountResult =
  | { ok: true; accountId: string; adminUserId: string }
  | { ok: false; reason: 'invalid'; errors: string[] };

/** A random account number that does not start with 0 (people drop leading zeros). */
function newAccountNumber(deps: Deps): string {
  const first = String(1 + (Number(randomDigits(deps.random, 2)) % 9));
  return first + randomDigits(deps.random, ACCOUNT_NUMBER_LENGTH - 1);
}

/** Creates an account with its first admin, in one transaction. */
export async function createAccount(
  deps: Deps,
  input: { name: string; adminUsername: string; adminPassword: string },
  actor: Actor,
): Promise<CreateAccountResult> {
  const name = checkAccountName(input.name);
  const admin = validateUser(deps, { username: input.adminUsername, role: 'admin', password: input.adminPassword });
  const errors = [...(name.ok ? [] : [name.reason]), ...(admin.ok ? [] : admin.errors)];
  if (!name.ok || !admin.ok) return { ok: false, reason: 'invalid', errors };
  const passwordHash = await deps.hasher.hash(admin.value.password);

  return inTransaction(deps, async (tx) => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const accountId = newAccountNumber(deps);
      const created = await tx.store.accounts.create({ id: accountId, name: name.name, mfaEnabled: false, createdAt: deps.clock.now() });
      if (!created) continue;
      await audit(tx, { accountId, actor: actor.label, action: 'account.create', ip: actor.ip, result: 'success', detail: { name: name.name } });
      const adminUserId = await insertUser(tx, accountId, admin.value, passwordHash, actor, 'user');
      if (!adminUserId) throw new Error('a new account already had a user');
      return { ok: true as const, accountId, adminUserId };
    }
    throw new Error('could not find a free account number');
  });
}
