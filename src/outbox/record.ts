// Records a provider's answer for an outbox row: the one place that turns an UpstreamOutcome into
// the row's next state and its audit event. The request path and the worker both call it.
import type { Config } from '../config.ts';
import type { AuditOutcome, ResourceKind } from '../domain.ts';
import { appendEvent, type AuditInput } from '../audit/append.ts';
import type { AuditEventRow } from '../audit/event.ts';
import { get, jsonText, type Work } from '../db/sql.ts';
import { diagnosticDetails, type UpstreamOutcome } from '../providers/adapter.ts';
import type { Runtime } from '../runtime.ts';
import { carrierSettled } from '../erasure/completion.ts';
import { nextDelayMs } from './backoff.ts';
import { OUTBOX_COLUMNS, decodeOutbox, decodeOutboxOrNull, type UpstreamDeletionRow } from './row.ts';

export interface RecordInput {
  kind: ResourceKind;
  resourceId: string;
  /** Only the current lease holder may record; anyone else's answer is dropped. */
  leaseOwner: string;
  outcome: UpstreamOutcome;
  actor: string;
  requestId: string | null;
  traceId: string | null;
}

export interface Recorded {
  row: UpstreamDeletionRow;
  event: AuditEventRow;
}

type Decision = {
  set: Partial<UpstreamDeletionRow>;
  outcome: AuditOutcome;
  details: Record<string, unknown>;
};

export function decide(row: UpstreamDeletionRow, outcome: UpstreamOutcome, config: Config, runtime: Runtime): Decision {
  const now = runtime.clock.now();
  const common = {
    lastHttpStatus: outcome.httpStatus,
    // Per answer: a later answer replaces them, null when it gave none.
    providerRequestId: outcome.providerRequestId ?? null,
    providerErrorCode: outcome.providerErrorCode ?? null,
    leaseOwner: null,
    leaseUntil: null,
    updatedAt: now.toISOString(),
  };
  if (outcome.status === 'DELETED') {
    return {
      set: { ...common, status: 'DELETED', reason: outcome.reason, result: outcome.result, completedAt: now.toISOString(), nextAttemptAt: null, lastError: null },
      outcome: 'UPSTREAM_DELETED',
      details: {
        attempt: row.attempts,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        ...(outcome.reason === 'ALREADY_ABSENT' ? { note: 'already absent at the provider' } : {}),
        ...(outcome.result ?? {}),
      },
    };
  }
  if (outcome.status === 'FAILED') {
    return {
      set: { ...common, status: 'FAILED', reason: outcome.reason, lastError: outcome.error, nextAttemptAt: null, result: outcome.result ?? null },
      outcome: 'UPSTREAM_FAILED',
      details: { attempt: row.attempts, reason: outcome.reason, error: outcome.error, ...(outcome.result ?? {}) },
    };
  }
  const inProgress = outcome.reason === 'JOB_IN_PROGRESS';
  // A call never made (its circuit was open) gives back the attempt the row counted for it.
  const attempts = row.attempts - (outcome.notCalled ? 1 : 0);
  const inProgressAttempts = row.inProgressAttempts + (inProgress ? 1 : 0);
  const counted = attempts - inProgressAttempts;
  // A re-queued row gets a whole new deadline, not what was left of the first one.
  const age = now.getTime() - Date.parse(row.queuedAt ?? row.createdAt);
  const giveUp = inProgress ? age >= config.jobInProgressDeadlineMs : counted >= config.upstreamMaxAttempts;
  if (giveUp) {
    const reason = inProgress ? 'JOB_IN_PROGRESS_DEADLINE' : 'MAX_ATTEMPTS_EXCEEDED';
    return {
      set: { ...common, status: 'FAILED', attempts, inProgressAttempts, reason, lastError: outcome.error, nextAttemptAt: null },
      outcome: 'UPSTREAM_FAILED',
      details: { attempt: attempts, reason, lastReason: outcome.reason, error: outcome.error },
    };
  }
  const delay = nextDelayMs({
    attempt: inProgress ? inProgressAttempts : counted,
    schedule: inProgress ? 'jobInProgress' : 'default',
    retryAfterMs: outcome.retryAfterMs,
    random: runtime.random,
  });
  const nextAttemptAt = new Date(now.getTime() + delay).toISOString();
  return {
    set: { ...common, status: 'PENDING', attempts, inProgressAttempts, reason: outcome.reason, lastError: outcome.error, nextAttemptAt },
    outcome: 'UPSTREAM_RETRY_SCHEDULED',
    details: {
      attempt: attempts,
      reason: outcome.reason,
      error: outcome.error,
      nextAttemptAt,
      ...(outcome.retryAfterMs !== null ? { retryAfterMs: outcome.retryAfterMs } : {}),
    },
  };
}

