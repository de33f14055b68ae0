// The one deletion pipeline every delete goes through (PRODUCT.md "What a delete does"), for one
// target or a thousand:
//   1. judge each target: validate → load → scope → authorise → live or already deleted (reads only);
//   2. one write transaction for the whole call: each target's rejection event, or its soft delete +
//      cascade + DELETED event + outbox row (in a savepoint of its own when there are several), or
//      its replay (ALREADY_DELETED);
//   3. the provider calls, under each row's lease, at most CALLS_PER_PROVIDER at a time per
//      provider, answered by the deadline (UPSTREAM_TIMEOUT_MS + a margin under one second): what
//      the provider has not confirmed by then is PENDING and the worker delivers it;
//   4. the payload.
// A dry run (validateOnly) is step 1 and a simulation of step 2, so the two cannot drift apart.
import type { Config } from '../config.ts';
import {
  GATEWAY_ACTOR,
  ID_PATTERN,
  KIND_ACTION,
  PROVIDER_ID_PREFIX,
  actorOf,
  type AuditOutcome,
  type CatalogResource,
  type Principal,
  type Provider,
  type ResourceKind,
} from '../domain.ts';
import { appendEvent, appendEvents } from '../audit/append.ts';
import type { AuditEventRow } from '../audit/event.ts';
import { maskSecrets } from '../auth/keys.ts';
import { resourceRow } from '../catalog/row.ts';
import type { Database } from '../db/database.ts';
import { all, chunks, placeholders, run, type Work } from '../db/sql.ts';
import { notFound, permissionDenied, validation, type ErrorScope, type GatewayError } from '../errors.ts';
import type { Loaders } from '../catalog/loaders.ts';
import type { Observer } from '../observer.ts';
import { enqueue, enqueueForWorker } from '../outbox/enqueue.ts';
import { handOver } from '../outbox/claim.ts';
import { leaseExpiry } from '../outbox/lease.ts';
import { outboxRow } from '../outbox/list.ts';
import { recordOutcome } from '../outbox/record.ts';
import type { UpstreamDeletionRow } from '../outbox/row.ts';
import type { UpstreamTarget } from '../providers/adapter.ts';
import { CALLS_PER_PROVIDER, type ProviderClient } from '../providers/http.ts';
import type { Runtime } from '../runtime.ts';
import type { Circuits } from '../worker/circuit.ts';
import { mayDelete, type Ancestors } from './policy.ts';

/**
 * How far past UPSTREAM_TIMEOUT_MS a call of many targets stops starting provider calls. Under the
 * one second the contract allows: handing the rest to the worker and shaping a thousand results
 * take their time after it (about 0.4 s for 1000 targets on a loaded 2-core machine).
 */
export const ANSWER_MARGIN_MS = 500;

export interface DeletionContext {
  db: Database;
  config: Config;
  runtime: Runtime;
  client: ProviderClient;
  loaders: Loaders;
  observer: Observer;
  principal: Principal;
  requestId: string;
  traceId: string;
  /** This process; leases it holds are named after it so shutdown can release them. */
  instanceId: string;
  /** This process's provider circuits, shared with the worker: no inline call while one is open. */
  circuits: Circuits;
  /**
   * An erasure: the principal (an admin) deletes on behalf of the resources' owner, so the owner's
   * rules apply (a track's creator rule included), and every event carries `details`.
   */
  onBehalfOf?: { subjectId: string; details: Record<string, unknown> };
}

/** Catalog fields a target's row must match, each named by the argument that carries the value. */
type Matchable = 'sessionId' | 'documentId' | 'organizationId';

export interface DeletionTarget {
  kind: ResourceKind;
  /** The mutation's arguments as given, validated in this order; ValidationError.field names the key. */
  args: Record<string, string>;
  /** Which argument is the resource's own id. */
  idArg: string;
  /** The loaded row must carry these values (e.g. a document must be in the named session), else NotFound. */
  match?: Partial<Record<Matchable, string>>;
}

export interface DeletionSuccess {
  kind: ResourceKind;
  resource: CatalogResource;
  deletedAt: string;
  alreadyDeleted: boolean;
  upstream: UpstreamDeletionRow;
  /** The event this request wrote: DELETED, or ALREADY_DELETED on a replay. */
  auditEvent: AuditEventRow;
  /** Rows this request newly marked deleted below the resource. */
  cascade: { documents: number; comments: number };
}

