import { PostgresAdapter, sql } from 'kysely';
import type { Kysely } from 'kysely';

// An index for the user list's part-of-name search (`username_key LIKE '%text%'`),
// which no B-tree can serve: without it the search reads every user of the account.
//
// PostgreSQL: a trigram GIN index (pg_trgm), led by the account id (btree_gin), so
// one account's search reads only that account's entries. Both are trusted
// extensions since PostgreSQL 13, which a database owner may create. Where they
// cannot be created, the migration makes what it can (the index without the account,
// or none): the search stays correct, only slower (docs/performance.md).
//
// SQLite: an FTS5 table with the trigram tokenizer. FTS5 needs an integer row id that
// never changes, and the users table has none (VACUUM may renumber implicit rowids),
// so user_search_rows gives each user one, in a range of its own account's
// (account number × 2^24 onwards): a search asks FTS5 for that range only.
// Triggers keep both in step with users.

/** Users per account an account's range of search row ids holds (SQLite). */
export const SEARCH_ROWS_PER_ACCOUNT = 16_777_216;

async function tryIn(db: Kysely<unknown>, name: string, work: () => Promise<void>): Promise<boolean> {
  await sql`savepoint ${sql.id(name)}`.execute(db);
  try {
    await work();
    await sql`release savepoint ${sql.id(name)}`.execute(db);
    return true;
  } catch {
    await sql`rollback to savepoint ${sql.id(name)}`.execute(db);
    return false;
  }
}

/** The schema an extension is installed in (any, if it was there before us). */
async function extensionSchema(db: Kysely<unknown>, name: string): Promise<string> {
  // Kysely's migration lock is one advisory lock for the whole database, so two
  // schemas migrating at once do not race here.
  await sql`create extension if not exists ${sql.id(name)} with schema public`.execute(db);
  const found = await sql<{ schema: string }>`
    select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
    where e.extname = ${name}`.execute(db);
  return found.rows[0]?.schema ?? 'public';
}

async function upPostgres(db: Kysely<unknown>): Promise<void> {
  const trigrams = async () => sql`${sql.id(await extensionSchema(db, 'pg_trgm'))}.gin_trgm_ops`;
  const withAccount = await tryIn(db, 'user_search_account', async () => {
    await extensionSchema(db, 'btree_gin');
    await sql`create index users_username_trgm on users using gin (account_id, username_key ${await trigrams()})`.execute(db);
  });
  if (!withAccount) {
    await tryIn(db, 'user_search', async () => {
      await sql`create index users_username_trgm on users using gin (username_key ${await trigrams()})`.execute(db);
    });
  }
}

// Kysely runs SQLite migrations outside a transaction: every statement here may run
// again after a start that failed half-way, and must then change nothing twice.
async function upSqlite(db: Kysely<unknown>): Promise<void> {
  await sql`create table if not exists user_search_rows (
    n integer primary key,
    user_id text not null unique references users(id) on delete cascade,
    username_key text not null
  )`.execute(db);
  // case_sensitive 1: both sides are already NFKC-lowercased by the application, so
  // a phrase of trigrams matches exactly the usernames that contain the text.
  await sql`create virtual table if not exists user_search using fts5(
    username_key, content='user_search_rows', content_rowid='n', tokenize='trigram case_sensitive 1'
  )`.execute(db);
  await sql`create trigger if not exists user_search_rows_ai after insert on user_search_rows begin
    insert into user_search(rowid, username_key) values (new.n, new.username_key);
  end`.execute(db);
  await sql`create trigger if not exists user_search_rows_ad after delete on user_search_rows begin
    insert into user_search(user_search, rowid, username_key) values ('delete', old.n, old.username_key);
  end`.execute(db);
  await sql`create trigger if not exists user_search_rows_au after update on user_search_rows begin
    insert into user_search(user_search, rowid, username_key) values ('delete', old.n, old.username_key);
    insert into user_search(rowid, username_key) values (new.n, new.username_key);
  end`.execute(db);
  const size = sql.lit(SEARCH_ROWS_PER_ACCOUNT);
  // The next free id in the account's range; a full range refuses the new user
  // rather than leave it out of the search.
  await sql`create trigger if not exists users_search_ai after insert on users begin
    select raise(abort, 'this account has reached its number of users')
      where exists (select 1 from user_search_rows where n = (cast(new.account_id as integer) + 1) * ${size} - 1);
    insert into user_search_rows(n, user_id, username_key) values (
      (select coalesce(max(n) + 1, cast(new.account_id as integer) * ${size}) from user_search_rows
        where n >= cast(new.account_id as integer) * ${size} and n < (cast(new.account_id as integer) + 1) * ${size}),
      new.id, new.username_key);
  end`.execute(db);
  await sql`create trigger if not exists users_search_au after update of username_key on users begin
    update user_search_rows set username_key = new.username_key where user_id = new.id;
  end`.execute(db);
  // Deleting a user deletes its row through the foreign key's cascade, which fires
  // user_search_rows_ad like any other delete.
  // The back-fill: every user without a row gets the next ids of its account's range
  // (the SELECT is computed before any row goes in), so a rerun adds only what is missing.
  const base = sql`cast(u.account_id as integer) * ${size}`;
  await sql`insert into user_search_rows(n, user_id, username_key)
    select coalesce((select max(r.n) + 1 from user_search_rows r where r.n >= ${base} and r.n < ${base} + ${size}), ${base})
        + row_number() over (partition by u.account_id order by u.created_at, u.id) - 1,
      u.id, u.username_key
    from users u
    where not exists (select 1 from user_search_rows r where r.user_id = u.id)`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) await upPostgres(db);
  else await upSqlite(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`drop index if exists users_username_trgm`.execute(db);
    return;
  }
  await sql`drop trigger if exists users_search_au`.execute(db);
  await sql`drop trigger if exists users_search_ai`.execute(db);
  await sql`drop table if exists user_search`.execute(db);
  await sql`drop table if exists user_search_rows`.execute(db);
}
