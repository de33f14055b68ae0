// Verifying the audit trail: recompute every hash in chain order and name the first event that does
// not match. Rows are read in keyset chunks (a million events never sit in memory, and the async
// form lets the server answer other requests between chunks), as raw arrays, and hashed with one
// string build and one one-shot SHA-256 each: about a million events in a few seconds.
import { and, asc, eq, gt, gte, lte, max, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/open.ts';
import { auditEvents, type AuditEventRow } from '../db/schema.ts';
import { canonicalJson, chainHash } from './chain.ts';

export interface Verification {
  valid: boolean;
  eventsChecked: number;
  /** The first event that does not verify; null when valid, or when the newest events were removed. */
  firstInvalidEventId: string | null;
  /** Why it fails: its content, its link to the event before it, or a missing tail. */
  problem: string | null;
}

export const CHANGED = "hash does not match the event's content (the event was changed)";
export const RELINKED =
  'previousHash does not match the hash of the event before it (an event before it was removed, or one was inserted or moved here)';

const CHUNK_ROWS = 10_000;

/** The columns read for verification, in the order of the hashed fields, then the chain's own. */
const CHAIN_COLUMNS = {
  seq: auditEvents.seq,
  id: auditEvents.id,
  at: auditEvents.at,
  actor: auditEvents.actor,
  organizationId: auditEvents.organizationId,
  action: auditEvents.action,
  resourceKind: auditEvents.resourceKind,
  resourceId: auditEvents.resourceId,
  provider: auditEvents.provider,
  outcome: auditEvents.outcome,
  requestId: auditEvents.requestId,
  traceId: auditEvents.traceId,
  upstreamHttpStatus: auditEvents.upstreamHttpStatus,
  // The stored text, not drizzle's parsed value: verification parses it itself, and a row whose
  // details are not JSON any more is a tampered row, not a crash.
  details: sql<string | null>`${auditEvents.details}`,
  previousHash: auditEvents.previousHash,
  hash: auditEvents.hash,
};
const SEQ = 0;
const ID = 1;
const DETAILS = 13;
const PREVIOUS_HASH = 14;
const HASH = 15;

type ChainRow = unknown[];

function chunk(db: Db, afterSeq: number, upToSeq: number): IterableIterator<ChainRow> {
  const query = db
    .select(CHAIN_COLUMNS)
    .from(auditEvents)
    .where(and(gt(auditEvents.seq, afterSeq), lte(auditEvents.seq, upToSeq)))
    .orderBy(asc(auditEvents.seq))
    .limit(CHUNK_ROWS)
    .toSQL();
  return db.$client.prepare(query.sql).raw(true).iterate(...(query.params as unknown[])) as IterableIterator<ChainRow>;
}

/** The highest seq SQLite ever issued for the trail (AUTOINCREMENT never reuses one). */
function issuedSeq(db: Db): number {
  const row = db.get<{ seq: number } | undefined>(sql`SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'`);
  return row?.seq ?? 0;
}

function lastSeqOf(db: Db): number {
  return db.select({ seq: max(auditEvents.seq) }).from(auditEvents).get()?.seq ?? 0;
}

/** The canonical body of a raw row (chain.ts eventHash's input), or null when its details are not JSON. */
function canonicalBody(row: ChainRow): string | null {
  let body = '[';
  for (let i = ID; i < DETAILS; i += 1) {
    const value = row[i];
    // Strings and nulls are nearly every column: skip canonicalJson's call for them (same output).
    body += `${value === null ? 'null' : typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value)},`;
  }
  const details = row[DETAILS];
  if (details === null || details === undefined) return `${body}null]`;
  if (typeof details !== 'string') return null;
  try {
    return `${body}${canonicalJson(JSON.parse(details))}]`;
  } catch {
    return null;
  }
}

/**
 * The verification as steps: one chunk per step, the result as the return value. It checks the
 * chain as it stood when it began (up to the highest seq then), so a walk under load ends.
 * Every event up to that seq was committed then: if the walk ends below it, events at the end of
 * the trail were removed (the one change the chain alone cannot show).
 */
function* verificationSteps(db: Db): Generator<void, Verification> {
  const issued = issuedSeq(db);
  // Both bounds: a sequence reset by hand must not shorten the walk.
  const upTo = Math.max(issued, lastSeqOf(db));
  let previous: string | null = null;
  let previousId: string | null = null;
  let lastSeq = 0;
  let checked = 0;
  for (;;) {
    // Each chunk's statement runs to its end before a yield: the connection is free between chunks.
    let read = 0;
    for (const row of chunk(db, lastSeq, upTo)) {
      read += 1;
      checked += 1;
      const id = String(row[ID]);
      if (row[PREVIOUS_HASH] !== previous) return { valid: false, eventsChecked: checked, firstInvalidEventId: id, problem: RELINKED };
      const body = canonicalBody(row);
      if (body === null || chainHash(previous, body) !== row[HASH]) {
        return { valid: false, eventsChecked: checked, firstInvalidEventId: id, problem: body === null ? `${CHANGED}: details is not JSON` : CHANGED };
      }
      previous = row[HASH] as string;
      previousId = id;
      lastSeq = row[SEQ] as number;
    }
    if (read < CHUNK_ROWS) break;
    yield;
  }
  if (lastSeq < issued) {
    const after = previousId ? `after event ${previousId} (seq ${lastSeq})` : 'before any event';
    return {
      valid: false,
      eventsChecked: checked,
      firstInvalidEventId: null,
      problem: `events were removed from the end of the trail: it ends ${after}, but events up to seq ${issued} were written`,
    };
  }
  return { valid: true, eventsChecked: checked, firstInvalidEventId: null, problem: null };
}

/** Verifies the whole chain at once (the CLI, the bench). */
export function verifyAuditTrail(db: Db): Verification {
  const steps = verificationSteps(db);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

const inProgress = new WeakMap<Db, Promise<Verification>>();

/**
 * Verifies the whole chain, yielding to the event loop between chunks (the server). Callers that
 * ask while a walk is under way share it: a burst of requests costs one walk, not one each.
 */
export function verifyAuditTrailInBackground(db: Db): Promise<Verification> {
  const running = inProgress.get(db);
  if (running) return running;
  const walk = (async () => {
    const steps = verificationSteps(db);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  })().finally(() => inProgress.delete(db));
  inProgress.set(db, walk);
  return walk;
}

type RawRow = Record<string, unknown>;

function parsedDetails(text: unknown): Record<string, unknown> | null {
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Exported as stored, so whoever recomputes the chain sees the row fail rather than the export.
    return text as unknown as Record<string, unknown>;
  }
}

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
    details: parsedDetails(raw.details),
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

/** One NDJSON line per event, in chain order, hashes included: what `gateway audit export` writes. */
export function exportLine(row: AuditEventRow): string {
  const { seq: _seq, ...event } = row;
  return JSON.stringify(event);
}
