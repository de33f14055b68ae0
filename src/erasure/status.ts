// An erasure request as its readers see it: status, totals and per-provider counts derived from its
// items' upstream rows (never a counter kept beside them), its items paged, the requests of an
// organisation listed, and the receipt once nothing is pending.
import { createReceipt, type Receipt } from '../audit/receipt.ts';
import type { AuditSigning } from '../audit/signing-key.ts';
import { AUDIT_COLUMNS, decodeAuditEvent, type AuditEventRow } from '../audit/event.ts';
import type { Database } from '../db/database.ts';
import { all, chunks, placeholders, type Work } from '../db/sql.ts';
import type { Provider, ResourceKind, UpstreamStatus } from '../domain.ts';
import { ERASURE_DUE_DAYS, REQUEST_COLUMNS, erasureRequestRow, type ErasureRequestRow } from './request.ts';
import { ITEMS_WITH_STATUS, ITEM_STATUS, countItems, type ItemCounts } from './completion.ts';

export type ErasureStatus = 'RUNNING' | 'COMPLETED' | 'COMPLETED_WITH_FAILURES';

export interface ProviderCounts {
  provider: Provider;
  status: ErasureStatus;
  resources: number;
  deleted: number;
  pending: number;
  failed: number;
}

export interface ErasureState extends ErasureRequestRow {
  status: ErasureStatus;
  dueBy: string;
  totals: ItemCounts;
  providers: ProviderCounts[];
}

export function statusOf(counts: Pick<ItemCounts, 'pending' | 'failed'>): ErasureStatus {
  if (counts.pending > 0) return 'RUNNING';
  return counts.failed > 0 ? 'COMPLETED_WITH_FAILURES' : 'COMPLETED';
}

function* providerCounts(requestId: string): Work<ProviderCounts[]> {
  const rows = yield* all<{ provider: Provider; status: string; n: number }>(
    `SELECT i.provider AS provider, ${ITEM_STATUS} AS status, COUNT(*) AS n FROM ${ITEMS_WITH_STATUS}
     WHERE i.request_id = ? GROUP BY i.provider, ${ITEM_STATUS} ORDER BY i.provider`,
    [requestId],
  );
  const byProvider = new Map<Provider, ProviderCounts>();
  for (const row of rows) {
    let counts = byProvider.get(row.provider);
    if (!counts) byProvider.set(row.provider, (counts = { provider: row.provider, status: 'COMPLETED', resources: 0, deleted: 0, pending: 0, failed: 0 }));
    const n = Number(row.n);
    counts.resources += n;
    if (row.status === 'DELETED') counts.deleted += n;
    else if (row.status === 'PENDING') counts.pending += n;
    else counts.failed += n;
  }
  for (const counts of byProvider.values()) counts.status = statusOf(counts);
  return [...byProvider.values()];
}

export function* stateOf(row: ErasureRequestRow): Work<ErasureState> {
  const totals = yield* countItems(row.id);
  const status = statusOf(totals);
  return {
    ...row,
    // Set when the end was audited; a request running again (an item re-queued) has none.
    completedAt: status === 'RUNNING' ? null : row.completedAt,
    status,
    dueBy: new Date(Date.parse(row.requestedAt) + ERASURE_DUE_DAYS * 86_400_000).toISOString(),
    totals,
    providers: yield* providerCounts(row.id),
  };
}

/** The request with its derived state; null when absent or another organisation's. */
export function* erasureState(organizationId: string, id: string): Work<ErasureState | null> {
  const row = yield* erasureRequestRow(id);
  if (!row || row.organizationId !== organizationId) return null;
  return yield* stateOf(row);
}

export interface ErasureItemRow {
  kind: ResourceKind;
  resourceId: string;
  provider: Provider;
  carrierKind: ResourceKind;
  carrierId: string;
  alreadyDeleted: boolean;
}

