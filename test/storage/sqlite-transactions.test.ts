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
//
// No sleep stands in for "the other process has tried by now": the other
// process first tries its write without waiting (busy_timeout 0) and says on
// stdout what happened. "busy" is the lock this transaction took at its start,
// seen from outside; a DEFERRED one, holding only a read snapshot, would let
// that write through ("wrote") and then fail its own. Only then does the other
// process write as the CLI does (busy timeout 5 s), waiting for the commit.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface OtherProcess {
  /** What its first write, tried without waiting, met: 'busy' (the lock is held) or 'wrote'. */
  firstTry: Promise<string>;
  /** Its exit code once it has written its row (waiting up to 5 s for the lock). */
  exit: Promise<number | null>;
}

/** A process that writes one account row: once without waiting, and if that was refused, again waiting up to 5 s for the lock. */
function writeFromAnotherProcess(file: string): OtherProcess {
  const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  // fs.writeSync: the line is out before the next statement blocks the process.
  const code = `const D = require(${JSON.stringify(betterSqlite3)}); const db = new D(${JSON.stringify(file)});
const say = (line) => require('node:fs').writeSync(1, line + '\\n');
const insert = () => db.prepare("insert into accounts (id, name, mfa_enabled, created_at) values ('20000002', 'Other', 0, 1)").run();
db.pragma('busy_timeout = 0');
try { insert(); say('wrote'); process.exit(0); } catch (error) { if (error.code !== 'SQLITE_BUSY') throw error; }
say('busy');
db.pragma('busy_timeout = 5000');
insert();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const firstTry = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) resolve(line);
    });
    child.once('close', (code) => reject(new Error(`the other process ended (${code}) before it said how its first write went`)));
  });
  return { firstTry, exit };
}

describe('SQLite transactions', () => {
  it('hold the write lock from their start: another process writing meanwhile waits, and both land', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-tx-'));
    dirs.push(dir);
    const file = join(dir, 'p.db');
    const database = openDatabase(`sqlite:${file}`);
    try {
      await migrateToLatest(database.db);
      let other: OtherProcess | undefined;
      await database.db.transaction().execute(async (trx) => {
        await sql`select count(*) from accounts`.execute(trx);
        other = writeFromAnotherProcess(file);
        // Still inside the transaction, which has only read so far.
        expect(await other.firstTry).toBe('busy');
        await sql`insert into accounts (id, name, mfa_enabled, created_at) values ('20000001', 'Ours', 0, 1)`.execute(trx);
      });
      expect(await other?.exit).toBe(0);
      const rows = await sql<{ id: string }>`select id from accounts order by id`.execute(database.db);
      expect(rows.rows.map((r) => r.id)).toEqual(['20000001', '20000002']);
    } finally {
      await database.close();
    }
  });
});