export type DeletionResult = DeletionSuccess | GatewayError;

/** What a delete would do (validateOnly): nothing written, no event, no provider call. */
export interface DeletionPreview {
  __typename: 'DeletionPreview';
  kind: ResourceKind;
  id: string;
  provider: Provider;
  alreadyDeleted: boolean;
  documentsDeleted: number;
  commentsDeleted: number;
  /** The catalog row, for what a preview derives from it (a batch job's registered output). */
  resource: CatalogResource;
}

export type PreviewResult = DeletionPreview | GatewayError;

// ---- step 1: judging a target (reads only) ---------------------------------------------------

type Verdict =
  | { kind: 'reject'; target: DeletionTarget; error: GatewayError; resource: CatalogResource | null; outcome: AuditOutcome; details: Record<string, unknown> }
  | { kind: 'delete'; target: DeletionTarget; resource: CatalogResource }
  | { kind: 'replay'; target: DeletionTarget; resource: CatalogResource };

async function judge(ctx: DeletionContext, target: DeletionTarget): Promise<Verdict> {
  const scope: ErrorScope = { traceId: ctx.traceId, now: ctx.runtime.clock.now() };
  const id = target.args[target.idArg] ?? '';
  const reject = (error: GatewayError, resource: CatalogResource | null, outcome: AuditOutcome, details: Record<string, unknown>): Verdict => ({
    kind: 'reject',
    target,
    error,
    resource,
    outcome,
    details,
  });

  for (const [field, value] of Object.entries(target.args)) {
    if (!ID_PATTERN.test(value)) {
      const problem = value.length === 0 || value.length > 128 ? 'must be 1–128 characters long' : 'may contain only A–Z, a–z, 0–9, _ and -';
      return reject(validation(scope, field, `"${field}" ${problem}.`, { [field]: value.slice(0, 160) }), null, 'VALIDATION_FAILED', {
        field,
        value: auditable(ctx, value.slice(0, 160)),
        problem,
      });
    }
  }

  const resource = await ctx.loaders.resource.load({ kind: target.kind, id });
  const mismatch = Object.entries(target.match ?? {}).some(([field, value]) => resource?.[field as Matchable] !== value);
  // Another organisation's resource reads exactly like a missing one: never reveal it exists elsewhere.
  if (!resource || resource.organizationId !== ctx.principal.organizationId || mismatch) {
    return reject(notFound(scope, `${target.kind.toLowerCase()} not found`, { ...target.args }), null, 'NOT_FOUND', {
      arguments: Object.fromEntries(Object.entries(target.args).map(([name, value]) => [name, auditable(ctx, value)])),
    });
  }

  const prefix = PROVIDER_ID_PREFIX[resource.provider];
  if (prefix && !id.startsWith(prefix)) {
    return reject(
      validation(scope, target.idArg, `"${target.idArg}" must start with "${prefix}" for ${resource.provider}.`, { [target.idArg]: id }),
      resource,
      'VALIDATION_FAILED',
      { field: target.idArg, problem: `must start with ${prefix}` },
    );
  }

  const ancestors = await loadAncestors(ctx.loaders, resource);
  const acting = ctx.onBehalfOf ? { ...ctx.principal, userId: ctx.onBehalfOf.subjectId } : ctx.principal;
  if (!mayDelete(acting, resource, ancestors)) {
    return reject(
      permissionDenied(scope, `Your role (${ctx.principal.role}) or ownership does not allow deleting this ${target.kind.toLowerCase()}`, { ...target.args }),
      resource,
      'PERMISSION_DENIED',
      { role: ctx.principal.role },
    );
  }
  const live = resource.deletedAt === null && !ancestors.session?.deletedAt && !ancestors.document?.deletedAt;
  return { kind: live ? 'delete' : 'replay', target, resource };
}

async function loadAncestors(loaders: Loaders, resource: CatalogResource): Promise<Ancestors> {
  const [session, document] = await Promise.all([
    resource.sessionId ? loaders.resource.load({ kind: 'SESSION', id: resource.sessionId }) : null,
    resource.documentId ? loaders.resource.load({ kind: 'DOCUMENT', id: resource.documentId }) : null,
  ]);
  return { session, document };
}

/**
 * What of a caller's input may enter the append-only trail: an API key or a provider credential
 * pasted into an id argument is masked, since a row can never be corrected afterwards.
 */
