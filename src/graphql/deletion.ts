// What every delete mutation shares: the Deletion interface, the upstream state, the metadata,
// and `deleteMutation`, which turns a declaration (arguments → target, payload type) into a field.
import type { ObjectRef } from '@pothos/core';
import type { UpstreamDeletionRow } from '../outbox/row.ts';
import type { Provider, ResourceKind, UpstreamStatus } from '../domain.ts';
import { isGatewayError } from '../errors.ts';
import { deleteResources, type DeletionSuccess, type DeletionTarget } from '../deletion/pipeline.ts';
import { AuditEvent } from './audit.ts';
import { builder, deletionContext, type GraphQLContext } from './builder.ts';
import { ProviderEnum, ResourceKindEnum, UpstreamStatusEnum } from './enums.ts';
import { ERROR_TYPES } from './errors.ts';

export const UpstreamDeletion = builder.objectRef<UpstreamDeletionRow>('UpstreamDeletion').implement({
  description: "The provider-side deletion of a resource, tracked until the provider confirms or it is given up.",
  fields: (t) => ({
    kind: t.field({ type: ResourceKindEnum, resolve: (row) => row.kind as ResourceKind }),
    resourceId: t.exposeID('resourceId'),
    provider: t.field({ type: ProviderEnum, resolve: (row) => row.provider as Provider }),
    status: t.field({ type: UpstreamStatusEnum, resolve: (row) => row.status as UpstreamStatus }),
    attempts: t.exposeInt('attempts', { description: 'Provider calls started so far.' }),
    lastHttpStatus: t.exposeInt('lastHttpStatus', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    reason: t.exposeString('reason', {
      nullable: true,
      description:
        'Why it is in this state: ALREADY_ABSENT, PROVIDER_UPSTREAM_PENDING, JOB_IN_PROGRESS, PROVIDER_UNAVAILABLE, RATE_LIMITED, TIMEOUT, CONNECTION_ERROR, UNAUTHORIZED, FORBIDDEN, REJECTED, UNRECOGNIZED_RESPONSE, PROVIDER_REPORTED_ERROR (Daily answered 200 with a job reporting an error), INVALID_ID (a URL part was not an id: no call made), CIRCUIT_OPEN (the provider failed repeatedly: no call made, the worker delivers once it is back), MAX_ATTEMPTS_EXCEEDED …',
    }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (row) => (row.status === 'PENDING' ? row.nextAttemptAt : null),
    }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (row) => row.completedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (row) => row.createdAt }),
    providerRequestId: t.exposeString('providerRequestId', {
      nullable: true,
      description:
        "The provider's id of its last answer, to quote to its support: Aitronos' metadata.request_id (success) or error.trace_id (error); Daily's, Rev AI's and Scriptix's x-request-id response header. Null when the answer gave none (or no answer came).",
    }),
    providerErrorCode: t.exposeString('providerErrorCode', {
      nullable: true,
      description:
        "The provider's own error code in its last answer: Aitronos' error.code (e.g. INSUFFICIENT_PERMISSIONS), the last path segment of Rev AI's problem type (e.g. invalid-job-state), Daily's error (e.g. not-found). Null when it gave none.",
    }),
    providerResponse: t.field({
      type: 'JSON',
      nullable: true,
      description: "What the provider said that matters: Aitronos' deleted_upstream, a track's detail, Daily's job.",
      resolve: (row) => row.result,
    }),
  }),
});

export const ResponseMetadata = builder
  .objectRef<{ requestId: string; timestamp: Date; processingTimeMs: number }>('ResponseMetadata')
  .implement({
    fields: (t) => ({
      requestId: t.exposeString('requestId', { description: 'Also sent as the x-request-id response header.' }),
      timestamp: t.field({ type: 'DateTime', resolve: (m) => m.timestamp }),
      processingTimeMs: t.exposeInt('processingTimeMs'),
    }),
  });

export function metadataOf(ctx: GraphQLContext) {
  return {
    requestId: ctx.requestId,
    timestamp: ctx.runtime.clock.now(),
    processingTimeMs: Math.round(performance.now() - ctx.startedAt),
  };
}

