// Claiming due rows for a worker, and handing leases back at shutdown. The claim is the one
// statement whose text differs per database (sql.ts DialectStatements.claimDue): PostgreSQL locks
// the rows it returns with FOR UPDATE SKIP LOCKED, so any number of workers on one database each
// take different rows; SQLite's BEGIN IMMEDIATE already makes the claim the only writer.
import type { Provider } from '../domain.ts';
import { WORKER_ACTOR } from '../domain.ts';
import { appendEvent } from '../audit/append.ts';
import { all, get, run, type Work } from '../db/sql.ts';
import { carrierSettled } from '../erasure/completion.ts';
import { upstreamEvent } from './record.ts';
import { OUTBOX_COLUMNS, decodeOutbox, type UpstreamDeletionRow } from './row.ts';
import type { Runtime } from '../runtime.ts';

export interface ClaimInput {
  /** Most rows to take, per provider. */
  limits: ReadonlyMap<Provider, number>;
  /** The lease holder's name. */
  owner: string;
  leaseUntil: string;
  maxAttempts: number;
}

const GIVE_UP = `UPDATE upstream_deletions SET status = 'FAILED', reason = 'MAX_ATTEMPTS_EXCEEDED', lease_owner = NULL,
  lease_until = NULL, next_attempt_at = NULL, updated_at = ? WHERE kind = ? AND resource_id = ? RETURNING ${OUTBOX_COLUMNS}`;
const TAKE = `UPDATE upstream_deletions SET attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ?
  WHERE kind = ? AND resource_id = ? RETURNING ${OUTBOX_COLUMNS}`;

interface Due {
  kind: string;
  resourceId: string;
  attempts: number;
  inProgressAttempts: number;
  reason: string | null;
  lastError: string | null;
}

/**
 * Takes due rows, up to a limit per provider, in one transaction, counting the attempt now: a row
 * whose call crashes the process every time still reaches its limit.
 */
export function* claimDue(runtime: Runtime, input: ClaimInput): Work<Map<Provider, UpstreamDeletionRow[]>> {
  const nowIso = runtime.clock.now().toISOString();
  const claimed = new Map<Provider, UpstreamDeletionRow[]>();
  for (const [provider, limit] of input.limits) {
    const due = yield* all<Due>({ primitive: 'claimDue' }, [provider, nowIso, nowIso, limit]);
    const rows: UpstreamDeletionRow[] = [];
    for (const row of due) {
      // Recorded outcomes give up in the recorder; reaching the limit here means the last attempts
      // never recorded one (the process died mid-call), so stop before another call.
      if (row.attempts - row.inProgressAttempts >= input.maxAttempts) {
        const failed = decodeOutbox((yield* get(GIVE_UP, [nowIso, row.kind, row.resourceId]))!);
        yield* appendEvent(
          runtime,
          upstreamEvent(failed, WORKER_ACTOR, 'upstream.delete', 'UPSTREAM_FAILED', {
            details: { attempt: row.attempts, reason: 'MAX_ATTEMPTS_EXCEEDED', lastReason: row.reason, error: row.lastError },
          }),
        );
        yield* carrierSettled(runtime, failed.kind, failed.resourceId, WORKER_ACTOR);
        continue;
      }
      rows.push(decodeOutbox((yield* get(TAKE, [input.owner, input.leaseUntil, nowIso, row.kind, row.resourceId]))!));
    }
    if (rows.length > 0) claimed.set(provider, rows);
  }
  return claimed;
}

/**
 * Hands back the leases of a process that is shutting down (its worker's and its requests'), so
 * another worker need not wait for them to expire. An exact prefix: LIKE would read the `_` of an
 * instance id as a wildcard.
 */
export function* releaseLeases(instanceId: string, now: Date): Work<number> {
  const prefix = `${instanceId}/`;
  return yield* run(
    `UPDATE upstream_deletions SET lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE status = 'PENDING' AND substr(lease_owner, 1, ?) = ?`,
    [now.toISOString(), prefix.length, prefix],
  );
}

/**
 * A deletion whose caller committed it but never made its call (a call of many targets that ran
 * out of time): its lease is released and its attempt uncounted, due now, so a worker delivers it.
 * Null when `owner` no longer holds it.
 */
export function* handOver(kind: string, resourceId: string, owner: string, now: Date): Work<UpstreamDeletionRow | null> {
  const row = yield* get(
    `UPDATE upstream_deletions SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1, reason = 'QUEUED',
       next_attempt_at = ?, updated_at = ?
     WHERE kind = ? AND resource_id = ? AND lease_owner = ? AND status = 'PENDING' RETURNING ${OUTBOX_COLUMNS}`,
    [now.toISOString(), now.toISOString(), kind, resourceId, owner],
  );
  return row ? decodeOutbox(row) : null;
}
