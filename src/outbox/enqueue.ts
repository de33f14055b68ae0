// The outbox row of a new deletion, written in the delete's own transaction. The caller (the
// request) holds its lease from the start, so no worker calls the provider alongside it.
import type { Provider, ResourceKind } from '../domain.ts';
import { get, type Work } from '../db/sql.ts';
import { OUTBOX_COLUMNS, decodeOutbox, type UpstreamDeletionRow } from './row.ts';

export interface EnqueueInput {
  kind: ResourceKind;
  resourceId: string;
  provider: Provider;
  organizationId: string;
  at: string;
  /** The request that makes the call holds the lease; null: nobody calls now, the worker delivers it (due at once). */
  leaseOwner: string | null;
  leaseUntil: string | null;
  requestId: string;
}

const INSERT = `INSERT INTO upstream_deletions
  (kind, resource_id, provider, organization_id, status, attempts, in_progress_attempts, next_attempt_at, lease_owner,
   lease_until, request_id, created_at, updated_at)
  VALUES (?, ?, ?, ?, 'PENDING', 1, 0, ?, ?, ?, ?, ?, ?) RETURNING ${OUTBOX_COLUMNS}`;
const INSERT_QUEUED = `INSERT INTO upstream_deletions
  (kind, resource_id, provider, organization_id, status, attempts, in_progress_attempts, next_attempt_at, reason, request_id,
   created_at, updated_at)
  VALUES (?, ?, ?, ?, 'PENDING', 0, 0, ?, 'QUEUED', ?, ?, ?) RETURNING ${OUTBOX_COLUMNS}`;

/** With a lease the attempt is counted now: the caller is about to make the call. */
export function* enqueue(input: EnqueueInput): Work<UpstreamDeletionRow> {
  if (input.leaseOwner === null) {
    const queued = yield* get(INSERT_QUEUED, [input.kind, input.resourceId, input.provider, input.organizationId, input.at, input.requestId, input.at, input.at]);
    return decodeOutbox(queued!);
  }
  const row = yield* get(INSERT, [
    input.kind,
    input.resourceId,
    input.provider,
    input.organizationId,
    input.at,
    input.leaseOwner,
    input.leaseUntil,
    input.requestId,
    input.at,
    input.at,
  ]);
  return decodeOutbox(row!);
}
