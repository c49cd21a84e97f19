import type { Insertable, Kysely } from 'kysely';
import { deferrableWrite } from '../compiled.ts';
import type { AuditEvent } from '../records.ts';
import type { AuditEventsTable, Database } from '../schema.ts';

const insertEvent = deferrableWrite<Required<Insertable<AuditEventsTable>>>((db, p) =>
  db.insertInto('audit_events').values({
    id: p('id'),
    account_id: p('account_id'),
    at: p('at'),
    actor_user_id: p('actor_user_id'),
    actor: p('actor'),
    action: p('action'),
    target_user_id: p('target_user_id'),
    target: p('target'),
    ip: p('ip'),
    result: p('result'),
    detail: p('detail'),
  }),
);

export interface AuditQuery {
  action?: string;
  userId?: string;
  limit: number;
  offset: number;
}

export function auditQueries(db: Kysely<Database>) {
  return {
    async record(event: AuditEvent): Promise<void> {
      await insertEvent(db, {
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
      });
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
