// The outbox as an operator sees it: the upstream deletions of an organisation, newest first and
// paged by keyset, and re-queueing one that failed so the worker delivers it again.
import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
import type { Provider, ResourceKind, UpstreamStatus } from '../domain.ts';
import { appendAuditEvent } from '../audit/append.ts';
import { upstreamEvent } from '../deletion/recorder.ts';
import { immediate, type Db } from '../db/open.ts';
import { upstreamDeletions, type AuditEventRow, type UpstreamDeletionRow } from '../db/schema.ts';
import type { Runtime } from '../runtime.ts';

/** A row's position in the list: createdAt never changes, kind + resourceId break ties. */
export interface OutboxPosition {
  createdAt: string;
  kind: string;
  resourceId: string;
}

export interface OutboxFilter {
  organizationId: string;
  status?: UpstreamStatus | null;
  provider?: Provider | null;
  after?: OutboxPosition | null;
  limit: number;
}

export function positionOf(row: UpstreamDeletionRow): OutboxPosition {
  return { createdAt: row.createdAt, kind: row.kind, resourceId: row.resourceId };
}

export function listUpstreamDeletions(db: Db, filter: OutboxFilter): UpstreamDeletionRow[] {
  const t = upstreamDeletions;
  const conditions: SQL[] = [eq(t.organizationId, filter.organizationId)];
  if (filter.status) conditions.push(eq(t.status, filter.status));
  if (filter.provider) conditions.push(eq(t.provider, filter.provider));
  const after = filter.after;
  if (after) {
    // Strictly after the cursor in (createdAt, kind, resourceId) descending order.
    conditions.push(
      or(
        lt(t.createdAt, after.createdAt),
        and(eq(t.createdAt, after.createdAt), or(lt(t.kind, after.kind), and(eq(t.kind, after.kind), lt(t.resourceId, after.resourceId)))),
      )!,
    );
  }
  return db
    .select()
    .from(t)
    .where(and(...conditions))
    .orderBy(desc(t.createdAt), desc(t.kind), desc(t.resourceId))
    .limit(filter.limit)
    .all();
}

export interface RequeueInput {
  kind: ResourceKind;
  resourceId: string;
  actor: string;
  userId: string;
  requestId: string | null;
  traceId: string | null;
}

/**
 * Puts a FAILED upstream deletion back in the queue with a full set of attempts, due now, and audits
 * it as UPSTREAM_REQUEUED in the same transaction. Null when the row is not FAILED (any more).
 */
export function requeueUpstreamDeletion(db: Db, runtime: Runtime, input: RequeueInput): { row: UpstreamDeletionRow; event: AuditEventRow } | null {
  return immediate(db, (tx) => {
    const where = and(eq(upstreamDeletions.kind, input.kind), eq(upstreamDeletions.resourceId, input.resourceId));
    const before = tx.select().from(upstreamDeletions).where(where).get();
    if (!before || before.status !== 'FAILED') return null;
    const now = runtime.clock.now().toISOString();
    const row = tx
      .update(upstreamDeletions)
      .set({
        status: 'PENDING',
        attempts: 0,
        inProgressAttempts: 0,
        reason: 'REQUEUED',
        nextAttemptAt: now,
        queuedAt: now,
        leaseOwner: null,
        leaseUntil: null,
        completedAt: null,
        updatedAt: now,
      })
      .where(where)
      .returning()
      .get();
    const event = appendAuditEvent(
      db,
      runtime,
      upstreamEvent(before, input.actor, 'upstream.requeue', 'UPSTREAM_REQUEUED', {
        requestId: input.requestId,
        traceId: input.traceId,
        upstreamHttpStatus: before.lastHttpStatus,
        details: {
          userId: input.userId,
          previous: { reason: before.reason, attempts: before.attempts, lastHttpStatus: before.lastHttpStatus, lastError: before.lastError },
        },
      }),
    );
    return { row, event };
  });
}