export function auditable(ctx: Pick<DeletionContext, 'config'>, value: string): string {
  let safe = maskSecrets(value);
  for (const { credential } of [ctx.config.aitronos, ctx.config.scriptix, ctx.config.daily, ctx.config.revai]) {
    if (credential) safe = safe.split(credential).join('[redacted]');
  }
  return safe;
}

function auditInput(
  ctx: DeletionContext,
  target: DeletionTarget,
  resource: CatalogResource | null,
  outcome: AuditOutcome,
  details: Record<string, unknown>,
) {
  const id = target.args[target.idArg] ?? '';
  return {
    actor: actorOf(ctx.principal),
    organizationId: ctx.principal.organizationId,
    action: KIND_ACTION[target.kind],
    resourceKind: target.kind,
    resourceId: ID_PATTERN.test(id) && auditable(ctx, id) === id ? id : null,
    provider: resource?.provider ?? null,
    outcome,
    requestId: ctx.requestId,
    traceId: ctx.traceId,
    details: { userId: ctx.principal.userId, ...ctx.onBehalfOf?.details, ...details },
  };
}

// ---- step 2: one transaction for the call ----------------------------------------------------

interface Committed {
  kind: 'committed';
  resource: CatalogResource;
  deletedAt: string;
  event: AuditEventRow;
  upstream: UpstreamDeletionRow;
  cascade: { documents: number; comments: number };
  leaseOwner: string;
}

type Settled = Committed | { kind: 'replayed'; success: DeletionSuccess } | { kind: 'rejected'; error: GatewayError; event: AuditEventRow };

/** Marks rows deleted; its parameters are [deletedAt, actor, deletedAt], then the WHERE clause's. */
const SET_DELETED = 'UPDATE resources SET deleted_at = ?, deleted_by = ?, updated_at = ?';
const MARK = `${SET_DELETED} WHERE kind = ? AND id = ? AND deleted_at IS NULL`;
const MARK_SESSION_CHILDREN = `${SET_DELETED} WHERE kind = ? AND session_id = ? AND deleted_at IS NULL`;
const MARK_DOCUMENT_COMMENTS = `${SET_DELETED} WHERE kind = 'COMMENT' AND document_id = ? AND deleted_at IS NULL`;

/** A DELETED event's details: what its cascade took with it. */
function deletedDetails(kind: ResourceKind, cascade: { documents: number; comments: number }): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (kind === 'SESSION') details.documentsDeleted = cascade.documents;
  if (kind === 'SESSION' || kind === 'DOCUMENT') details.commentsDeleted = cascade.comments;
  return details;
}

/** Marks the row and its cascade, writes the event and the outbox row; null when it was deleted meanwhile. */
function* commitWork(ctx: DeletionContext, target: DeletionTarget, resource: CatalogResource): Work<Committed | null> {
  const now = ctx.runtime.clock.now();
  const deletedAt = now.toISOString();
  const actor = actorOf(ctx.principal);
  // The inline call holds the outbox row's lease, so the worker never calls the provider alongside it.
  const leaseOwner = `${ctx.instanceId}/request/${ctx.requestId}`;
  const mark = [deletedAt, actor, deletedAt];
  if ((yield* run(MARK, [...mark, resource.kind, resource.id])) === 0) return null;
  const cascade = { documents: 0, comments: 0 };
  if (resource.kind === 'SESSION') {
    cascade.documents = yield* run(MARK_SESSION_CHILDREN, [...mark, 'DOCUMENT', resource.id]);
    cascade.comments = yield* run(MARK_SESSION_CHILDREN, [...mark, 'COMMENT', resource.id]);
  } else if (resource.kind === 'DOCUMENT') {
    cascade.comments = yield* run(MARK_DOCUMENT_COMMENTS, [...mark, resource.id]);
  }
  const event = yield* appendEvent(ctx.runtime, auditInput(ctx, target, resource, 'DELETED', deletedDetails(resource.kind, cascade)));
  const upstream = yield* enqueue({
    kind: resource.kind,
    resourceId: resource.id,
    provider: resource.provider,
    organizationId: resource.organizationId,
    at: deletedAt,
    leaseOwner,
    leaseUntil: leaseExpiry(ctx.config, now),
    requestId: ctx.requestId,
  });
  return { kind: 'committed', resource: { ...resource, deletedAt, deletedBy: actor, updatedAt: deletedAt }, deletedAt, event, upstream, cascade, leaseOwner };
}

