// Verifying the audit trail: recompute every hash in chain order, streaming rows (a million events
// never sit in memory), and name the first event that does not match.
import { asc, gte, and, eq, type SQL } from 'drizzle-orm';
import type { Db } from '../db/open.ts';
import { auditEvents, type AuditEventRow } from '../db/schema.ts';
import { eventHash } from './chain.ts';

export interface Verification {
  valid: boolean;
  eventsChecked: number;
  firstInvalidEventId: string | null;
  /** Why the first invalid event fails: its hash, or its link to the previous event. */
  problem: string | null;
}

type RawRow = Record<string, unknown>;

function fromRaw(raw: RawRow): AuditEventRow {
  return {
    seq: raw.seq as number,
    id: raw.id as string,
    at: raw.at as string,
    actor: raw.actor as string,
    organizationId: raw.organization_id as string | null,
    action: raw.action as string,
    resourceKind: raw.resource_kind as string | null,
    resourceId: raw.resource_id as string | null,
    provider: raw.provider as string | null,
    outcome: raw.outcome as string,
    requestId: raw.request_id as string | null,
    traceId: raw.trace_id as string | null,
    upstreamHttpStatus: raw.upstream_http_status as number | null,
    details: typeof raw.details === 'string' ? (JSON.parse(raw.details) as Record<string, unknown>) : null,
    previousHash: raw.previous_hash as string | null,
    hash: raw.hash as string,
  };
}

/** Streams audit rows in chain order, optionally filtered; the query is built by drizzle. */
export function* auditRows(db: Db, filter: { since?: string; organizationId?: string } = {}): Generator<AuditEventRow> {
  const conditions: SQL[] = [];
  if (filter.since) conditions.push(gte(auditEvents.at, filter.since));
  if (filter.organizationId) conditions.push(eq(auditEvents.organizationId, filter.organizationId));
  const query = db
    .select()
    .from(auditEvents)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(asc(auditEvents.seq))
    .toSQL();
  for (const raw of db.$client.prepare(query.sql).iterate(...(query.params as unknown[]))) yield fromRaw(raw as RawRow);
}

export function verifyChain(rows: Iterable<AuditEventRow>): Verification {
  let previous: string | null = null;
  let checked = 0;
  for (const row of rows) {
    checked += 1;
    if (row.previousHash !== previous) {
      return { valid: false, eventsChecked: checked, firstInvalidEventId: row.id, problem: 'previousHash does not match the hash of the event before it (an event was removed, inserted or reordered)' };
    }
    if (eventHash(previous, row) !== row.hash) {
      return { valid: false, eventsChecked: checked, firstInvalidEventId: row.id, problem: 'hash does not match the event\'s content (the event was changed)' };
    }
    previous = row.hash;
  }
  return { valid: true, eventsChecked: checked, firstInvalidEventId: null, problem: null };
}

export function verifyAuditTrail(db: Db): Verification {
  return verifyChain(auditRows(db));
}

/** One NDJSON line per event, in chain order, hashes included: what `gateway audit export` writes. */
export function exportLine(row: AuditEventRow): string {
  const { seq: _seq, ...event } = row;
  return JSON.stringify(event);
}
