import { randomId } from '../domain/providers.ts';
import type { AuditQuery } from '../storage/queries/audit.ts';
import type { AuditEvent } from '../storage/records.ts';
import type { Deps } from './deps.ts';

export type AuditInput = Omit<AuditEvent, 'id' | 'at' | 'detail' | 'actorUserId' | 'targetUserId' | 'target' | 'ip'> &
  Partial<Pick<AuditEvent, 'detail' | 'actorUserId' | 'targetUserId' | 'target' | 'ip'>>;

/** Writes one audit event through deps' store: inside inTransaction it is part of that transaction (and its metric of the commit). */
export async function audit(deps: Pick<Deps, 'clock' | 'random' | 'store'> & Partial<Pick<Deps, 'metrics'>>, input: AuditInput): Promise<void> {
  const { store } = deps;
  await store.audit.record({
    id: randomId(deps.random),
    at: deps.clock.now(),
    actorUserId: null,
    targetUserId: null,
    target: null,
    ip: null,
    detail: null,
    ...input,
  });
  // Counted once the event is committed: not for a transaction that rolls back.
  const metrics = deps.metrics;
  if (metrics) store.afterCommit(() => metrics.observe({ action: input.action, result: input.result, detail: input.detail ?? null }));
}

export type { AuditEvent, AuditQuery };

/** The account's audit log, newest first, for the pages and the API alike. */
export async function listAudit(deps: Pick<Deps, 'store'>, accountId: string, query: AuditQuery): Promise<AuditEvent[]> {
  return deps.store.audit.list(accountId, query);
}