export const DeletionInterface = builder.interfaceRef<DeletionSuccess>('Deletion').implement({
  description: 'A successful delete: deleted here at once; `upstream` tells where the provider stands.',
  fields: (t) => ({
    deleted: t.boolean({ resolve: () => true }),
    deletedAt: t.field({ type: 'DateTime', description: 'When it was first deleted (the original time on a replay).', resolve: (d) => d.deletedAt }),
    deletedUpstream: t.boolean({
      description: 'Exactly `upstream.status == DELETED`: the provider confirmed.',
      resolve: (d) => d.upstream.status === 'DELETED',
    }),
    alreadyDeleted: t.exposeBoolean('alreadyDeleted', { description: 'It was deleted before this request; no provider call was made.' }),
    upstream: t.field({ type: UpstreamDeletion, resolve: (d) => d.upstream }),
    auditEvent: t.field({
      type: AuditEvent,
      description: 'The event this request wrote; the provider outcomes follow it in Resource.deletionReceipt.',
      resolve: (d) => d.auditEvent,
    }),
    metadata: t.field({ type: ResponseMetadata, resolve: (_d, _a, ctx) => metadataOf(ctx) }),
  }),
});

export interface DeleteMutation<Args extends Record<string, string>, Payload> {
  /** The resource kind it deletes. */
  kind: ResourceKind;
  /** The mutation field, e.g. deleteTranscription. */
  field: string;
  /** The result union, e.g. DeleteTranscriptionResult. */
  result: string;
  description: string;
  /** Every argument is a required ID; described here in order. */
  args: { [K in keyof Args]: string };
  /** Which argument is the resource's own id (a DeleteTarget's `id`). */
  idArg: keyof Args & string;
  // Pothos refs are invariant in their schema types, so the payload ref is taken loosely here; the
  // union below still checks at build time that it is an object type implementing Deletion.
  payload: ObjectRef<any, Payload>;
  /** Which arguments the loaded row must match (a document must be in the named session …), else NotFound. */
  match?: (args: Args) => DeletionTarget['match'];
  /** Extra work on success (e.g. Daily's retained objects); defaults to the pipeline's answer. */
  shape?: (success: DeletionSuccess, ctx: GraphQLContext) => Payload | Promise<Payload>;
}

/** What deleteResources needs of each single mutation: its arguments, its target and its payload. */
export interface DeleteKind {
  field: string;
  argNames: string[];
  idArg: string;
  target: (args: Record<string, string>) => DeletionTarget;
  payloadName: string;
  // Loosely typed for the same reason as DeleteMutation.payload.
  payload: ObjectRef<any, unknown>;
  shape: (success: DeletionSuccess, ctx: GraphQLContext) => unknown;
}

/** The single delete mutation of each kind, as registered below (deleteResources judges each target as it). */
export const DELETE_KINDS = new Map<ResourceKind, DeleteKind>();

export function deleteMutation<Args extends Record<string, string>, Payload>(spec: DeleteMutation<Args, Payload>): void {
  const payloadName = spec.payload.name;
  const target = (args: Args): DeletionTarget => ({ kind: spec.kind, args, idArg: spec.idArg, ...(spec.match ? { match: spec.match(args) } : {}) });
  DELETE_KINDS.set(spec.kind, {
    field: spec.field,
    argNames: Object.keys(spec.args),
    idArg: spec.idArg,
    target: (args) => target(args as Args),
    payloadName,
    payload: spec.payload,
    shape: (success, ctx) => (spec.shape ? spec.shape(success, ctx) : success),
  });
  const union = builder.unionType(spec.result, {
    description: `${payloadName}, or why not: NotFoundError, PermissionDeniedError, ValidationError.`,
    types: [spec.payload, ...ERROR_TYPES],
    resolveType: (value) => (isGatewayError(value) ? value.__typename : payloadName),
  });
  builder.mutationField(spec.field, (t) =>
    t.field({
      type: union,
      description: spec.description,
      args: Object.fromEntries(
        Object.entries(spec.args).map(([name, description]) => [name, t.arg.id({ required: true, description })]),
      ) as never,
      resolve: (async (_root: unknown, rawArgs: Record<string, unknown>, ctx: GraphQLContext) => {
        const args = Object.fromEntries(Object.entries(rawArgs).map(([k, v]) => [k, String(v)])) as Args;
        const [result] = await deleteResources(deletionContext(ctx), [target(args)]);
        if (!result) throw new Error('the pipeline returned no result');
        if (isGatewayError(result)) return result;
        return spec.shape ? spec.shape(result, ctx) : result;
      }) as never,
    }),
  );
}