/** The audit event about an outbox row: who, which resource at which provider, what happened. */
export function upstreamEvent(
  row: UpstreamDeletionRow,
  actor: string,
  action: string,
  outcome: AuditOutcome,
  rest: Pick<AuditInput, 'requestId' | 'traceId' | 'upstreamHttpStatus' | 'details'>,
): AuditInput {
  return {
    actor,
    organizationId: row.organizationId,
    action,
    resourceKind: row.kind,
    resourceId: row.resourceId,
    provider: row.provider,
    outcome,
    ...rest,
  };
}

export const SELECT_OUTBOX = `SELECT ${OUTBOX_COLUMNS} FROM upstream_deletions WHERE kind = ? AND resource_id = ?`;

/** The whole mutable state of an outbox row, written at once. */
const SETTLE = `UPDATE upstream_deletions SET status = ?, attempts = ?, in_progress_attempts = ?, next_attempt_at = ?, lease_owner = NULL,
  lease_until = NULL, last_http_status = ?, last_error = ?, reason = ?, result = ?, provider_request_id = ?, provider_error_code = ?,
  updated_at = ?, completed_at = ? WHERE kind = ? AND resource_id = ? RETURNING ${OUTBOX_COLUMNS}`;

/**
 * Applies the outcome if `leaseOwner` still holds the row, in a write transaction; null when it
 * does not (any more). Bodies of Database.write run in one transaction: the row is read, decided
 * and written, and its event appended, with nothing in between.
 */
export function* recordOutcome(config: Config, runtime: Runtime, input: RecordInput): Work<Recorded | null> {
  const row = decodeOutboxOrNull(yield* get(SELECT_OUTBOX, [input.kind, input.resourceId]));
  if (!row) return null;
  if (row.status !== 'PENDING' || row.leaseOwner !== input.leaseOwner) {
    // The row passed to another holder (or was settled) while this call was out. Its state is that
    // holder's to record, but a confirmed deletion at the provider is still a fact the trail keeps.
    if (input.outcome.status === 'DELETED') {
      yield* appendEvent(
        runtime,
        upstreamEvent(row, input.actor, 'upstream.delete', 'UPSTREAM_DELETED', {
          requestId: input.requestId,
          traceId: input.traceId,
          upstreamHttpStatus: input.outcome.httpStatus,
          details: {
            leaseLost: true,
            note: "the provider's answer arrived after this caller's lease had passed on; the outbox row is left to its holder",
            ...(input.outcome.reason ? { reason: input.outcome.reason } : {}),
            ...(input.outcome.result ?? {}),
            ...diagnosticDetails(input.outcome),
          },
        }),
      );
    }
    return null;
  }
  const decision = decide(row, input.outcome, config, runtime);
  const next = { ...row, ...decision.set };
  const updated = decodeOutbox(
    (yield* get(SETTLE, [
      next.status,
      next.attempts,
      next.inProgressAttempts,
      next.nextAttemptAt,
      next.lastHttpStatus,
      next.lastError,
      next.reason,
      jsonText(next.result),
      next.providerRequestId,
      next.providerErrorCode,
      next.updatedAt,
      next.completedAt,
      input.kind,
      input.resourceId,
    ]))!,
  );
  const event = yield* appendEvent(
    runtime,
    upstreamEvent(row, input.actor, 'upstream.delete', decision.outcome, {
      requestId: input.requestId,
      traceId: input.traceId,
      upstreamHttpStatus: input.outcome.httpStatus,
      details: { ...decision.details, ...diagnosticDetails(input.outcome) },
    }),
  );
  // The last pending item of an erasure request ends it, in this same transaction.
  if (updated.status !== 'PENDING') yield* carrierSettled(runtime, updated.kind, updated.resourceId, input.actor);
  return { row: updated, event };
}
