// The one deletion pipeline every delete mutation goes through (PRODUCT.md "What a delete does"):
// validate → load → scope → authorise → one transaction (soft delete + cascade + audit event +
// outbox row) → provider call under the row's lease → record → payload.
// It takes a list of targets even though each mutation passes one (bulk deletes come next).
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
  type ResourceKind,
} from '../domain.ts';
import { appendEvent } from '../audit/append.ts';
import type { AuditEventRow } from '../audit/event.ts';
import { maskSecrets } from '../auth/keys.ts';
import type { Database } from '../db/database.ts';
import { run, type Work } from '../db/sql.ts';
import { enqueue } from '../outbox/enqueue.ts';
import { leaseExpiry } from '../outbox/lease.ts';
import { recordOutcome } from '../outbox/record.ts';
import type { UpstreamDeletionRow } from '../outbox/row.ts';
import { notFound, permissionDenied, validation, type ErrorScope, type GatewayError } from '../errors.ts';
import type { Loaders } from '../catalog/loaders.ts';
import type { Observer } from '../observer.ts';
import type { UpstreamTarget } from '../providers/adapter.ts';
import type { ProviderClient } from '../providers/http.ts';
import type { Runtime } from '../runtime.ts';
import type { Circuits } from '../worker/circuit.ts';
import { mayDelete, type Ancestors } from './policy.ts';

export interface DeletionContext {
  db: Database;
  config: Config;
  runtime: Runtime;
  client: ProviderClient;
  /** This process's provider circuits, shared with the worker: no inline call while one is open. */
  circuits: Circuits;
  loaders: Loaders;
  observer: Observer;
  principal: Principal;
  requestId: string;
  traceId: string;
  /** This process; leases it holds are named after it so shutdown can release them. */
  instanceId: string;
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

export async function deleteResources(ctx: DeletionContext, targets: readonly DeletionTarget[]): Promise<DeletionResult[]> {
  return Promise.all(targets.map((target) => deleteOne(ctx, target)));
}

async function deleteOne(ctx: DeletionContext, target: DeletionTarget): Promise<DeletionResult> {
  const scope: ErrorScope = { traceId: ctx.traceId, now: ctx.runtime.clock.now() };
  const id = target.args[target.idArg] ?? '';

  for (const [field, value] of Object.entries(target.args)) {
    if (!ID_PATTERN.test(value)) {
      const problem = value.length === 0 || value.length > 128 ? 'must be 1–128 characters long' : 'may contain only A–Z, a–z, 0–9, _ and -';
      await audit(ctx, target, null, 'VALIDATION_FAILED', { field, value: auditable(ctx, value.slice(0, 160)), problem });
      return validation(scope, field, `"${field}" ${problem}.`, { [field]: value.slice(0, 160) });
    }
  }

  const resource = await ctx.loaders.resource.load({ kind: target.kind, id });
  const mismatch = Object.entries(target.match ?? {}).some(([field, value]) => resource?.[field as Matchable] !== value);
  // Another organisation's resource reads exactly like a missing one: never reveal it exists elsewhere.
  if (!resource || resource.organizationId !== ctx.principal.organizationId || mismatch) {
    await audit(ctx, target, null, 'NOT_FOUND', {
      arguments: Object.fromEntries(Object.entries(target.args).map(([name, value]) => [name, auditable(ctx, value)])),
    });
    return notFound(scope, `${target.kind.toLowerCase()} not found`, { ...target.args });
  }

  const prefix = PROVIDER_ID_PREFIX[resource.provider];
  if (prefix && !id.startsWith(prefix)) {
    await audit(ctx, target, resource, 'VALIDATION_FAILED', { field: target.idArg, problem: `must start with ${prefix}` });
    return validation(scope, target.idArg, `"${target.idArg}" must start with "${prefix}" for ${resource.provider}.`, { [target.idArg]: id });
  }

  const ancestors = await loadAncestors(ctx.loaders, resource);
  if (!mayDelete(ctx.principal, resource, ancestors)) {
    await audit(ctx, target, resource, 'PERMISSION_DENIED', { role: ctx.principal.role });
    return permissionDenied(scope, `Your role (${ctx.principal.role}) or ownership does not allow deleting this ${target.kind.toLowerCase()}`, {
      ...target.args,
    });
  }

  if (resource.deletedAt === null && !ancestors.session?.deletedAt && !ancestors.document?.deletedAt) {
    const committed = await commit(ctx, target, resource);
    if (committed) return deliver(ctx, committed);
    // Lost the race to a concurrent delete of the same resource: that one calls the provider.
    ctx.loaders.clear([{ kind: resource.kind, id: resource.id }]);
  }
  return replay(ctx, target);
}

async function loadAncestors(loaders: Loaders, resource: CatalogResource): Promise<Ancestors> {
  const [session, document] = await Promise.all([
    resource.sessionId ? loaders.resource.load({ kind: 'SESSION', id: resource.sessionId }) : null,
    resource.documentId ? loaders.resource.load({ kind: 'DOCUMENT', id: resource.documentId }) : null,
  ]);
  return { session, document };
}

async function audit(
  ctx: DeletionContext,
  target: DeletionTarget,
  resource: CatalogResource | null,
  outcome: AuditOutcome,
  details: Record<string, unknown>,
): Promise<AuditEventRow> {
  const event = await ctx.db.write(() => appendEvent(ctx.runtime, auditInput(ctx, target, resource, outcome, details)));
  ctx.observer.deletion({ kind: target.kind, provider: resource?.provider ?? null, outcome, requestId: ctx.requestId });
  return event;
}

/**
 * What of a caller's input may enter the append-only trail: an API key or a provider credential
 * pasted into an id argument is masked, since a row can never be corrected afterwards.
 */
function auditable(ctx: DeletionContext, value: string): string {
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
    details: { userId: ctx.principal.userId, ...details },
  };
}