/**
 * The outbox row that carries a resource's provider deletion: its own, or for a document or comment
 * deleted with its parent, the parent's (one provider call deletes the whole cascade).
 */
function* carrierWork(resource: Pick<CatalogResource, 'kind' | 'id' | 'sessionId' | 'documentId'>): Work<UpstreamDeletionRow | null> {
  const own = yield* outboxRow(resource.kind, resource.id);
  if (own) return own;
  if (resource.documentId) {
    const document = yield* outboxRow('DOCUMENT', resource.documentId);
    if (document) return document;
  }
  return resource.sessionId ? yield* outboxRow('SESSION', resource.sessionId) : null;
}

/** Already deleted: the original time, the current upstream state, an ALREADY_DELETED event, no provider call. */
function* replayWork(ctx: DeletionContext, target: DeletionTarget, stale: CatalogResource): Work<DeletionSuccess> {
  const resource = (yield* resourceRow(stale.kind, stale.id)) ?? stale;
  const session = resource.sessionId ? yield* resourceRow('SESSION', resource.sessionId) : null;
  const document = resource.documentId ? yield* resourceRow('DOCUMENT', resource.documentId) : null;
  const upstream = yield* carrierWork(resource);
  const deletedAt = resource.deletedAt ?? document?.deletedAt ?? session?.deletedAt;
  if (!upstream || !deletedAt) throw new Error(`deleted resource ${resource.kind} ${resource.id} has no upstream deletion`);
  const event = yield* appendEvent(
    ctx.runtime,
    auditInput(ctx, target, resource, 'ALREADY_DELETED', {
      deletedAt,
      upstreamStatus: upstream.status,
      ...(upstream.kind !== resource.kind ? { deletedWith: { kind: upstream.kind, id: upstream.resourceId } } : {}),
    }),
  );
  return { kind: target.kind, resource, deletedAt, alreadyDeleted: true, upstream, auditEvent: event, cascade: { documents: 0, comments: 0 } };
}

function* settleWork(ctx: DeletionContext, verdict: Verdict): Work<Settled> {
  if (verdict.kind === 'reject') {
    const event = yield* appendEvent(ctx.runtime, auditInput(ctx, verdict.target, verdict.resource, verdict.outcome, verdict.details));
    return { kind: 'rejected', error: verdict.error, event };
  }
  if (verdict.kind === 'delete') {
    const committed = yield* commitWork(ctx, verdict.target, verdict.resource);
    // Null: deleted meanwhile (a concurrent request, or an earlier target of this call): a replay.
    if (committed) return committed;
  }
  return { kind: 'replayed', success: yield* replayWork(ctx, verdict.target, verdict.resource) };
}

/**
 * Every verdict settled in one transaction, in order. With several targets each has a savepoint of
 * its own: one that fails is rolled back alone and the others' outcomes stay (the failure is
 * reported once the others are delivered).
 */
function* settleAll(ctx: DeletionContext, verdicts: readonly Verdict[]): Work<(Settled | { kind: 'failed'; error: unknown })[]> {
  if (verdicts.length === 1) return [yield* settleWork(ctx, verdicts[0]!)];
  const settled: (Settled | { kind: 'failed'; error: unknown })[] = [];
  for (const verdict of verdicts) {
    yield* run('SAVEPOINT deletion_target');
    try {
      settled.push(yield* settleWork(ctx, verdict));
      yield* run('RELEASE SAVEPOINT deletion_target');
    } catch (error) {
      yield* run('ROLLBACK TO SAVEPOINT deletion_target');
      yield* run('RELEASE SAVEPOINT deletion_target');
      settled.push({ kind: 'failed', error });
    }
  }
  return settled;
}

/** The verdicts of targets (reads only), for a caller that commits them in a transaction of its own. */
export interface Judged {
  verdicts: readonly Verdict[];
  /** The first target that would be refused, if any (a caller committing all or nothing stops here). */
  refused: GatewayError | null;
}

export async function judgeAll(ctx: DeletionContext, targets: readonly DeletionTarget[]): Promise<Judged> {
  const verdicts = await Promise.all(targets.map((target) => judge(ctx, target)));
  const refused = verdicts.find((verdict) => verdict.kind === 'reject');
  return { verdicts, refused: refused?.kind === 'reject' ? refused.error : null };
}

