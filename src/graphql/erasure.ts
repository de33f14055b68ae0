// Data-subject erasure (PRODUCT.md "Erasing a person everywhere"): eraseSubject, the request with its
// derived status, items and receipt, the admin queries, and erasureRequestChanged. The work is in
// src/erasure/; this file declares the surface.
import { createLoaders } from '../catalog/loaders.ts';
import { eventKey } from '../db/database.ts';
import { all } from '../db/sql.ts';
import { ID_PATTERN, RESOURCE_KINDS, type UpstreamStatus } from '../domain.ts';
import { eraseSubject, MAX_REASON_LENGTH, type ErasurePreviewValue } from '../erasure/request.ts';
import { erasureItems, erasureReceipt, erasureState, listErasureRequests, stateOf, type ErasureItemRow, type ErasureState, type ErasureStatus, type ProviderCounts } from '../erasure/status.ts';
import type { ItemCounts } from '../erasure/completion.ts';
import { adminOnly, isGatewayError, resourceNotFound } from '../errors.ts';
import { follow } from '../live/stream.ts';
import { retainedObjectsOf, StoredObject } from './batch-job.ts';
import { builder, deletionContext, principalOf, type GraphQLContext } from './builder.ts';
import { DeletionPreviewRef } from './bulk.ts';
import { connectionType, decodeCursor, encodeCursor, pageOf, pageSize, type CursorScope } from './connection.ts';
import { UpstreamDeletion } from './deletion.ts';
import { ProviderEnum, ResourceKindEnum, UpstreamStatusEnum } from './enums.ts';
import { ERROR_TYPES } from './errors.ts';

const ERASURE_STATUSES = ['RUNNING', 'COMPLETED', 'COMPLETED_WITH_FAILURES'] as const;
const ErasureStatusEnum = builder.enumType('ErasureStatus', {
  description: 'RUNNING while any item is PENDING; COMPLETED when every item is DELETED; COMPLETED_WITH_FAILURES when none is pending and one or more FAILED.',
  values: ERASURE_STATUSES,
});

const EraseSubjectInput = builder.inputType('EraseSubjectInput', {
  fields: (t) => ({
    subjectId: t.id({ required: true, description: 'The end user (`ownerId` in the catalog) whose resources are erased.' }),
    reason: t.string({ description: `Free text kept in the request and its event (a ticket number, say); at most ${MAX_REASON_LENGTH} characters.` }),
    idempotencyKey: t.string({ description: '1–128 of [A-Za-z0-9_-]: the same key in your organisation returns the same request, nothing new written.' }),
    validateOnly: t.boolean({ defaultValue: false, description: 'Preview what would be deleted (ErasurePreview); nothing is written.' }),
  }),
});

const ErasureTotals = builder.objectRef<ItemCounts>('ErasureTotals').implement({
  description: '`resources` = `deleted` + `pending` + `failed`, by each item\'s upstream state; `alreadyDeleted` is the part of `resources` deleted before the request.',
  fields: (t) => ({
    resources: t.exposeInt('resources'),
    deleted: t.exposeInt('deleted'),
    pending: t.exposeInt('pending'),
    failed: t.exposeInt('failed'),
    alreadyDeleted: t.exposeInt('alreadyDeleted'),
  }),
});

const ProviderErasure = builder.objectRef<ProviderCounts>('ProviderErasure').implement({
  description: 'The items of one provider.',
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, resolve: (p) => p.provider }),
    status: t.field({ type: ErasureStatusEnum, resolve: (p) => p.status }),
    resources: t.exposeInt('resources'),
    deleted: t.exposeInt('deleted'),
    pending: t.exposeInt('pending'),
    failed: t.exposeInt('failed'),
  }),
});

const ErasureItem = builder.objectRef<ErasureItemRow>('ErasureItem').implement({
  description: "A resource of the request; `upstream` is the provider deletion that carries it (its own, or its session's or document's).",
  fields: (t) => ({
    kind: t.field({ type: ResourceKindEnum, resolve: (i) => i.kind }),
    resourceId: t.exposeID('resourceId'),
    provider: t.field({ type: ProviderEnum, resolve: (i) => i.provider }),
    alreadyDeleted: t.exposeBoolean('alreadyDeleted', { description: 'It was deleted before the request.' }),
    upstream: t.field({
      type: UpstreamDeletion,
      resolve: async (i, _args, ctx) => {
        const row = await ctx.loaders.upstream.load({ kind: i.carrierKind, id: i.carrierId });
        if (!row) throw new Error(`erasure item ${i.kind} ${i.resourceId} has no upstream deletion`);
        return row;
      },
    }),
  }),
});

