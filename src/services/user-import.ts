import { parseCsv } from '../domain/csv.ts';
import type { PasswordRules } from '../domain/password-policy.ts';
import { accountPasswordRules } from './access-rules.ts';
import { audit } from './audit.ts';
import { inTransaction } from './deps.ts';
import type { Deps } from './deps.ts';
import { insertUser, validateUser } from './users.ts';
import type { Actor, ValidUser } from './users.ts';

// Bulk onboarding from CSV: username,role,password[,skills] with skills
// separated by ";". All or nothing: every row is checked first, and any bad
// row (reported with its line) means nothing of the file is written.

export interface ImportError {
  line: number;
  message: string;
}

export type ImportResult =
  | { ok: true; imported: number; skillsAssigned: number }
  | { ok: false; reason: 'invalid'; errors: ImportError[] };

/** At most this many rows in one file; larger onboardings are split. */
export const MAX_IMPORT_ROWS = 100_000;

interface Row {
  line: number;
  user: ValidUser;
}

function isHeader(fields: string[]): boolean {
  return fields[0]?.trim().toLowerCase() === 'username' && fields[1]?.trim().toLowerCase() === 'role';
}

function readRows(deps: Deps, text: string, passwordRules: PasswordRules): { rows: Row[]; errors: ImportError[] } {
  const parsed = parseCsv(text);
  if (!parsed.ok) return { rows: [], errors: [{ line: parsed.line, message: `CSV syntax: ${parsed.reason}.` }] };
  const records = parsed.records[0] && isHeader(parsed.records[0].fields) ? parsed.records.slice(1) : parsed.records;
  if (records.length === 0) return { rows: [], errors: [{ line: 1, message: 'The file has no users.' }] };
  if (records.length > MAX_IMPORT_ROWS) {
    return { rows: [], errors: [{ line: 1, message: `The file has ${records.length} rows; at most ${MAX_IMPORT_ROWS} are taken at once.` }] };
  }
  const rows: Row[] = [];
  const errors: ImportError[] = [];
  const seen = new Map<string, number>();
  for (const { line, fields } of records) {
    if (fields.length < 3 || fields.length > 4) {
      errors.push({ line, message: `Expected 3 or 4 columns (username,role,password[,skills]); found ${fields.length}.` });
      continue;
    }
    const [username = '', role = '', password = '', skills = ''] = fields;
    const checked = validateUser(deps, { username: username.trim(), role: role.trim(), password, skills: skills.split(';') }, passwordRules);
    if (!checked.ok) {
      for (const message of checked.errors) errors.push({ line, message });
      continue;
    }
    const first = seen.get(checked.value.usernameKey);
    if (first !== undefined) {
      // By line only: a column of passwords taken for usernames must not be printed (issue 16, finding 12).
      errors.push({ line, message: `The same username as on line ${first}.` });
      continue;
    }
    seen.set(checked.value.usernameKey, line);
    rows.push({ line, user: checked.value });
  }
  return { rows, errors };
}

/** Runs fn over items with at most `limit` in flight (argon2 runs on the thread pool). */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function importUsers(deps: Deps, accountId: string, csv: string, actor: Actor, concurrency = 4): Promise<ImportResult> {
  if (!(await deps.store.accounts.get(accountId))) return { ok: false, reason: 'invalid', errors: [{ line: 0, message: `There is no account ${accountId}.` }] };
  // The account's own minimum password length, where its login policy set a longer one.
  const { rows, errors } = readRows(deps, csv, await accountPasswordRules(deps, accountId));
  if (errors.length > 0) return { ok: false, reason: 'invalid', errors };

  const taken = await deps.store.users.existingKeys(accountId, rows.map((r) => r.user.usernameKey));
  const clashes = rows
    .filter((r) => taken.has(r.user.usernameKey))
    .map((r) => ({ line: r.line, message: 'This username already exists in this account.' }));
  if (clashes.length > 0) return { ok: false, reason: 'invalid', errors: clashes };

  const hashes = await mapLimited(rows, concurrency, (r) => deps.hasher.hash(r.user.password));

  class Clash extends Error {
    constructor(readonly row: Row) {
      super('username taken during import');
    }
  }
  try {
    await inTransaction(deps, async (tx) => {
      for (const [index, row] of rows.entries()) {
        const id = await insertUser(tx, accountId, row.user, hashes[index] as string, actor, 'admin');
        if (!id) throw new Clash(row);
      }
      await audit(tx, { accountId, actorUserId: actor.userId, actor: actor.label, action: 'user.import', ip: actor.ip, result: 'success', detail: { users: rows.length } });
    });
  } catch (error) {
    if (error instanceof Clash) {
      return { ok: false, reason: 'invalid', errors: [{ line: error.row.line, message: 'This username was created by someone else during the import.' }] };
    }
    throw error;
  }
  return { ok: true, imported: rows.length, skillsAssigned: rows.reduce((n, r) => n + r.user.skills.length, 0) };
}
