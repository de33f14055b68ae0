// The upstream-deletion (outbox) row: one per provider-level deletion, written in the delete's
// transaction, claimed by workers under a lease, settled by the recorder. This folder owns its
// whole lifecycle (enqueue, claim, record, backoff, list, requeue); deletion, worker and graphql
// use it, and it uses none of them.
import type { Provider, ResourceKind, UpstreamStatus } from '../domain.ts';
import { parseJson, type Row } from '../db/sql.ts';

export interface UpstreamDeletionRow {
  kind: ResourceKind;
  resourceId: string;
  provider: Provider;
  organizationId: string;
  status: UpstreamStatus;
  /** Provider calls started (counted when a row is claimed, not when an outcome is recorded). */
  attempts: number;
  /** Of those, calls answered "job still in progress" (Rev AI): they do not count toward giving up. */
  inProgressAttempts: number;
  nextAttemptAt: string | null;
  leaseOwner: string | null;
  leaseUntil: string | null;
  lastHttpStatus: number | null;
  lastError: string | null;
  reason: string | null;
  /** What the provider said that matters (Aitronos' deleted_upstream, Daily's job body, a track's detail). */
  result: Record<string, unknown> | null;
  /** The provider's id of its last answer (Aitronos request_id / trace_id, an x-request-id header). */
  providerRequestId: string | null;
  /** The provider's own error code in its last answer (Aitronos error.code, Rev AI problem type, Daily error). */
  providerErrorCode: string | null;
  requestId: string | null;
  createdAt: string;
  /** When the current round of attempts began: createdAt, or the last operator re-queue. */
  queuedAt: string | null;
  updatedAt: string;
  completedAt: string | null;
}

/** The row's columns under their TypeScript names, for SELECT and RETURNING. */
export const OUTBOX_COLUMNS = `kind, resource_id AS "resourceId", provider, organization_id AS "organizationId", status,
  attempts, in_progress_attempts AS "inProgressAttempts", next_attempt_at AS "nextAttemptAt", lease_owner AS "leaseOwner",
  lease_until AS "leaseUntil", last_http_status AS "lastHttpStatus", last_error AS "lastError", reason, result,
  provider_request_id AS "providerRequestId", provider_error_code AS "providerErrorCode", request_id AS "requestId", created_at AS "createdAt", queued_at AS "queuedAt", updated_at AS "updatedAt",
  completed_at AS "completedAt"`;

export function decodeOutbox(row: Row): UpstreamDeletionRow {
  return { ...(row as unknown as UpstreamDeletionRow), result: parseJson(row.result) };
}

export function decodeOutboxOrNull(row: Row | undefined): UpstreamDeletionRow | null {
  return row ? decodeOutbox(row) : null;
}
