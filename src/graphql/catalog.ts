// The catalog as the API shows it: Resource, resource(kind, id), registerResources, viewer.
import { ID_PATTERN, type CatalogResource, type Provider, type ResourceKind } from '../domain.ts';
import { effectiveUpstream } from '../deletion/pipeline.ts';
import { isGatewayError } from '../errors.ts';
import { registerResources, MAX_RESOURCES_PER_CALL } from '../catalog/register.ts';
import { AuditEvent } from './audit.ts';
import { builder, principalOf } from './builder.ts';
import { UpstreamDeletion } from './deletion.ts';
import { ProviderEnum, ResourceKindEnum, RoleEnum } from './enums.ts';
import { ERROR_TYPES } from './errors.ts';
import type { Principal } from '../domain.ts';
import type { AuditEventRow } from '../audit/event.ts';
import type { Loaders } from '../catalog/loaders.ts';

// Declared before it is implemented: AuditEvent (audit.ts) points back at Resource, and a type that
// depends on its own initializer through that cycle would widen to any.
export const Resource = builder.objectRef<CatalogResource>('Resource');

Resource.implement({
  description: 'A thing that lives at a provider, as the gateway knows it.',
  fields: (t) => ({
    kind: t.field({ type: ResourceKindEnum, resolve: (r) => r.kind }),
    id: t.exposeID('id'),
    provider: t.field({ type: ProviderEnum, resolve: (r) => r.provider as Provider }),
    organizationId: t.exposeID('organizationId'),
    ownerId: t.exposeID('ownerId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    documentId: t.exposeID('documentId', { nullable: true }),
    status: t.exposeString('status', { nullable: true }),
    attributes: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.attributes }),
    deletedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.deletedAt }),
    upstream: t.field({
      type: UpstreamDeletion,
      nullable: true,
      description: "The provider deletion that covers it (a cascaded document or comment shows its parent's).",
      resolve: (r, _args, ctx) => effectiveUpstream(ctx.loaders, r),
    }),
    deletionReceipt: t.field({
      type: [AuditEvent],
      description:
        'The audit events, with their hashes, that prove its deletion: the request, the local deletion and the provider outcomes, oldest first (for a document or comment deleted with its session or document, that parent\'s events too). Attach it to an erasure request; `gateway audit verify` proves the chain they sit in.',
      resolve: async (r, _args, ctx) => (await deletionEvidence(ctx.loaders, r)).events,
    }),
  }),
});

/**
 * The events that prove a resource's deletion, oldest first, and the resource whose deletion took it
 * when that is another (a document or comment deleted with its session or document), else null.
 * Another organisation's attempt on the same id is an event of its trail, never of this one.
 */
export async function deletionEvidence(loaders: Loaders, r: CatalogResource): Promise<{ events: AuditEventRow[]; deletedWith: { kind: ResourceKind; id: string } | null }> {
  const own = loaders.receipt.load({ kind: r.kind, id: r.id, organizationId: r.organizationId });
  // A document or comment deleted with its session is proven by the session's events (its DELETED
  // with the cascade counts, the provider's confirmation): they belong in its receipt.
  const carrier = await effectiveUpstream(loaders, r);
  if (!carrier || (carrier.kind === r.kind && carrier.resourceId === r.id)) return { events: await own, deletedWith: null };
  const deletedWith = { kind: carrier.kind as ResourceKind, id: carrier.resourceId };
  const [mine, carried] = await Promise.all([own, loaders.receipt.load({ ...deletedWith, organizationId: r.organizationId })]);
  return { events: [...carried, ...mine].sort((a, b) => a.seq - b.seq), deletedWith };
}

builder.queryField('resource', (t) =>
  t.field({
    type: Resource,
    nullable: true,
    description: 'A resource of your organisation; null when absent or in another organisation.',
    args: { kind: t.arg({ type: ResourceKindEnum, required: true }), id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      const id = String(args.id);
      if (!ID_PATTERN.test(id)) return null;
      const resource = await ctx.loaders.resource.load({ kind: args.kind as ResourceKind, id });
      return resource && resource.organizationId === principal.organizationId ? resource : null;
    },
  }),
);

const ResourceInput = builder.inputType('ResourceInput', {
  description: 'A resource to register (or update: owner, status, attributes). Same fields as a line of `gateway resources import`.',
  fields: (t) => ({
    kind: t.field({ type: ResourceKindEnum, required: true }),
    id: t.id({ required: true, description: 'The provider id (`trans_…`, `mtrack_…`, a Rev AI job id, a Scriptix id, a Daily UUID).' }),
    provider: t.field({ type: ProviderEnum, description: 'Required for TRANSCRIPTION (AITRONOS_AUDIO or REV_AI); implied for the other kinds.' }),
    organizationId: t.id({ required: true, description: 'Must be your organisation.' }),
    ownerId: t.id({ required: true, description: 'The user who created it (the creator, for tracks).' }),
    sessionId: t.id({ description: 'DOCUMENT and COMMENT: the Scriptix session.' }),
    documentId: t.id({ description: 'COMMENT: the Scriptix document.' }),
    status: t.string({ description: "The provider's status, e.g. in_progress for a Rev AI job." }),
    attributes: t.field({ type: 'JSON', description: "Provider attributes; for a BATCH_JOB, `output` in Daily's shape lists its output objects." }),
  }),
});

const RegisterResourcesPayload = builder.objectRef<{ registered: number }>('RegisterResourcesPayload').implement({
  fields: (t) => ({ registered: t.exposeInt('registered', { description: 'Resources inserted or updated.' }) }),
});

const RegisterResourcesResult = builder.unionType('RegisterResourcesResult', {
  types: [RegisterResourcesPayload, ...ERROR_TYPES],
  resolveType: (value) => (isGatewayError(value) ? value.__typename : 'RegisterResourcesPayload'),
});

builder.mutationField('registerResources', (t) =>
  t.field({
    type: RegisterResourcesResult,
    description: `Admin: add resources of your organisation to the catalog, or update them (upsert; at most ${MAX_RESOURCES_PER_CALL} a call; all or nothing).`,
    args: { resources: t.arg({ type: [ResourceInput], required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      const inputs = args.resources.map((r) => ({
        ...r,
        kind: r.kind as string,
        id: String(r.id),
        organizationId: String(r.organizationId),
        ownerId: String(r.ownerId),
        sessionId: r.sessionId === null || r.sessionId === undefined ? null : String(r.sessionId),
        documentId: r.documentId === null || r.documentId === undefined ? null : String(r.documentId),
      }));
      const result = await registerResources(ctx.db, ctx.runtime, { principal }, { traceId: ctx.traceId, now: ctx.runtime.clock.now() }, inputs);
      if (!isGatewayError(result)) ctx.loaders.clearAll();
      return result as never;
    },
  }),
);

const Viewer = builder.objectRef<Principal>('Viewer').implement({
  description: 'Who you are, as your API key says.',
  fields: (t) => ({
    principalId: t.id({ description: 'The API key id (never the key).', resolve: (p) => p.keyId }),
    organizationId: t.exposeID('organizationId'),
    userId: t.exposeID('userId'),
    role: t.field({ type: RoleEnum, resolve: (p) => p.role }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: Viewer, resolve: (_root, _args, ctx) => principalOf(ctx) }));

