// The outbox as an operator sees it: the upstream deletions of an organisation, newest first and
// paged by keyset, and re-queueing one that failed so the worker delivers it again.
import type { Provider, ResourceKind, UpstreamStatus } from '../domain.ts';
import { appendEvent } from '../audit/append.ts';
import type { AuditEventRow } from '../audit/event.ts';
import { all, get, type Work } from '../db/sql.ts';
import type { Runtime } from '../runtime.ts';
import { carrierRequeued } from '../erasure/completion.ts';
import { SELECT_OUTBOX, upstreamEvent } from './record.ts';
import { OUTBOX_COLUMNS, decodeOutbox, decodeOutboxOrNull, type UpstreamDeletionRow } from './row.ts';

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

/** One indexed range scan (upstream_org_status or the org prefix of it), never an OFFSET walk. */
export function* listUpstreamDeletions(filter: OutboxFilter): Work<UpstreamDeletionRow[]> {
  const where = ['organization_id = ?'];
  const params: unknown[] = [filter.organizationId];
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.provider) {
    where.push('provider = ?');
    params.push(filter.provider);
  }
  const after = filter.after;
  if (after) {
    // Strictly after the cursor in (createdAt, kind, resourceId) descending order.
    where.push('(created_at < ? OR (created_at = ? AND (kind < ? OR (kind = ? AND resource_id < ?))))');
    params.push(after.createdAt, after.createdAt, after.kind, after.kind, after.resourceId);
  }
  const rows = yield* all(
    `SELECT ${OUTBOX_COLUMNS} FROM upstream_deletions WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, kind DESC, resource_id DESC LIMIT ?`,
    [...params, filter.limit],
  );
  return rows.map(decodeOutbox);
}

export interface RequeueInput {
  kind: ResourceKind;
  resourceId: string;
  actor: string;
  userId: string;
  requestId: string | null;
  traceId: string | null;
}

const REQUEUE = `UPDATE upstream_deletions SET status = 'PENDING', attempts = 0, in_progress_attempts = 0, reason = 'REQUEUED',
  next_attempt_at = ?, queued_at = ?, lease_owner = NULL, lease_until = NULL, completed_at = NULL, updated_at = ?
  WHERE kind = ? AND resource_id = ? AND status = 'FAILED' RETURNING ${OUTBOX_COLUMNS}`;

/**
 * Puts a FAILED upstream deletion back in the queue with a full set of attempts, due now, and audits
 * it as UPSTREAM_REQUEUED in the same transaction. Null when the row is not FAILED (any more).
 */
export function* requeueUpstreamDeletion(runtime: Runtime, input: RequeueInput): Work<{ row: UpstreamDeletionRow; event: AuditEventRow } | null> {
  const before = decodeOutboxOrNull(yield* get(SELECT_OUTBOX, [input.kind, input.resourceId]));
  if (!before || before.status !== 'FAILED') return null;
  const now = runtime.clock.now().toISOString();
  const row = decodeOutbox((yield* get(REQUEUE, [now, now, now, input.kind, input.resourceId]))!);
  // An erasure request with this item is running again (and will be audited complete again).
  yield* carrierRequeued(input.kind, input.resourceId);
  const event = yield* appendEvent(
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
}

/** An outbox row by its key (reads and bodies alike). */
export function* outboxRow(kind: string, resourceId: string): Work<UpstreamDeletionRow | null> {
  return decodeOutboxOrNull(yield* get(SELECT_OUTBOX, [kind, resourceId]));
}
