import type { Kysely } from 'kysely';
import type { AuditEvent } from '../records.ts';
import type { Database } from '../schema.ts';

export interface AuditQuery {
  action?: string;
  userId?: string;
  limit: number;
  offset: number;
}

export function auditQueries(db: Kysely<Database>) {
  return {
    async record(event: AuditEvent): Promise<void> {
      await db
        .insertInto('audit_events')
        .values({
          id: event.id,
          account_id: event.accountId,
          at: event.at,
          actor_user_id: event.actorUserId,
          actor: event.actor,
          action: event.action,
          target_user_id: event.targetUserId,
          target: event.target,
          ip: event.ip,
          result: event.result,
          detail: event.detail ? JSON.stringify(event.detail) : null,
        })
        .execute();
    },

    /** Newest first. A user filter matches the user as actor or as target. */
    async list(accountId: string, query: AuditQuery): Promise<AuditEvent[]> {
      let q = db.selectFrom('audit_events').selectAll().where('account_id', '=', accountId);
      if (query.action) q = q.where('action', '=', query.action);
      const userId = query.userId;
      if (userId) q = q.where((eb) => eb.or([eb('actor_user_id', '=', userId), eb('target_user_id', '=', userId)]));
      const rows = await q.orderBy('at', 'desc').orderBy('id').limit(query.limit).offset(query.offset).execute();
      return rows.map((r) => ({
        id: r.id,
        accountId: r.account_id,
        at: r.at,
        actorUserId: r.actor_user_id,
        actor: r.actor,
        action: r.action,
        targetUserId: r.target_user_id,
        target: r.target,
        ip: r.ip,
        result: r.result as AuditEvent['result'],
        detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
      }));
    },
  };
}
