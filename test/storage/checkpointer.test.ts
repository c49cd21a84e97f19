import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from '../../src/storage/checkpointer.ts';
import { migrateToLatest, openDatabase } from '../../src/storage/database.ts';

// SQLite checkpoints (which sync the disk) run on a thread of their own, never on
// the connection the event loop uses.

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-checkpoint-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function until(condition: () => boolean, what: string, seconds = 15): Promise<void> {
  for (let waited = 0; waited < seconds * 1000; waited += 50) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the SQLite checkpointer', () => {
  it("moves committed pages into the database file while the app's connection never checkpoints", async () => {
    const file = join(tempDir(), 'p.db');
    const database = openDatabase(`sqlite:${file}`);
    try {
      await migrateToLatest(database.db);
      const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(database.db);
      expect(auto.rows[0]?.wal_autocheckpoint).toBe(0);
      const before = statSync(file).size;
      // ~3 MB of audit rows: well past the 1,000 pages SQLite would checkpoint at itself.
      for (let batch = 0; batch < 30; batch++) {
        await database.db
          .insertInto('audit_events')
          .values(
            Array.from({ length: 100 }, (_, i) => ({
              id: `e${batch}-${i}`,
              account_id: '12345678',
              at: Date.now(),
              actor_user_id: null,
              actor: 'cli',
              action: 'bench.fill',
              target_user_id: null,
              target: null,
              ip: null,
              result: 'success',
              detail: 'x'.repeat(1000),
            })),
          )
          .execute();
      }
      await until(() => statSync(file).size > before + 2_000_000, 'the database file to take the rows');
    } finally {
      await database.close();
    }
    // Closing checkpoints what is left and removes the log; the rows are all there.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const again = openDatabase(`sqlite:${file}`);
    try {
      const n = await sql<{ n: number }>`select count(*) as n from audit_events`.execute(again.db);
      expect(n.rows[0]?.n).toBe(3000);
    } finally {
      await again.close();
    }
  });

  it('tells its owner when it cannot run, so the connection can checkpoint again', async () => {
    let lost = 0;
    const checkpointer = startCheckpointer(join(tempDir(), 'missing.db'), () => lost++);
    await until(() => lost > 0, 'the failure to be reported');
    await checkpointer.stop();
    expect(lost).toBe(1);
  });

  it('is stopped once however often it is asked', async () => {
    const file = join(tempDir(), 'q.db');
    const database = openDatabase(`sqlite:${file}`);
    await migrateToLatest(database.db);
    await Promise.all([database.close()]);
    let lost = 0;
    const checkpointer = startCheckpointer(file, () => lost++);
    await Promise.all([checkpointer.stop(), checkpointer.stop()]);
    await checkpointer.stop();
    expect(lost).toBe(0);
  });
});
