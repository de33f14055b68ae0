// Appending to the audit trail. Always called inside the transaction that makes the change the event
// records, so there is never a change without its event, nor an event without its change.
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';
import type { AuditEventRow } from '../db/schema.ts';
import type { Db } from '../db/open.ts';
import { statementsOf } from '../db/statements.ts';
import type { Runtime } from '../runtime.ts';
import { canonicalJson, eventHash } from './chain.ts';

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

/**
 * `db` must have a transaction open that holds the write lock (`immediate`): the append reads the
 * last hash and inserts after it, and nothing may slip in between.
 */
export function appendAuditEvent(db: Db, runtime: Runtime, input: AuditInput): AuditEventRow {
  // The chain is linear: the caller's transaction holds the write lock, so nobody else can append
  // between this read of the last hash and the insert below (and should a caller ever append outside
  // such a transaction, the audit_events_chain_link index refuses the second event on one predecessor).
  const sql = statementsOf(db);
  const last = sql.lastAuditHash.get();
  const previousHash = last?.hash ?? null;
  const event = {
    id: runtime.newId('evt'),
    at: runtime.clock.now().toISOString(),
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
    // Round-trip through JSON so what is hashed is exactly what is stored (Dates become strings,
    // undefined goes), then through the canonical form so the stored text has its keys in order.
    details: input.details ? (JSON.parse(canonicalJson(JSON.parse(JSON.stringify(input.details)))) as Record<string, unknown>) : null,
  };
  const hash = eventHash(previousHash, event);
  // No RETURNING: every field is known here but seq, and drizzle's row mapping for it costs more
  // than the insert itself (each delete appends at least two events).
  const inserted = sql.insertAudit.run({ ...event, previousHash, hash });
  return { seq: Number(inserted.lastInsertRowid), ...event, previousHash, hash };
}