type ForWorker = { resource: CatalogResource; upstream: UpstreamDeletionRow; alreadyDeleted: boolean };

/**
 * Every verdict settled inside the caller's transaction, all or nothing (no savepoints: one failure
 * fails the whole body), each new deletion queued for the worker instead of called now. The same
 * rows and events as settling the targets one by one (commitWork), written with a few statements per
 * few hundred targets rather than five or six per target: an erasure commits ten thousand in one
 * transaction. Targets are the catalog rows of an erasure plan, so none is another's cascade child
 * while that parent is live. Per target: the outbox row that carries its provider deletion (its own
 * new one, or the one it was deleted with before), and whether it was deleted before.
 */
export function* settleForWorker(ctx: DeletionContext, judged: Judged): Work<ForWorker[]> {
  const deletedAt = ctx.runtime.clock.now().toISOString();
  const actor = actorOf(ctx.principal);
  const key = (kind: string, id: string) => `${kind}:${id}`;
  const live = judged.verdicts.filter((verdict) => verdict.kind === 'delete');
  const marked = new Set<string>();
  for (const part of chunks(live)) {
    const rows = yield* all<{ kind: string; id: string }>(
      `${SET_DELETED} WHERE deleted_at IS NULL AND (${part.map(() => '(kind = ? AND id = ?)').join(' OR ')}) RETURNING kind, id`,
      [deletedAt, actor, deletedAt, ...part.flatMap((verdict) => [verdict.resource!.kind, verdict.resource!.id])],
    );
    for (const row of rows) marked.add(key(row.kind, row.id));
  }
  const committed = live.filter((verdict) => marked.has(key(verdict.resource!.kind, verdict.resource!.id)));
  // Cascades, counted per parent as commitWork counts them.
  const documents = new Map<string, number>();
  const comments = new Map<string, number>();
  const cascade = function* (child: 'DOCUMENT' | 'COMMENT', parentColumn: 'session_id' | 'document_id', parents: string[], counts: Map<string, number>) {
    for (const part of chunks(parents)) {
      const rows = yield* all<{ parent: string }>(
        `${SET_DELETED} WHERE deleted_at IS NULL AND kind = ? AND ${parentColumn} IN (${placeholders(part.length)}) RETURNING ${parentColumn} AS parent`,
        [deletedAt, actor, deletedAt, child, ...part],
      );
      for (const row of rows) counts.set(row.parent, (counts.get(row.parent) ?? 0) + 1);
    }
  };
  const ids = (kind: ResourceKind) => committed.filter((verdict) => verdict.resource!.kind === kind).map((verdict) => verdict.resource!.id);
  yield* cascade('DOCUMENT', 'session_id', ids('SESSION'), documents);
  yield* cascade('COMMENT', 'session_id', ids('SESSION'), comments);
  yield* cascade('COMMENT', 'document_id', ids('DOCUMENT'), comments);
  yield* appendEvents(
    ctx.runtime,
    ctx.principal.organizationId,
    committed.map((verdict) => {
      const resource = verdict.resource!;
      const cascaded = { documents: documents.get(resource.id) ?? 0, comments: comments.get(resource.id) ?? 0 };
      return auditInput(ctx, verdict.target, resource, 'DELETED', deletedDetails(resource.kind, cascaded));
    }),
  );
  const queued = yield* enqueueForWorker(
    committed.map((verdict) => ({
      kind: verdict.resource!.kind,
      resourceId: verdict.resource!.id,
      provider: verdict.resource!.provider,
      organizationId: verdict.resource!.organizationId,
      at: deletedAt,
      requestId: ctx.requestId,
    })),
  );
  const upstreamOf = new Map(queued.map((row) => [key(row.kind, row.resourceId), row]));
  const out: ForWorker[] = [];
  for (const verdict of judged.verdicts) {
    if (verdict.kind === 'reject') throw new Error('settleForWorker: a refused target cannot be settled');
    const resource = verdict.resource;
    const upstream = upstreamOf.get(key(resource.kind, resource.id));
    if (upstream) {
      out.push({ resource: { ...resource, deletedAt, deletedBy: actor, updatedAt: deletedAt }, upstream, alreadyDeleted: false });
      continue;
    }
    // Deleted before (or meanwhile): a replay, as a single delete of it would answer.
    const replayed = yield* replayWork(ctx, verdict.target, resource);
    out.push({ resource: replayed.resource, upstream: replayed.upstream, alreadyDeleted: true });
  }
  return out;
}

