// Reading an organisation's audit events, newest first, by keyset on seq: each page is one indexed
// range scan (audit_events_org_seq, _org_resource or _org_outcome), never an OFFSET walk.
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { AuditOutcome } from '../domain.ts';
import type { Db } from '../db/open.ts';
import { auditEvents, type AuditEventRow } from '../db/schema.ts';

export interface AuditEventQuery {
  organizationId: string;
  resourceId?: string | null;
  outcome?: AuditOutcome | null;
  /** Only events older than this position (the previous page's last seq). */
  beforeSeq?: number | null;
  limit: number;
}

export function listAuditEvents(db: Db, query: AuditEventQuery): AuditEventRow[] {
  const conditions: SQL[] = [eq(auditEvents.organizationId, query.organizationId)];
  if (query.resourceId) conditions.push(eq(auditEvents.resourceId, query.resourceId));
  if (query.outcome) conditions.push(eq(auditEvents.outcome, query.outcome));
  if (query.beforeSeq !== null && query.beforeSeq !== undefined) conditions.push(lt(auditEvents.seq, query.beforeSeq));
  return db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.seq))
    .limit(query.limit)
    .all();
}
