// The audit event row as the code sees it, and how it is read back from either database.
import { parseJson, type Row } from '../db/sql.ts';

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
