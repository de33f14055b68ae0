// Appending to the audit trail. Always part of the transaction that makes the change the event
// records, so there is never a change without its event, nor an event without its change.
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';
import { chunks, get, placeholders, run, type Work } from '../db/sql.ts';
import type { Runtime } from '../runtime.ts';
import { canonicalJson, eventHash } from './chain.ts';
import type { AuditEventRow } from './event.ts';
import { advanceLogHead, advanceLogHeadBy, lockLogHead, logIdOf } from './log.ts';

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

/** An event's stored fields, its details as canonical text: what is hashed is exactly what is stored. */
function eventOf(runtime: Runtime, input: AuditInput, at: string) {
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
  return { event, detailsText };
}

function insertParams(logId: string, logIndex: number, previousHash: string | null, event: ReturnType<typeof eventOf>['event'], detailsText: string | null, hash: string): unknown[] {
  return [
    logId,
    logIndex,
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
  ];
}

/**
 * Appends one event to its organisation's log. Runs inside a write transaction (Database.write):
 * the log's head row is locked first, so reading the previous hash, inserting after it and moving
 * the head cannot be separated by another append to the same log (and should one ever slip in,
 * the unique indexes on the log's index and link refuse it).
 */
export function* appendEvent(runtime: Runtime, input: AuditInput): Work<AuditEventRow> {
  const at = runtime.clock.now().toISOString();
  const head = yield* lockLogHead(logIdOf(input.organizationId), at);
  const { event, detailsText } = eventOf(runtime, input, at);
  const hash = eventHash(head.headHash, event);
  const inserted = yield* get<{ seq: number }>(INSERT, insertParams(head.logId, head.size, head.headHash, event, detailsText, hash));
  yield* advanceLogHead(head, hash, at);
  return { seq: Number(inserted!.seq), logId: head.logId, logIndex: head.size, ...event, previousHash: head.headHash, hash };
}

/** Rows of one multi-row INSERT of events (17 parameters each, well under both dialects' caps). */
const EVENTS_PER_INSERT = 100;

/**
 * Appends many events of one organisation's log in order, with a handful of statements instead of
 * four or five per event (one lock of the head, multi-row inserts of the events and of the Merkle
 * nodes they complete, one move of the head): the same rows appendEvent would write one by one.
 * For the erasure's thousands of DELETED events in one transaction.
 */
export function* appendEvents(runtime: Runtime, organizationId: string | null, inputs: readonly AuditInput[]): Work<void> {
  if (inputs.length === 0) return;
  const at = runtime.clock.now().toISOString();
  const logId = logIdOf(organizationId);
  const head = yield* lockLogHead(logId, at);
  const rows: unknown[][] = [];
  const hashes: string[] = [];
  for (const input of inputs) {
    if (logIdOf(input.organizationId) !== logId) throw new Error(`appendEvents: an event of log ${logIdOf(input.organizationId)} among ${logId}'s`);
    const { event, detailsText } = eventOf(runtime, input, at);
    const previousHash = hashes.at(-1) ?? head.headHash;
    const hash = eventHash(previousHash, event);
    rows.push(insertParams(logId, head.size + hashes.length, previousHash, event, detailsText, hash));
    hashes.push(hash);
  }
  const columns = INSERT.slice(0, INSERT.indexOf('VALUES'));
  for (const part of chunks(rows, EVENTS_PER_INSERT)) {
    yield* run(`${columns} VALUES ${part.map(() => `(${placeholders(17)})`).join(', ')}`, part.flat());
  }
  yield* advanceLogHeadBy(head, hashes, at);
}
