// The outbox row of a new deletion, written in the delete's own transaction. The caller (the
// request) holds its lease from the start, so no worker calls the provider alongside it.
import type { Provider, ResourceKind } from '../domain.ts';
import { all, chunks, get, type Work } from '../db/sql.ts';
import { OUTBOX_COLUMNS, decodeOutbox, type UpstreamDeletionRow } from './row.ts';

export interface EnqueueInput {
  kind: ResourceKind;
  resourceId: string;
  provider: Provider;
  organizationId: string;
  at: string;
  /** The request that makes the call holds the lease. */
  leaseOwner: string;
  leaseUntil: string;
  requestId: string;
}

/** Rows of one multi-row insert (10 parameters each). */
const ROWS_PER_INSERT = 200;

const INSERT = `INSERT INTO upstream_deletions
  (kind, resource_id, provider, organization_id, status, attempts, in_progress_attempts, next_attempt_at, lease_owner,
   lease_until, request_id, created_at, updated_at)
  VALUES (?, ?, ?, ?, 'PENDING', 1, 0, ?, ?, ?, ?, ?, ?) RETURNING ${OUTBOX_COLUMNS}`;
const INSERT_QUEUED = `INSERT INTO upstream_deletions
  (kind, resource_id, provider, organization_id, status, attempts, in_progress_attempts, next_attempt_at, reason, request_id,
   created_at, updated_at)`;

/** The attempt is counted now: the caller is about to make the call. */
export function* enqueue(input: EnqueueInput): Work<UpstreamDeletionRow> {
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

/**
 * Outbox rows of many new deletions at once, none leased: due now, the worker delivers them, with
 * no attempt counted yet.
 */
export function* enqueueForWorker(inputs: readonly Omit<EnqueueInput, 'leaseOwner' | 'leaseUntil'>[]): Work<UpstreamDeletionRow[]> {
  const out: UpstreamDeletionRow[] = [];
  const row = "(?, ?, ?, ?, 'PENDING', 0, 0, ?, 'QUEUED', ?, ?, ?)";
  for (const part of chunks(inputs, ROWS_PER_INSERT)) {
    const rows = yield* all(
      `${INSERT_QUEUED} VALUES ${part.map(() => row).join(', ')} RETURNING ${OUTBOX_COLUMNS}`,
      part.flatMap((input) => [input.kind, input.resourceId, input.provider, input.organizationId, input.at, input.requestId, input.at, input.at]),
    );
    for (const inserted of rows) out.push(decodeOutbox(inserted));
  }
  return out;
}
