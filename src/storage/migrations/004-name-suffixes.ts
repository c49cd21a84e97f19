import { PostgresAdapter, sql } from 'kysely';
import type { Kysely } from 'kysely';

// The user list's part-of-name search, served by a B-tree of name suffixes
// instead of trigrams (migration 003). Every name is stored once per starting
// position, cut to SUFFIX_CHARACTERS: "agent12" as "agent12", "gent12", …, "2".
// A name contains a text exactly when one of its suffixes starts with it, and
// "starts with" is a range of one B-tree led by the account id: a search reads
// the entries that match and no others, however many names share the text's
// letters. Trigram indexes (GIN, FTS5) read the whole list of every trigram of
// the text, and in an account whose names all contain "agent" those lists hold
// every user (docs/performance.md, Growth). The cost is space: about one row
// per character of each name, and more rows to write when users are added.
//
// Suffixes are cut to SUFFIX_CHARACTERS, so a longer text is looked up by its
// first SUFFIX_CHARACTERS; the query then checks the whole text on the name.
// The rows are kept by triggers, so every way a user is added or renamed (the
// API, the CLI, an import, SQL by hand) keeps them in step; deleting a user or
// account removes them through the foreign key. Neither store needs an
// extension: pg_trgm and btree_gin are no longer used.

/** The longest suffix stored; a longer search text is looked up by its start. */
export const SUFFIX_CHARACTERS = 16;
/** Starting positions a SQLite name can have suffixes at (NFKC and lower-casing can lengthen a 64-character name a little). */
const SQLITE_POSITIONS = 256;

async function upPostgres(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists users_username_trgm`.execute(db);
  await sql`create table user_name_suffixes (
    account_id text not null,
    suffix text collate "C" not null,
    user_id text not null references users(id) on delete cascade,
    primary key (account_id, suffix, user_id)
  )`.execute(db);
  await sql`create index user_name_suffixes_user on user_name_suffixes (user_id)`.execute(db);
  // The table is found through the search_path of this migration, whatever the
  // search_path of the session that changes a user (psql, a maintenance job).
  await sql`create function portcullis_user_name_suffixes() returns trigger language plpgsql
  set search_path from current as $$
    begin
      if tg_op = 'UPDATE' then
        delete from user_name_suffixes where user_id = old.id;
      end if;
      insert into user_name_suffixes (account_id, suffix, user_id)
        select new.account_id, substr(new.username_key, k, ${sql.lit(SUFFIX_CHARACTERS)}), new.id
        from generate_series(1, char_length(new.username_key)) k
        on conflict do nothing;
      return null;
    end
  $$`.execute(db);
  await sql`create trigger users_name_suffixes after insert or update of username_key on users
    for each row execute function portcullis_user_name_suffixes()`.execute(db);
  await sql`insert into user_name_suffixes (account_id, suffix, user_id)
    select u.account_id, substr(u.username_key, k, ${sql.lit(SUFFIX_CHARACTERS)}), u.id
    from users u cross join lateral generate_series(1, char_length(u.username_key)) k
    on conflict do nothing`.execute(db);
}

async function upSqlite(db: Kysely<unknown>): Promise<void> {
  // What migration 003 made.
  for (const trigger of ['users_search_ai', 'users_search_au', 'user_search_rows_ai', 'user_search_rows_ad', 'user_search_rows_au']) {
    await sql`drop trigger if exists ${sql.id(trigger)}`.execute(db);
  }
  await sql`drop table if exists user_search`.execute(db);
  await sql`drop table if exists user_search_rows`.execute(db);

  await sql`create table if not exists user_name_suffixes (
    account_id text not null,
    suffix text not null,
    user_id text not null references users(id) on delete cascade,
    primary key (account_id, suffix, user_id)
  ) without rowid`.execute(db);
  await sql`create index if not exists user_name_suffixes_user on user_name_suffixes (user_id)`.execute(db);
  // Triggers cannot count with a recursive query in SQLite: a table of positions does.
  await sql`create table if not exists user_name_positions (k integer primary key)`.execute(db);
  await sql`insert or ignore into user_name_positions (k)
    with recursive n(k) as (select 1 union all select k + 1 from n where k < ${sql.lit(SQLITE_POSITIONS)}) select k from n`.execute(db);
  const cut = sql.lit(SUFFIX_CHARACTERS);
  const ofNewRow = sql`select new.account_id, substr(new.username_key, p.k, ${cut}), new.id
    from user_name_positions p where p.k <= length(new.username_key)`;
  await sql`create trigger if not exists users_name_suffixes_ai after insert on users begin
    insert or ignore into user_name_suffixes (account_id, suffix, user_id) ${ofNewRow};
  end`.execute(db);
  await sql`create trigger if not exists users_name_suffixes_au after update of username_key on users begin
    delete from user_name_suffixes where user_id = old.id;
    insert or ignore into user_name_suffixes (account_id, suffix, user_id) ${ofNewRow};
  end`.execute(db);
  await sql`insert or ignore into user_name_suffixes (account_id, suffix, user_id)
    select u.account_id, substr(u.username_key, p.k, ${cut}), u.id
    from users u join user_name_positions p on p.k <= length(u.username_key)`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) await upPostgres(db);
  else await upSqlite(db);
}
