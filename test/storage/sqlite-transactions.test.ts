import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase } from '../../src/storage/database.ts';

// A transaction that reads before it writes, while another process (a CLI
// command beside the server) writes to the same SQLite file: the other process
// waits for it, and both land. A DEFERRED transaction would fail its first write
// at once ("database is locked") because the other process committed after its read.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A process that writes one account row (waiting up to 5 s for the lock), answering its exit code. */
function writeFromAnotherProcess(file: string): Promise<number | null> {
  const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  const code = `const D = require(${JSON.stringify(betterSqlite3)}); const db = new D(${JSON.stringify(file)});
db.pragma('busy_timeout = 5000');
db.prepare("insert into accounts (id, name, mfa_enabled, created_at) values ('20000002', 'Other', 0, 1)").run();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('SQLite transactions', () => {
  it('hold the write lock from their start: another process writing meanwhile waits, and both land', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-tx-'));
    dirs.push(dir);
    const file = join(dir, 'p.db');
    const database = openDatabase(`sqlite:${file}`);
    try {
      await migrateToLatest(database.db);
      let other: Promise<number | null> | undefined;
      await database.db.transaction().execute(async (trx) => {
        await sql`select count(*) from accounts`.execute(trx);
        other = writeFromAnotherProcess(file);
        await new Promise((r) => setTimeout(r, 700)); // the other process starts and tries to write
        await sql`insert into accounts (id, name, mfa_enabled, created_at) values ('20000001', 'Ours', 0, 1)`.execute(trx);
      });
      expect(await other).toBe(0);
      const rows = await sql<{ id: string }>`select id from accounts order by id`.execute(database.db);
      expect(rows.rows.map((r) => r.id)).toEqual(['20000001', '20000002']);
    } finally {
      await database.close();
    }
  });
});
