import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase } from '../../src/storage/database.ts';

// Issue 16, finding 5: the data folder was made 0755 and the SQLite files
// 0644, though they hold password and recovery-code hashes, e-mail addresses
// and the audit log. Only the service's own user may read them.

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the embedded database on disk', () => {
  let root = '';
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it.runIf(process.platform !== 'win32')('makes its folder 0700 and its file, WAL and shared-memory file 0600', async () => {
    root = mkdtempSync(join(tmpdir(), 'portcullis-modes-'));
    const dir = join(root, 'data');
    const database = openDatabase(`sqlite:${join(dir, 'portcullis.db')}`);
    try {
      await migrateToLatest(database.db);
      await sql`select count(*) from accounts`.execute(database.db);
      expect(mode(dir)).toBe(0o700);
      for (const file of ['portcullis.db', 'portcullis.db-wal', 'portcullis.db-shm']) expect(mode(join(dir, file)), file).toBe(0o600);
    } finally {
      await database.close();
    }
  });
});