/** A page of items in (kind, resourceId) order, optionally only those whose upstream state is `status`. */
export function* erasureItems(requestId: string, filter: { status?: UpstreamStatus | null; after?: { kind: string; resourceId: string } | null; limit: number }): Work<ErasureItemRow[]> {
  const where = ['i.request_id = ?'];
  const params: unknown[] = [requestId];
  if (filter.status) {
    where.push(`${ITEM_STATUS} = ?`);
    params.push(filter.status);
  }
  if (filter.after) {
    where.push('(i.kind > ? OR (i.kind = ? AND i.resource_id > ?))');
    params.push(filter.after.kind, filter.after.kind, filter.after.resourceId);
  }
  const rows = yield* all<Omit<ErasureItemRow, 'alreadyDeleted'> & { alreadyDeleted: number }>(
    `SELECT i.kind, i.resource_id AS "resourceId", i.provider, i.carrier_kind AS "carrierKind", i.carrier_id AS "carrierId",
       i.already_deleted AS "alreadyDeleted" FROM ${ITEMS_WITH_STATUS} WHERE ${where.join(' AND ')} ORDER BY i.kind, i.resource_id LIMIT ?`,
    [...params, filter.limit],
  );
  return rows.map((row) => ({ ...row, alreadyDeleted: Number(row.alreadyDeleted) === 1 }));
}

/** Requests of an organisation, newest first (keyset on requestedAt, id), filtered by subject and derived status. */
export function* listErasureRequests(filter: {
  organizationId: string;
  subjectId?: string | null;
  status?: ErasureStatus | null;
  after?: { requestedAt: string; id: string } | null;
  limit: number;
}): Work<ErasureRequestRow[]> {
  const where = ['r.organization_id = ?'];
  const params: unknown[] = [filter.organizationId];
  if (filter.subjectId) {
    where.push('r.subject_id = ?');
    params.push(filter.subjectId);
  }
  const any = (condition: string) => `EXISTS (SELECT 1 FROM ${ITEMS_WITH_STATUS} WHERE i.request_id = r.id AND ${condition})`;
  if (filter.status === 'RUNNING') where.push(any(`${ITEM_STATUS} = 'PENDING'`));
  if (filter.status === 'COMPLETED') where.push(`NOT ${any(`${ITEM_STATUS} <> 'DELETED'`)}`);
  if (filter.status === 'COMPLETED_WITH_FAILURES') where.push(`NOT ${any(`${ITEM_STATUS} = 'PENDING'`)} AND ${any(`${ITEM_STATUS} = 'FAILED'`)}`);
  if (filter.after) {
    where.push('(r.requested_at < ? OR (r.requested_at = ? AND r.id < ?))');
    params.push(filter.after.requestedAt, filter.after.requestedAt, filter.after.id);
  }
  const columns = REQUEST_COLUMNS.split(',').map((column) => `r.${column.trim()}`).join(', ');
  return yield* all<ErasureRequestRow>(
    `SELECT ${columns} FROM erasure_requests r WHERE ${where.join(' AND ')} ORDER BY r.requested_at DESC, r.id DESC LIMIT ?`,
    [...params, filter.limit],
  );
}

/** Every item with its carrier (the receipt lists them all). */
function* allItems(requestId: string): Work<ErasureItemRow[]> {
  return yield* erasureItems(requestId, { limit: Number.MAX_SAFE_INTEGER });
}

/** The organisation's events about these resource ids (the request, the items, their carriers), in log order. */
function* eventsAbout(organizationId: string, ids: readonly string[]): Work<AuditEventRow[]> {
  const out: AuditEventRow[] = [];
  for (const part of chunks(ids)) {
    const rows = yield* all(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE organization_id = ? AND resource_id IN (${placeholders(part.length)})`, [organizationId, ...part]);
    for (const row of rows) out.push(decodeAuditEvent(row));
  }
  return out;
}

/**
 * The receipt (sdg-receipt/1) of a request nothing of which is pending: its ERASURE_REQUESTED and
 * ERASURE_COMPLETED events, every event about its items and their carriers (deletions, provider
 * outcomes), each with its inclusion proof against one signed checkpoint. Null while RUNNING.
 */
export async function erasureReceipt(db: Database, signing: AuditSigning, state: ErasureState, now: Date): Promise<Receipt | null> {
  if (state.status === 'RUNNING') return null;
  const items = await db.read(allItems(state.id));
  const ids = new Set<string>([state.id]);
  for (const item of items) {
    ids.add(item.resourceId);
    ids.add(item.carrierId);
  }
  const events = await db.read(eventsAbout(state.organizationId, [...ids]));
  return createReceipt(db, signing, {
    organizationId: state.organizationId,
    about: {
      erasureRequest: {
        id: state.id,
        subjectId: state.subjectId,
        providers: [...new Set(items.map((item) => item.provider))].sort(),
        items: items.map((item) => ({ kind: item.kind, id: item.resourceId, provider: item.provider, carrier: { kind: item.carrierKind, id: item.carrierId } })),
      },
    },
    events,
    now,
  });
}
