import type { Kysely, Selectable } from 'kysely';
import type { Application } from '../records.ts';
import type { ApplicationsTable, Database } from '../schema.ts';

// The OpenID Connect clients of each account. Reads by client id alone serve
// the provider (a client id is global, like a session token); everything an
// admin does names the account too, so an id from another account reaches
// nothing.

function list(value: string): string[] {
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
}

function toApplication(row: Selectable<ApplicationsTable>): Application {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: list(row.redirect_uris),
    postLogoutRedirectUris: list(row.post_logout_redirect_uris),
    backchannelLogoutUri: row.backchannel_logout_uri,
    launchUrl: row.launch_url,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export type ApplicationChanges = Partial<
  Pick<Application, 'name' | 'secretHash' | 'redirectUris' | 'postLogoutRedirectUris' | 'backchannelLogoutUri' | 'launchUrl'>
>;

export function applicationQueries(db: Kysely<Database>) {
  return {
    async create(app: Application): Promise<void> {
      await db
        .insertInto('applications')
        .values({
          id: app.id,
          account_id: app.accountId,
          name: app.name,
          secret_hash: app.secretHash,
          redirect_uris: JSON.stringify(app.redirectUris),
          post_logout_redirect_uris: JSON.stringify(app.postLogoutRedirectUris),
          backchannel_logout_uri: app.backchannelLogoutUri,
          launch_url: app.launchUrl,
          created_at: app.createdAt,
          updated_at: app.updatedAt,
        })
        .execute();
    },
    /** By client id alone: for the provider, which knows no account before it knows the client. */
    async byClientId(id: string): Promise<Application | undefined> {
      const row = await db.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toApplication(row) : undefined;
    },
    async get(accountId: string, id: string): Promise<Application | undefined> {
      const row = await db.selectFrom('applications').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
      return row ? toApplication(row) : undefined;
    },
    async list(accountId: string): Promise<Application[]> {
      const rows = await db.selectFrom('applications').selectAll().where('account_id', '=', accountId).orderBy('name').orderBy('id').execute();
      return rows.map(toApplication);
    },
    async update(accountId: string, id: string, changes: ApplicationChanges, now: number): Promise<boolean> {
      const result = await db
        .updateTable('applications')
        .set({
          ...(changes.name !== undefined && { name: changes.name }),
          ...(changes.secretHash !== undefined && { secret_hash: changes.secretHash }),
          ...(changes.redirectUris !== undefined && { redirect_uris: JSON.stringify(changes.redirectUris) }),
          ...(changes.postLogoutRedirectUris !== undefined && { post_logout_redirect_uris: JSON.stringify(changes.postLogoutRedirectUris) }),
          ...(changes.backchannelLogoutUri !== undefined && { backchannel_logout_uri: changes.backchannelLogoutUri }),
          ...(changes.launchUrl !== undefined && { launch_url: changes.launchUrl }),
          updated_at: now,
        })
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async delete(accountId: string, id: string): Promise<boolean> {
      const result = await db.deleteFrom('applications').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
