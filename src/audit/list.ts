// Reading an organisation's audit events, newest first, by keyset on seq: each page is one indexed
// range scan (audit_events_org_seq, _org_resource or _org_outcome), never an OFFSET walk.
import type { AuditOutcome } from '../domain.ts';
import { all, type Work } from '../db/sql.ts';
import { AUDIT_COLUMNS, decodeAuditEvent, type AuditEventRow } from './event.ts';

export interface AuditEventQuery {
  organizationId: string;
  resourceId?: string | null;
  outcome?: AuditOutcome | null;
  /** Only events older than this position (the previous page's last seq). */
  beforeSeq?: number | null;
  limit: number;
}

export function* listAuditEvents(query: AuditEventQuery): Work<AuditEventRow[]> {
  const where = ['organization_id = ?'];
  const params: unknown[] = [query.organizationId];
  if (query.resourceId) {
    where.push('resource_id = ?');
    params.push(query.resourceId);
  }
  if (query.outcome) {
    where.push('outcome = ?');
    params.push(query.outcome);
  }
  if (query.beforeSeq !== null && query.beforeSeq !== undefined) {
    where.push('seq < ?');
    params.push(query.beforeSeq);
  }
  const rows = yield* all(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`, [...params, query.limit]);
  return rows.map(decodeAuditEvent);
}