const ErasureItemConnection = connectionType('ErasureItem', ErasureItem);
const ErasureRequest = builder.objectRef<ErasureState>('ErasureRequest');
const ErasureRequestConnection = connectionType('ErasureRequest', ErasureRequest);

function isItemKey(key: Record<string, unknown>): key is { kind: string; resourceId: string } {
  return typeof key.kind === 'string' && (RESOURCE_KINDS as readonly string[]).includes(key.kind) && typeof key.resourceId === 'string';
}

ErasureRequest.implement({
  description: 'A data-subject erasure request and how far it got: derived from its items\' upstream deletions.',
  fields: (t) => ({
    id: t.exposeID('id'),
    organizationId: t.exposeID('organizationId'),
    subjectId: t.exposeID('subjectId'),
    requestedBy: t.exposeString('requestedBy', { description: 'The actor (`user:USER key:KEY_ID`) who asked.' }),
    reason: t.exposeString('reason', { nullable: true }),
    requestedAt: t.field({ type: 'DateTime', resolve: (r) => r.requestedAt }),
    dueBy: t.field({ type: 'DateTime', description: 'requestedAt + 30 days (GDPR Art. 12(3)).', resolve: (r) => r.dueBy }),
    completedAt: t.field({ type: 'DateTime', nullable: true, description: 'When nothing was pending any more (null while RUNNING).', resolve: (r) => r.completedAt }),
    status: t.field({ type: ErasureStatusEnum, resolve: (r) => r.status }),
    totals: t.field({ type: ErasureTotals, resolve: (r) => r.totals }),
    providers: t.field({ type: [ProviderErasure], resolve: (r) => r.providers }),
    items: t.field({
      type: ErasureItemConnection,
      args: {
        first: t.arg.int({ description: 'Page size, 1–100 (default 20).' }),
        after: t.arg.string({ description: 'The `endCursor` of the previous page.' }),
        status: t.arg({ type: UpstreamStatusEnum, description: 'Only the items whose upstream deletion is in this state.' }),
      },
      resolve: async (r, args, ctx) => {
        const size = pageSize(args.first);
        const scope: CursorScope = { list: `erasureItems:${r.id}`, organizationId: r.organizationId };
        const after = decodeCursor(args.after, scope, isItemKey);
        const rows = await ctx.db.read(erasureItems(r.id, { status: (args.status as UpstreamStatus | null | undefined) ?? null, after, limit: size + 1 }));
        return pageOf(rows, size, (row) => encodeCursor(scope, { kind: row.kind, resourceId: row.resourceId }));
      },
    }),
    receipt: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The sdg-receipt/1 document (events, inclusion proofs, signed checkpoint, verifier key) once nothing is pending; null while RUNNING.',
      resolve: (r, _args, ctx) => erasureReceipt(ctx.db, ctx.signing, r, ctx.runtime.clock.now()),
    }),
  }),
});

const ErasurePreview = builder.objectRef<ErasurePreviewValue>('ErasurePreview').implement({
  description:
    'What an erasure would delete (validateOnly): nothing was written. `items` are the verdicts of the resources deleted on their own (the same as deleteResources(validateOnly) gives); documents and comments of the subject\'s sessions are counted in their session\'s preview. `resources` counts every resource.',
  fields: (t) => ({
    subjectId: t.exposeID('subjectId'),
    resources: t.exposeInt('resources'),
    items: t.field({ type: [DeletionPreviewRef], resolve: (p) => p.items.filter((item) => !isGatewayError(item)) as never }),
    retainedObjects: t.field({
      type: [StoredObject],
      description: "Batch jobs' output objects in a custom bucket: what would remain for you to delete.",
      resolve: (p, _args, ctx) =>
        p.items.flatMap((item) => (!isGatewayError(item) && item.kind === 'BATCH_JOB' ? retainedObjectsOf(item.resource.attributes?.output, ctx) : [])),
    }),
  }),
});

const EraseSubjectResult = builder.unionType('EraseSubjectResult', {
  types: [ErasureRequest, ErasurePreview, ...ERROR_TYPES],
  resolveType: (value) => {
    const typename = (value as { __typename?: string }).__typename;
    return typename ?? 'ErasureRequest';
  },
});