// ---- step 3: the provider calls, bounded ------------------------------------------------------

export function upstreamTargetOf(
  resource: Pick<CatalogResource, 'kind' | 'id' | 'provider' | 'organizationId' | 'sessionId' | 'documentId' | 'attributes'>,
): UpstreamTarget {
  return {
    kind: resource.kind,
    id: resource.id,
    provider: resource.provider,
    organizationId: resource.organizationId,
    sessionId: resource.sessionId,
    documentId: resource.documentId,
    attributes: resource.attributes,
  };
}

/** One provider call under the row's lease, its answer recorded; the row as recorded (or as it is, if the lease passed on). */
async function deliverOne(ctx: DeletionContext, committed: Committed): Promise<UpstreamDeletionRow> {
  const { resource } = committed;
  const call = await ctx.circuits.call(resource.provider, () => ctx.client.deleteUpstream(upstreamTargetOf(resource)));
  const recorded = await ctx.db.write(() =>
    recordOutcome(ctx.config, ctx.runtime, {
      kind: resource.kind,
      resourceId: resource.id,
      leaseOwner: committed.leaseOwner,
      outcome: call.outcome,
      actor: GATEWAY_ACTOR,
      requestId: ctx.requestId,
      traceId: ctx.traceId,
    }),
  );
  // A call the open circuit held back was never made: nothing to observe.
  if (call.outcome.status !== 'PENDING' || !call.outcome.notCalled) {
    ctx.observer.upstreamCall({
      provider: resource.provider,
      kind: resource.kind,
      status: call.outcome.status,
      httpStatus: call.outcome.httpStatus,
      reason: call.outcome.reason,
      latencyMs: call.latencyMs,
      via: 'request',
    });
  }
  // A lost lease (the process was too slow) leaves the row to its new holder: show it as it is now.
  return recorded?.row ?? (await ctx.db.read(outboxRow(resource.kind, resource.id))) ?? committed.upstream;
}

/**
 * Calls the providers for every committed deletion, CALLS_PER_PROVIDER at a time per provider,
 * until `deadline` (performance.now()). A call still out then keeps its lease and records its own
 * answer later; a deletion whose call never started is handed to the worker (lease released,
 * attempt not counted). Returns each row as the caller sees it at the answer.
 */
async function deliverAll(ctx: DeletionContext, committed: readonly Committed[], deadline: number): Promise<Map<Committed, UpstreamDeletionRow>> {
  const rows = new Map<Committed, UpstreamDeletionRow>();
  const queues = new Map<Provider, Committed[]>();
  for (const item of committed) queues.set(item.resource.provider, [...(queues.get(item.resource.provider) ?? []), item]);
  let open = true;
  const lanes: Promise<void>[] = [];
  for (const queue of queues.values()) {
    for (let lane = 0; lane < Math.min(CALLS_PER_PROVIDER, queue.length); lane += 1) {
      lanes.push(
        (async () => {
          for (let item = queue.shift(); item && open; item = open ? queue.shift() : undefined) {
            rows.set(item, await deliverOne(ctx, item));
          }
        })(),
      );
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
  });
  await Promise.race([Promise.all(lanes), timedOut]);
  clearTimeout(timer);
  open = false;
  const unstarted = [...queues.values()].flat();
  if (unstarted.length > 0) {
    const now = ctx.runtime.clock.now();
    const handed = await ctx.db.write(function* () {
      const out: (UpstreamDeletionRow | null)[] = [];
      for (const item of unstarted) out.push(yield* handOver(item.resource.kind, item.resource.id, item.leaseOwner, now));
      return out;
    });
    unstarted.forEach((item, i) => rows.set(item, handed[i] ?? item.upstream));
  }
  // Calls still out: the row as committed (PENDING, leased by this request) until they record.
  for (const item of committed) if (!rows.has(item)) rows.set(item, item.upstream);
  return rows;
}

// ---- the pipeline ----------------------------------------------------------------------------

