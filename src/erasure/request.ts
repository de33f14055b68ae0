// A data-subject erasure (PRODUCT.md "Erasing a person everywhere"): every catalog resource of the
// organisation the subject owns, deleted through the one deletion pipeline on the subject's behalf.
// One transaction writes the request and its ERASURE_REQUESTED event, the soft deletes with their
// events and outbox rows (queued for the worker: the mutation answers at once), and the items, each
// naming the outbox row that carries its provider deletion. A dry run judges and previews the same
// targets through the same path as deleteResources(validateOnly), writing nothing.
import { appendEvent } from '../audit/append.ts';
import { decodeResource, RESOURCE_COLUMNS } from '../catalog/row.ts';
import { auditable, judgeAll, previewDeletions, settleForWorker, type DeletionContext, type DeletionTarget, type PreviewResult } from '../deletion/pipeline.ts';
import { all, chunks, get, run, type Work } from '../db/sql.ts';
import { actorOf, ID_PATTERN, type CatalogResource } from '../domain.ts';
import { permissionDenied, validation, type ErrorScope, type GatewayError } from '../errors.ts';
import { completeIfDone } from './completion.ts';

export const MAX_ERASURE_RESOURCES = 10_000;
export const MAX_REASON_LENGTH = 500;
/** Art. 12(3): one month; thirty days. */
export const ERASURE_DUE_DAYS = 30;

export interface EraseSubjectInput {
  subjectId: string;
  reason?: string | null;
  idempotencyKey?: string | null;
  validateOnly?: boolean | null;
}

export interface ErasureRequestRow {
  id: string;
  organizationId: string;
  subjectId: string;
  requestedBy: string;
  reason: string | null;
  idempotencyKey: string | null;
  requestedAt: string;
  completedAt: string | null;
}

export interface ErasurePreviewValue {
  __typename: 'ErasurePreview';
  subjectId: string;
  /** Every resource the request would hold (those deleted with their session or document included). */
  resources: number;
  /** The verdict of each resource deleted on its own (documents and comments of its sessions are counted in them). */
  items: PreviewResult[];
}

export const REQUEST_COLUMNS = `id, organization_id AS "organizationId", subject_id AS "subjectId", requested_by AS "requestedBy", reason,
  idempotency_key AS "idempotencyKey", requested_at AS "requestedAt", completed_at AS "completedAt"`;

export function* erasureRequestRow(id: string): Work<ErasureRequestRow | null> {
  return (yield* get<ErasureRequestRow>(`SELECT ${REQUEST_COLUMNS} FROM erasure_requests WHERE id = ?`, [id])) ?? null;
}

function* requestByKey(organizationId: string, key: string): Work<ErasureRequestRow | null> {
  return (yield* get<ErasureRequestRow>(`SELECT ${REQUEST_COLUMNS} FROM erasure_requests WHERE organization_id = ? AND idempotency_key = ?`, [organizationId, key])) ?? null;
}

/** An item of the plan: the resource, and what carries its deletion when a target's cascade takes it. */
interface Planned {
  resource: CatalogResource;
  /** Null: deleted as a target of its own. */
  cascadedWith: CatalogResource | null;
}

/**
 * Which of the subject's resources are targets and which go with one: a live document or comment
 * whose live session (or document) is also the subject's is deleted by that one's cascade, as
 * deleteSession would; everything else (documents and comments in other people's sessions, what was
 * deleted before) is a target of its own.
 */
function plan(resources: readonly CatalogResource[]): { targets: CatalogResource[]; items: Planned[] } {
  const live = new Map(resources.filter((r) => r.deletedAt === null).map((r) => [`${r.kind}:${r.id}`, r]));
  const items: Planned[] = [];
  const targets: CatalogResource[] = [];
  for (const resource of resources) {
    const session = resource.kind !== 'SESSION' && resource.sessionId ? live.get(`SESSION:${resource.sessionId}`) : undefined;
    const document = resource.kind === 'COMMENT' && resource.documentId ? live.get(`DOCUMENT:${resource.documentId}`) : undefined;
    const carrier = resource.deletedAt === null && (resource.kind === 'DOCUMENT' || resource.kind === 'COMMENT') ? (session ?? document ?? null) : null;
    items.push({ resource, cascadedWith: carrier });
    if (!carrier) targets.push(resource);
  }
  return { targets, items };
}

function targetOf(resource: CatalogResource): DeletionTarget {
  // The row comes from the catalog itself: its own id is the only argument to check.
  return { kind: resource.kind, args: { id: resource.id }, idArg: 'id' };
}

function checkInput(scope: ErrorScope, input: EraseSubjectInput): GatewayError | null {
  if (!ID_PATTERN.test(input.subjectId)) {
    return validation(scope, 'subjectId', '"subjectId" must be 1–128 characters of A–Z, a–z, 0–9, _ and -.', { subjectId: input.subjectId.slice(0, 160) });
  }
  if (input.reason !== null && input.reason !== undefined && input.reason.length > MAX_REASON_LENGTH) {
    return validation(scope, 'reason', `"reason" may be at most ${MAX_REASON_LENGTH} characters; it has ${input.reason.length}.`, { length: input.reason.length });
  }
  const key = input.idempotencyKey;
  if (key !== null && key !== undefined && !ID_PATTERN.test(key)) {
    return validation(scope, 'idempotencyKey', '"idempotencyKey" must be 1–128 characters of A–Z, a–z, 0–9, _ and -.', { length: key.length });
  }
  return null;
}

/**
 * The request (new, or the one its idempotency key already names), a dry run's preview, or why not.
 * Nothing is written unless a request is.
 */
