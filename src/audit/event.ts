// The audit event row as the code sees it, and how it is read back from either database.
import { parseJson, type Row } from '../db/sql.ts';
import { canonicalJson } from './chain.ts';

export interface AuditEventRow {
  /** Position in the table (keyset for pagination); not part of the hash. */
  seq: number;
  /** Its log: the organisation, or `_system`. */
  logId: string;
  /** Its position in that log (the Merkle leaf index). */
  logIndex: number;
  id: string;
  at: string;
  actor: string;
  organizationId: string | null;
  action: string;
  resourceKind: string | null;
  resourceId: string | null;
  provider: string | null;
  outcome: string;
  requestId: string | null;
  traceId: string | null;
  upstreamHttpStatus: number | null;
  details: Record<string, unknown> | null;
  previousHash: string | null;
  hash: string;
}

export const AUDIT_COLUMNS = `seq, log_id AS "logId", log_index AS "logIndex", id, at, actor, organization_id AS "organizationId", action, resource_kind AS "resourceKind",
  resource_id AS "resourceId", provider, outcome, request_id AS "requestId", trace_id AS "traceId",
  upstream_http_status AS "upstreamHttpStatus", details, previous_hash AS "previousHash", hash`;

export function decodeAuditEvent(row: Row): AuditEventRow {
  return { ...(row as unknown as AuditEventRow), details: parseJson(row.details) };
}

/**
 * An event as stored, for the code that recomputes hashes (verification, the first-wave split):
 * `details` is the stored text, parsed by the reader itself, so details that are not JSON any more
 * are a tampered row, not a crash.
 */
export interface StoredEvent extends Omit<AuditEventRow, 'details' | 'logId'> {
  details: string | null;
}

export const STORED_EVENT_COLUMNS = `seq, log_index AS "logIndex", id, at, actor, organization_id AS "organizationId", action,
  resource_kind AS "resourceKind", resource_id AS "resourceId", provider, outcome, request_id AS "requestId",
  trace_id AS "traceId", upstream_http_status AS "upstreamHttpStatus", details, previous_hash AS "previousHash", hash`;

/** The canonical body of a stored event (chain.ts eventHash's input), or null when its details are not JSON. */
export function storedBody(row: StoredEvent): string | null {
  let body = '[';
  for (const value of [row.id, row.at, row.actor, row.organizationId, row.action, row.resourceKind, row.resourceId, row.provider, row.outcome, row.requestId, row.traceId]) {
    // Strings and nulls are nearly every column: skip canonicalJson's call for them (same output).
    body += `${value === null ? 'null' : JSON.stringify(value)},`;
  }
  body += `${row.upstreamHttpStatus === null ? 'null' : canonicalJson(Number(row.upstreamHttpStatus))},`;
  if (row.details === null) return `${body}null]`;
  try {
    return `${body}${canonicalJson(JSON.parse(row.details))}]`;
  } catch {
    return null;
  }
}
