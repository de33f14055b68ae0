// Appending to the audit trail. Always called inside the transaction that makes the change the event
// records, so there is never a change without its event, nor an event without its change.
import { desc } from 'drizzle-orm';
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';
import { auditEvents, type AuditEventRow } from '../db/schema.ts';
import type { Tx } from '../db/open.ts';
import type { Runtime } from '../runtime.ts';
import { eventHash } from './chain.ts';

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

export function appendAuditEvent(tx: Tx, runtime: Runtime, input: AuditInput): AuditEventRow {
  // The chain is linear: the caller's transaction holds the write lock, so nobody else can append
  // between this read of the last hash and the insert below.
  const last = tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1).get();
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
    // Round-trip through JSON so what is hashed is exactly what is stored (Dates become strings, undefined goes).
    details: input.details ? (JSON.parse(JSON.stringify(input.details)) as Record<string, unknown>) : null,
  };
  const hash = eventHash(previousHash, event);
  return tx
    .insert(auditEvents)
    .values({ ...event, previousHash, hash })
    .returning()
    .get();
}