export async function eraseSubject(base: DeletionContext, input: EraseSubjectInput): Promise<ErasureRequestRow | ErasurePreviewValue | GatewayError> {
  const { principal } = base;
  const scope: ErrorScope = { traceId: base.traceId, now: base.runtime.clock.now() };
  if (principal.role !== 'admin') {
    return permissionDenied(scope, `Only an admin may erase a data subject; your role is ${principal.role}`, { subjectId: input.subjectId.slice(0, 160) });
  }
  const invalid = checkInput(scope, input);
  if (invalid) return invalid;
  const key = input.idempotencyKey ?? null;
  if (key && !input.validateOnly) {
    const existing = await base.db.read(requestByKey(principal.organizationId, key));
    if (existing) return replayOf(scope, existing, input.subjectId);
  }
  const counted = await base.db.read(
    get<{ n: number }>('SELECT COUNT(*) AS n FROM resources WHERE organization_id = ? AND owner_id = ?', [principal.organizationId, input.subjectId]),
  );
  const total = Number(counted?.n ?? 0);
  if (total > MAX_ERASURE_RESOURCES) {
    return validation(scope, 'subjectId', `The subject holds ${total} resources; one erasure request takes at most ${MAX_ERASURE_RESOURCES}.`, {
      resources: total,
      max: MAX_ERASURE_RESOURCES,
    });
  }
  const rows = await base.db.read(
    all(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE organization_id = ? AND owner_id = ? ORDER BY kind, id`, [principal.organizationId, input.subjectId]),
  );
  const resources = rows.map(decodeResource);
  const { targets, items } = plan(resources);
  const id = base.runtime.newId('era');
  const ctx: DeletionContext = { ...base, onBehalfOf: { subjectId: input.subjectId, details: { onBehalfOf: input.subjectId, erasureRequestId: id } } };
  // The rows are at hand: the judging reads them from the loader instead of the database again.
  for (const resource of resources) ctx.loaders.resource.prime({ kind: resource.kind, id: resource.id }, resource);
  if (input.validateOnly) {
    return { __typename: 'ErasurePreview', subjectId: input.subjectId, resources: items.length, items: await previewDeletions(ctx, targets.map(targetOf)) };
  }
  const judged = await judgeAll(ctx, targets.map(targetOf));
  if (judged.refused) {
    return validation(scope, 'subjectId', `A resource of the subject cannot be deleted: ${judged.refused.message}`, { refused: judged.refused.details });
  }
  const requestedAt = scope.now.toISOString();
  const reason = input.reason ?? null;
  const row: ErasureRequestRow = {
    id,
    organizationId: principal.organizationId,
    subjectId: input.subjectId,
    requestedBy: actorOf(principal),
    reason,
    idempotencyKey: key,
    requestedAt,
    completedAt: null,
  };
  let written: ErasureRequestRow | GatewayError;
  try {
    written = await ctx.db.write(function* () {
      // Checked again inside the transaction: a concurrent request with the same key may have won.
      if (key) {
        const existing = yield* requestByKey(principal.organizationId, key);
        if (existing) return replayOf(scope, existing, input.subjectId);
      }
      yield* run(
        `INSERT INTO erasure_requests (id, organization_id, subject_id, requested_by, reason, idempotency_key, requested_at, completed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
        [row.id, row.organizationId, row.subjectId, row.requestedBy, row.reason, row.idempotencyKey, row.requestedAt],
      );
      yield* appendEvent(ctx.runtime, {
        actor: row.requestedBy,
        organizationId: row.organizationId,
        action: 'subject.erase',
        resourceId: row.id,
        outcome: 'ERASURE_REQUESTED',
        requestId: ctx.requestId,
        traceId: ctx.traceId,
        details: {
          userId: principal.userId,
          erasureRequestId: row.id,
          subjectId: row.subjectId,
          resources: items.length,
          ...(reason !== null ? { reason: auditable(ctx, reason) } : {}),
          ...(key ? { idempotencyKey: key } : {}),
        },
      });
      const settled = yield* settleForWorker(ctx, judged);
      const carriers = new Map(settled.map((s) => [`${s.resource.kind}:${s.resource.id}`, s]));
      const values: unknown[][] = items.map(({ resource, cascadedWith }) => {
        const own = carriers.get(`${resource.kind}:${resource.id}`);
        const carrier = cascadedWith ? { kind: cascadedWith.kind, resourceId: cascadedWith.id } : own ? own.upstream : { kind: resource.kind, resourceId: resource.id };
        return [row.id, resource.kind, resource.id, resource.provider, carrier.kind, carrier.resourceId, own?.alreadyDeleted ? 1 : 0];
      });
      for (const part of chunks(values, 200)) {
        yield* run(
          `INSERT INTO erasure_items (request_id, kind, resource_id, provider, carrier_kind, carrier_id, already_deleted) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          part.flat(),
        );
      }
      // Nothing left pending (no resources, or all deleted before): it ends now.
      yield* completeIfDone(ctx.runtime, row.id, row.requestedBy);
      return (yield* erasureRequestRow(row.id))!;
    });
  } catch (error) {
    // PostgreSQL: a concurrent request with the same key committed first (unique index): answer with it.
    const existing = key ? await base.db.read(requestByKey(principal.organizationId, key)) : null;
    if (!existing) throw error;
    written = replayOf(scope, existing, input.subjectId);
  }
  ctx.loaders.clearAll();
  return written;
}

function replayOf(scope: ErrorScope, existing: ErasureRequestRow, subjectId: string): ErasureRequestRow | GatewayError {
  if (existing.subjectId === subjectId) return existing;
  return validation(scope, 'idempotencyKey', 'This idempotencyKey was already used for an erasure request of another subject.', null);
}