builder.mutationField('eraseSubject', (t) =>
  t.field({
    type: EraseSubjectResult,
    description:
      "Admin: erase everything of your organisation that one end user (`subjectId`, the catalog's ownerId) holds at every provider, on their behalf. One transaction writes the request, the deletions, their events and outbox rows; it answers at once (RUNNING, or COMPLETED when nothing is pending) and the worker delivers. At most 10,000 resources.",
    args: { input: t.arg({ type: EraseSubjectInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const result = await eraseSubject(deletionContext(ctx), {
        subjectId: String(args.input.subjectId),
        reason: args.input.reason ?? null,
        idempotencyKey: args.input.idempotencyKey ?? null,
        validateOnly: args.input.validateOnly ?? false,
      });
      if ('__typename' in result) return result as never;
      return (await ctx.db.read(stateOf(result))) as never;
    },
  }),
);

function requireAdmin(ctx: GraphQLContext, what: string) {
  const principal = principalOf(ctx);
  if (principal.role !== 'admin') throw adminOnly(what);
  return principal;
}

builder.queryField('erasureRequest', (t) =>
  t.field({
    type: ErasureRequest,
    nullable: true,
    description: "Admin: an erasure request of your organisation; null when absent or another organisation's.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = requireAdmin(ctx, 'erasureRequest');
      const id = String(args.id);
      return ID_PATTERN.test(id) ? ctx.db.read(erasureState(principal.organizationId, id)) : null;
    },
  }),
);

function isRequestKey(key: Record<string, unknown>): key is { requestedAt: string; id: string } {
  return typeof key.requestedAt === 'string' && typeof key.id === 'string';
}

builder.queryField('erasureRequests', (t) =>
  t.field({
    type: ErasureRequestConnection,
    description: "Admin: your organisation's erasure requests, newest first; filter by subject and status.",
    args: {
      subjectId: t.arg.id(),
      status: t.arg({ type: ErasureStatusEnum }),
      first: t.arg.int({ description: 'Page size, 1–100 (default 20).' }),
      after: t.arg.string({ description: 'The `endCursor` of the previous page.' }),
    },
    resolve: async (_root, args, ctx) => {
      const principal = requireAdmin(ctx, 'erasureRequests');
      const size = pageSize(args.first);
      const scope: CursorScope = { list: 'erasureRequests', organizationId: principal.organizationId };
      const after = decodeCursor(args.after, scope, isRequestKey);
      const rows = await ctx.db.read(
        listErasureRequests({
          organizationId: principal.organizationId,
          subjectId: args.subjectId === null || args.subjectId === undefined ? null : String(args.subjectId),
          status: (args.status as ErasureStatus | null | undefined) ?? null,
          after,
          limit: size + 1,
        }),
      );
      const states = await Promise.all(rows.map((row) => ctx.db.read(stateOf(row))));
      return pageOf(states, size, (row) => encodeCursor(scope, { requestedAt: row.requestedAt, id: row.id }));
    },
  }),
);

/** What a client sees change: the status, the counts and when it completed. */
function shown(state: ErasureState): string {
  return JSON.stringify([state.status, state.totals, state.providers, state.completedAt]);
}

builder.subscriptionField('erasureRequestChanged', (t) =>
  t.field({
    type: ErasureRequest,
    description:
      "Admin: an erasure request of your organisation, live: its current state first, then each change, whichever process records it; completes when nothing is PENDING. Another organisation's request, or none: NOT_FOUND; a member or viewer: INSUFFICIENT_PERMISSIONS.",
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const principal = requireAdmin(ctx, 'erasureRequestChanged');
      const id = String(args.id);
      const state = ID_PATTERN.test(id) ? await ctx.db.read(erasureState(principal.organizationId, id)) : null;
      if (!state) throw resourceNotFound();
      // Every change of the request is an event about one of its carriers (outcome, re-queue).
      const carriers = await ctx.db.read(
        all<{ kind: string; id: string }>('SELECT DISTINCT carrier_kind AS kind, carrier_id AS id FROM erasure_items WHERE request_id = ?', [id]),
      );
      return follow(ctx.feed, {
        apiKeyId: principal.keyId,
        keys: carriers.map((carrier) => eventKey(carrier.kind, carrier.id)),
        read: () => ctx.db.read(erasureState(principal.organizationId, id)),
        fingerprint: shown,
        final: (current) => current.status !== 'RUNNING',
        signal: ctx.signal,
      });
    },
    resolve: (state, _args, ctx) => {
      // Fields resolved per state: a fresh loader, not the subscription's first one.
      ctx.loaders = createLoaders(ctx.db);
      return state;
    },
  }),
);
