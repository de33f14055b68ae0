// The end of an erasure request: once none of its items' upstream rows is PENDING, the request's end
// is audited as ERASURE_COMPLETED, exactly once each time it gets there. Called in the transaction
// that settles an outbox row (the recorder, a worker giving up, the request itself when nothing was
// left pending), so the event and the change that ended the request commit together.
//
// Several workers or instances may settle a request's last two items at once: each locks the
// request's row first and only then counts what is pending, so the second waits for the first to
// commit and then sees its outcome (READ COMMITTED reads anew per statement). Counting before the
// lock would let both see the other's item still PENDING and neither complete it.
import { appendEvent } from '../audit/append.ts';
import { all, get, run, type Work } from '../db/sql.ts';
import type { Runtime } from '../runtime.ts';

/** An item's state is its carrier's outbox row; a carrier without one never reads as deleted. */
export const ITEM_STATUS = "COALESCE(u.status, 'FAILED')";
export const ITEMS_WITH_STATUS = `erasure_items i LEFT JOIN upstream_deletions u ON u.kind = i.carrier_kind AND u.resource_id = i.carrier_id`;

// An UPDATE that changes nothing takes the row lock on PostgreSQL (SQLite's BEGIN IMMEDIATE is the
// only writer already), in SQL both dialects share.
const LOCK_OPEN_REQUEST = `UPDATE erasure_requests SET completed_at = completed_at WHERE id = ? AND completed_at IS NULL
  RETURNING id, organization_id AS "organizationId", subject_id AS "subjectId"`;

export interface ItemCounts {
  resources: number;
  deleted: number;
  pending: number;
  failed: number;
  alreadyDeleted: number;
}

/** The counts of a request's items by their upstream state (derived, never stored). */
export function* countItems(requestId: string): Work<ItemCounts> {
  const rows = yield* all<{ status: string; alreadyDeleted: number; n: number }>(
    `SELECT ${ITEM_STATUS} AS status, i.already_deleted AS "alreadyDeleted", COUNT(*) AS n FROM ${ITEMS_WITH_STATUS}
     WHERE i.request_id = ? GROUP BY ${ITEM_STATUS}, i.already_deleted`,
    [requestId],
  );
  const counts: ItemCounts = { resources: 0, deleted: 0, pending: 0, failed: 0, alreadyDeleted: 0 };
  for (const row of rows) {
    const n = Number(row.n);
    counts.resources += n;
    if (row.status === 'DELETED') counts.deleted += n;
    else if (row.status === 'PENDING') counts.pending += n;
    else counts.failed += n;
    if (Number(row.alreadyDeleted) === 1) counts.alreadyDeleted += n;
  }
  return counts;
}

// From the pending side (index upstream_org_status): called on every recorded outcome, it must not
// read all of a request's items each time (10,000 items, 9,000 outcomes). It stops at the first
// pending row of the request; while the request runs that is usually the first pending row at all.
const ANY_PENDING = `SELECT 1 AS pending FROM upstream_deletions u WHERE u.organization_id = ? AND u.status = 'PENDING'
  AND EXISTS (SELECT 1 FROM erasure_items i WHERE i.carrier_kind = u.kind AND i.carrier_id = u.resource_id AND i.request_id = ?) LIMIT 1`;

/** Audits the request's end if nothing is pending and it is not audited yet; true when it did. */
export function* completeIfDone(runtime: Runtime, requestId: string, actor: string): Work<boolean> {
  const open = yield* get<{ id: string; organizationId: string; subjectId: string }>(LOCK_OPEN_REQUEST, [requestId]);
  if (!open) return false;
  if (yield* get(ANY_PENDING, [open.organizationId, requestId])) return false;
  const counts = yield* countItems(requestId);
  if (counts.pending > 0) return false;
  const at = runtime.clock.now().toISOString();
  yield* run('UPDATE erasure_requests SET completed_at = ? WHERE id = ?', [at, requestId]);
  yield* appendEvent(runtime, {
    actor,
    organizationId: open.organizationId,
    action: 'subject.erase',
    resourceId: requestId,
    outcome: 'ERASURE_COMPLETED',
    details: {
      erasureRequestId: requestId,
      subjectId: open.subjectId,
      status: counts.failed > 0 ? 'COMPLETED_WITH_FAILURES' : 'COMPLETED',
      ...counts,
    },
  });
  return true;
}

/** An outbox row was settled (DELETED or FAILED): complete the open requests it carries items of. */
export function* carrierSettled(runtime: Runtime, kind: string, resourceId: string, actor: string): Work<void> {
  const requests = yield* all<{ id: string }>(
    `SELECT DISTINCT i.request_id AS id FROM erasure_items i JOIN erasure_requests r ON r.id = i.request_id
     WHERE i.carrier_kind = ? AND i.carrier_id = ? AND r.completed_at IS NULL ORDER BY i.request_id`,
    [kind, resourceId],
  );
  for (const request of requests) yield* completeIfDone(runtime, request.id, actor);
}

/** An operator re-queued an outbox row: the requests it carries items of are running again. */
export function* carrierRequeued(kind: string, resourceId: string): Work<number> {
  return yield* run(
    `UPDATE erasure_requests SET completed_at = NULL
     WHERE completed_at IS NOT NULL AND id IN (SELECT request_id FROM erasure_items WHERE carrier_kind = ? AND carrier_id = ?)`,
    [kind, resourceId],
  );
}
