import { describe, expect, it } from 'vitest';
import { batchesOf, joinWrites } from '../../src/storage/postgres-connection.ts';
import type { Write } from '../../src/storage/postgres-connection.ts';

// How writes that waited inside a PostgreSQL transaction are sent
// (postgres-connection.ts): runs of different tables joined into one
// statement, their parameters renumbered. On the real server:
// store.contract.test.ts ("writes that answer nothing") and
// prepared-statements.test.ts.

const write = (text: string, ...values: unknown[]): Write => ({ text, values });

describe('waiting writes, joined', () => {
  it('joins writes to different tables, and starts a new statement at a table already in it, keeping the order', () => {
    const audit1 = write('insert into "audit_events" ("id") values ($1)', 'e1');
    const clear = write('delete from "throttles" where "scope" = $1', 'totp');
    const session = write('insert into "sessions" ("id") values ($1)', 's1');
    const audit2 = write('insert into "audit_events" ("id") values ($1)', 'e2');
    const touch = write('update "sessions" set "last_seen_at" = $1', 5);
    expect(batchesOf([audit1, clear, session, audit2, touch])).toEqual([[audit1, clear, session], [audit2, touch]]);
    expect(batchesOf([audit1])).toEqual([[audit1]]);
    expect(batchesOf([])).toEqual([]);
  });

  it('numbers each write’s parameters after the ones before it, two-digit numbers included', () => {
    const many = Array.from({ length: 11 }, (_, i) => i + 1);
    const first = write(`insert into "sessions" (${many.map((i) => `"c${i}"`).join(', ')}) values (${many.map((i) => `$${i}`).join(', ')})`, ...many);
    const second = write('delete from "throttles" where "scope" = $1 and "subject" = $2', 'totp', 'alice');
    const joined = joinWrites([first, second]);
    expect(joined.values).toEqual([...many, 'totp', 'alice']);
    expect(joined.text).toBe(
      `with w1 as (insert into "sessions" (${many.map((i) => `"c${i}"`).join(', ')}) values (${many.map((i) => `$${i}`).join(', ')})), ` +
        'w2 as (delete from "throttles" where "scope" = $12 and "subject" = $13) select 1',
    );
  });

  it('refuses a text that is not an INSERT, UPDATE or DELETE', () => {
    expect(() => batchesOf([write('select 1')])).toThrow(/not a deferrable write/);
  });
});