interface Committed {
  target: DeletionTarget;
  resource: CatalogResource;
  deletedAt: string;
  event: AuditEventRow;
  upstream: UpstreamDeletionRow;
  cascade: { documents: number; comments: number };
  leaseOwner: string;
}

const MARK = 'UPDATE resources SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE kind = ? AND id = ? AND deleted_at IS NULL';
const MARK_SESSION_CHILDREN = 'UPDATE resources SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE kind = ? AND session_id = ? AND deleted_at IS NULL';
const MARK_DOCUMENT_COMMENTS = `UPDATE resources SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE kind = 'COMMENT' AND document_id = ? AND deleted_at IS NULL`;

/** Step 5: one transaction marks the row and its cascade, writes the event and the outbox row. */
function commit(ctx: DeletionContext, target: DeletionTarget, resource: CatalogResource): Promise<Committed | null> {
  const now = ctx.runtime.clock.now();
  const deletedAt = now.toISOString();
  const actor = actorOf(ctx.principal);
  // The inline call holds the outbox row's lease, so the worker never calls the provider alongside it.
  const leaseOwner = `${ctx.instanceId}/request/${ctx.requestId}`;
  const mark = [deletedAt, actor, deletedAt];
  return ctx.db.write(function* (): Work<Committed | null> {
    if ((yield* run(MARK, [...mark, resource.kind, resource.id])) === 0) return null;
    const cascade = { documents: 0, comments: 0 };
    if (resource.kind === 'SESSION') {
      cascade.documents = yield* run(MARK_SESSION_CHILDREN, [...mark, 'DOCUMENT', resource.id]);
      cascade.comments = yield* run(MARK_SESSION_CHILDREN, [...mark, 'COMMENT', resource.id]);
    } else if (resource.kind === 'DOCUMENT') {
      cascade.comments = yield* run(MARK_DOCUMENT_COMMENTS, [...mark, resource.id]);
    }
    const details: Record<string, unknown> = {};
    if (resource.kind === 'SESSION') details.documentsDeleted = cascade.documents;
    if (resource.kind === 'SESSION' || resource.kind === 'DOCUMENT') details.commentsDeleted = cascade.comments;
    const event = yield* appendEvent(ctx.runtime, auditInput(ctx, target, resource, 'DELETED', details));
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
    return { target, resource: { ...resource, deletedAt, deletedBy: actor, updatedAt: deletedAt }, deletedAt, event, upstream, cascade, leaseOwner };
  });
}

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

/** Steps 6–7: the provider call, its answer recorded under the lease, the payload. */
async function deliver(ctx: DeletionContext, committed: Committed): Promise<DeletionSuccess> {
  const { resource } = committed;
  ctx.observer.deletion({ kind: resource.kind, provider: resource.provider, outcome: 'DELETED', requestId: ctx.requestId });
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
  ctx.loaders.clearAll();
  return {
    kind: resource.kind,
    resource,
    deletedAt: committed.deletedAt,
    alreadyDeleted: false,
    // A lost lease (the process was too slow) leaves the row to its new holder: show it as it is now.
    upstream: recorded?.row ?? (await ctx.loaders.upstream.load({ kind: resource.kind, id: resource.id })) ?? committed.upstream,
    auditEvent: committed.event,
    cascade: committed.cascade,
  };
}

/** Step 4: already deleted — the original time, the current upstream state, no provider call. */
async function replay(ctx: DeletionContext, target: DeletionTarget): Promise<DeletionSuccess> {
  const id = target.args[target.idArg] ?? '';
  const resource = await ctx.loaders.resource.load({ kind: target.kind, id });
  if (!resource) throw new Error(`resource ${target.kind} ${id} vanished from the catalog`);
  const ancestors = await loadAncestors(ctx.loaders, resource);
  const upstream = await effectiveUpstream(ctx.loaders, resource);
  const deletedAt = resource.deletedAt ?? ancestors.document?.deletedAt ?? ancestors.session?.deletedAt;
  if (!upstream || !deletedAt) throw new Error(`deleted resource ${target.kind} ${id} has no upstream deletion`);
  const event = await audit(ctx, target, resource, 'ALREADY_DELETED', {
    deletedAt,
    upstreamStatus: upstream.status,
    ...(upstream.kind !== resource.kind ? { deletedWith: { kind: upstream.kind, id: upstream.resourceId } } : {}),
  });
  return { kind: target.kind, resource, deletedAt, alreadyDeleted: true, upstream, auditEvent: event, cascade: { documents: 0, comments: 0 } };
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
