// Records a provider's answer for an outbox row: the one place that turns an UpstreamOutcome into
// the row's next state and its audit event. The request path and the worker both call it.
import type { Config } from '../config.ts';
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';
import { appendAuditEvent, type AuditInput } from '../audit/append.ts';
import { inSharedTransaction, type Db } from '../db/open.ts';
import { statementsOf } from '../db/statements.ts';
import type { AuditEventRow, UpstreamDeletionRow } from '../db/schema.ts';
import { diagnosticDetails, type UpstreamOutcome } from '../providers/adapter.ts';
import type { Runtime } from '../runtime.ts';
import { nextDelayMs } from '../worker/backoff.ts';

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
    resourceKind: row.kind as ResourceKind,
    resourceId: row.resourceId,
    provider: row.provider as Provider,
    outcome,
    ...rest,
  };
}

/** The recording itself; the caller holds the write lock. */
function applyOutcome(db: Db, config: Config, runtime: Runtime, input: RecordInput): Recorded | null {
  const sql = statementsOf(db);
  const key = { kind: input.kind, id: input.resourceId };
  const row = sql.upstream.get(key);
  if (!row) return null;
  if (row.status !== 'PENDING' || row.leaseOwner !== input.leaseOwner) {
    // The row passed to another holder (or was settled) while this call was out. Its state is that
    // holder's to record, but a confirmed deletion at the provider is still a fact the trail keeps.
    if (input.outcome.status === 'DELETED') {
      appendAuditEvent(
        db,
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
  const updated = sql.recordOutbox.get({
    ...key,
    status: next.status,
    attempts: next.attempts,
    inProgressAttempts: next.inProgressAttempts,
    nextAttemptAt: next.nextAttemptAt,
    lastHttpStatus: next.lastHttpStatus,
    lastError: next.lastError,
    reason: next.reason,
    result: next.result === null ? null : JSON.stringify(next.result),
    providerRequestId: next.providerRequestId,
    providerErrorCode: next.providerErrorCode,
    updatedAt: next.updatedAt,
    completedAt: next.completedAt,
  })!;
  const event = appendAuditEvent(
    db,
    runtime,
    upstreamEvent(row, input.actor, 'upstream.delete', decision.outcome, {
      requestId: input.requestId,
      traceId: input.traceId,
      upstreamHttpStatus: input.outcome.httpStatus,
      details: { ...decision.details, ...diagnosticDetails(input.outcome) },
    }),
  );
  return { row: updated, event };
}

/**
 * Applies the outcome if `leaseOwner` still holds the row (else null), in the transaction shared by
 * everything queued in this turn of the event loop (group commit, see `inSharedTransaction`).
 */
export function recordOutcomeSoon(db: Db, config: Config, runtime: Runtime, input: RecordInput): Promise<Recorded | null> {
  return inSharedTransaction(db, () => applyOutcome(db, config, runtime, input));
}
