// Appending to the audit trail. Always part of the transaction that makes the change the event
// records, so there is never a change without its event, nor an event without its change.
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';
import { get, type Work } from '../db/sql.ts';
import type { Runtime } from '../runtime.ts';
import { canonicalJson, eventHash } from './chain.ts';
import type { AuditEventRow } from './event.ts';
import { advanceLogHead, lockLogHead, logIdOf } from './log.ts';

export interface AuditInput {
  actor: string;
  organizationId: string | null;
  action: string;
  resourceKind?: ResourceKind | null;
  resourceId?: string | null;
  provider?: Provider | null;
  outcome: AuditOutcome;
  requestId?: string | null;
  traceId?: string | null;
  upstreamHttpStatus?: number | null;
  details?: Record<string, unknown> | null;
}

const INSERT = `INSERT INTO audit_events
  (log_id, log_index, id, at, actor, organization_id, action, resource_kind, resource_id, provider, outcome, request_id,
   trace_id, upstream_http_status, details, previous_hash, hash)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`;

/**
 * Appends one event to its organisation's log. Runs inside a write transaction (Database.write):
 * the log's head row is locked first, so reading the previous hash, inserting after it and moving
 * the head cannot be separated by another append to the same log (and should one ever slip in,
 * the unique indexes on the log's index and link refuse it).
 */
export function* appendEvent(runtime: Runtime, input: AuditInput): Work<AuditEventRow> {
  const at = runtime.clock.now().toISOString();
  const head = yield* lockLogHead(logIdOf(input.organizationId), at);
  const previousHash = head.headHash;
  // Round-trip through JSON so what is hashed is exactly what is stored (Dates become strings,
  // undefined goes), through the canonical form so the stored text has its keys in order.
  const detailsText = input.details ? canonicalJson(JSON.parse(JSON.stringify(input.details))) : null;
  const event = {
    id: runtime.newId('evt'),
    at,
    actor: input.actor,
    organizationId: input.organizationId,
    action: input.action,
    resourceKind: input.resourceKind ?? null,
    resourceId: input.resourceId ?? null,
    provider: input.provider ?? null,
    outcome: input.outcome,
    requestId: input.requestId ?? null,
    traceId: input.traceId ?? null,
    upstreamHttpStatus: input.upstreamHttpStatus ?? null,
    details: detailsText === null ? null : (JSON.parse(detailsText) as Record<string, unknown>),
  };
  const hash = eventHash(previousHash, event);
  const inserted = yield* get<{ seq: number }>(INSERT, [
    head.logId,
    head.size,
    event.id,
    event.at,
    event.actor,
    event.organizationId,
    event.action,
    event.resourceKind,
    event.resourceId,
    event.provider,
    event.outcome,
    event.requestId,
    event.traceId,
    event.upstreamHttpStatus,
    detailsText,
    previousHash,
    hash,
  ]);
  yield* advanceLogHead(head, hash, at);
  return { seq: Number(inserted!.seq), logId: head.logId, logIndex: head.size, ...event, previousHash, hash };
}