/** Deletes each target as its single mutation would; results in the order of `targets`. */
export async function deleteResources(ctx: DeletionContext, targets: readonly DeletionTarget[]): Promise<DeletionResult[]> {
  const deadline = performance.now() + ctx.config.upstreamTimeoutMs + ANSWER_MARGIN_MS;
  const verdicts = await Promise.all(targets.map((target) => judge(ctx, target)));
  const settled = await ctx.db.write(() => settleAll(ctx, verdicts));
  for (const [i, item] of settled.entries()) {
    const verdict = verdicts[i]!;
    if (item.kind === 'failed') continue;
    const outcome: AuditOutcome = verdict.kind === 'reject' ? verdict.outcome : item.kind === 'committed' ? 'DELETED' : 'ALREADY_DELETED';
    ctx.observer.deletion({ kind: verdict.target.kind, provider: verdict.resource?.provider ?? null, outcome, requestId: ctx.requestId });
  }
  const committed = settled.filter((item): item is Committed => item.kind === 'committed');
  const delivered = committed.length > 0 ? await deliverAll(ctx, committed, deadline) : new Map<Committed, UpstreamDeletionRow>();
  ctx.loaders.clearAll();
  const failed = settled.find((item): item is { kind: 'failed'; error: unknown } => item.kind === 'failed');
  if (failed) throw failed.error;
  return settled.map((item, i): DeletionResult => {
    switch (item.kind) {
      case 'rejected':
        return item.error;
      case 'replayed':
        return item.success;
      case 'committed':
        return {
          kind: verdicts[i]!.target.kind,
          resource: item.resource,
          deletedAt: item.deletedAt,
          alreadyDeleted: false,
          upstream: delivered.get(item)!,
          auditEvent: item.event,
          cascade: item.cascade,
        };
      default:
        throw new Error('unreachable');
    }
  });
}

interface LiveChild {
  kind: string;
  id: string;
}

/**
 * What deleteResources would answer, without writing anything: the same judgement, then the
 * transaction's effect simulated in order (a target deleted by an earlier one's cascade, or named
 * twice, is already deleted by the time it comes).
 */
export async function previewDeletions(ctx: DeletionContext, targets: readonly DeletionTarget[]): Promise<PreviewResult[]> {
  const verdicts = await Promise.all(targets.map((target) => judge(ctx, target)));
  const gone = new Set<string>();
  const key = (kind: string, id: string) => `${kind}\u0000${id}`;
  const results: PreviewResult[] = [];
  for (const verdict of verdicts) {
    if (verdict.kind === 'reject') {
      results.push(verdict.error);
      continue;
    }
    const { resource } = verdict;
    const already = verdict.kind === 'replay' || gone.has(key(resource.kind, resource.id));
    const preview: DeletionPreview = {
      __typename: 'DeletionPreview',
      kind: resource.kind,
      id: resource.id,
      provider: resource.provider,
      alreadyDeleted: already,
      documentsDeleted: 0,
      commentsDeleted: 0,
      resource,
    };
    if (!already) {
      gone.add(key(resource.kind, resource.id));
      const children = resource.kind === 'SESSION' || resource.kind === 'DOCUMENT' ? await ctx.db.read(liveChildren(resource)) : [];
      for (const child of children) {
        if (gone.has(key(child.kind, child.id))) continue;
        gone.add(key(child.kind, child.id));
        if (child.kind === 'DOCUMENT') preview.documentsDeleted += 1;
        else preview.commentsDeleted += 1;
      }
    }
    results.push(preview);
  }
  return results;
}

/** The rows a delete of a session or document would mark with it (what is not deleted yet). */
function* liveChildren(resource: CatalogResource): Work<LiveChild[]> {
  return resource.kind === 'SESSION'
    ? yield* all<LiveChild>("SELECT kind, id FROM resources WHERE session_id = ? AND kind IN ('DOCUMENT', 'COMMENT') AND deleted_at IS NULL", [resource.id])
    : yield* all<LiveChild>("SELECT kind, id FROM resources WHERE document_id = ? AND kind = 'COMMENT' AND deleted_at IS NULL", [resource.id]);
}

/**
 * The outbox row that carries a resource's provider deletion: its own, or for a document or comment
 * deleted with its parent, the parent's (one provider call deletes the whole cascade).
 */
export async function effectiveUpstream(loaders: Loaders, resource: CatalogResource): Promise<UpstreamDeletionRow | null> {
  const own = await loaders.upstream.load({ kind: resource.kind, id: resource.id });
  if (own) return own;
  if (resource.documentId) {
    const document = await loaders.upstream.load({ kind: 'DOCUMENT', id: resource.documentId });
    if (document) return document;
  }
  if (resource.sessionId) return loaders.upstream.load({ kind: 'SESSION', id: resource.sessionId });
  return null;
}
