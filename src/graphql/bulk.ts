// deleteResources: many deletes in one call, each judged and answered exactly as its single mutation
// would be (the pipeline already takes a list of targets), and dry runs (validateOnly) that write
// nothing. A target names the same arguments as its single mutation: `id` is the resource's own id,
// `sessionId`/`documentId` place a document or comment, `organizationId` a track.
import type { Provider, ResourceKind } from '../domain.ts';
import { RESOURCE_KINDS } from '../domain.ts';
import { deleteResources, previewDeletions, type DeletionPreview, type DeletionTarget } from '../deletion/pipeline.ts';
import { isGatewayError, validation, type ErrorScope, type GatewayError } from '../errors.ts';
import { retainedObjectsOf, StoredObject } from './batch-job.ts';
import { builder, deletionContext, type GraphQLContext } from './builder.ts';
import { DELETE_KINDS } from './deletion.ts';
import { ProviderEnum, ResourceKindEnum } from './enums.ts';
import { ERROR_TYPES, ValidationError as ValidationErrorRef } from './errors.ts';

export const MAX_TARGETS = 1000;

/** The arguments a target may carry besides its kind and id. */
const PLACING = ['sessionId', 'documentId', 'organizationId'] as const;

interface TargetInput {
  kind: ResourceKind;
  id: string;
  sessionId?: string | null;
  documentId?: string | null;
  organizationId?: string | null;
}

const DeleteTarget = builder.inputType('DeleteTarget', {
  description:
    'One resource to delete, named as its single mutation names it: `id` is its own id; a DOCUMENT needs `sessionId`, a COMMENT `sessionId` and `documentId`, a TRACK `organizationId` (yours).',
  fields: (t) => ({
    kind: t.field({ type: ResourceKindEnum, required: true }),
    id: t.id({ required: true, description: "The resource's own id (a transcription, session, document, comment, track or batch job id)." }),
    sessionId: t.id({ description: 'DOCUMENT and COMMENT: the session it is in.' }),
    documentId: t.id({ description: 'COMMENT: the document it is on.' }),
    organizationId: t.id({ description: 'TRACK: your organisation, which the track belongs to.' }),
  }),
});

export const DeletionPreviewRef = builder.objectRef<DeletionPreview>('DeletionPreview').implement({
  description: 'What deleting a resource would do (validateOnly): nothing was written, no event, no provider call.',
  fields: (t) => ({
    kind: t.field({ type: ResourceKindEnum, resolve: (p) => p.kind }),
    id: t.exposeID('id'),
    provider: t.field({ type: ProviderEnum, resolve: (p) => p.provider as Provider }),
    alreadyDeleted: t.exposeBoolean('alreadyDeleted', { description: 'It is deleted already (before this call, or by an earlier target of it).' }),
    documentsDeleted: t.exposeInt('documentsDeleted', { description: 'Documents the delete would mark with it (not deleted yet).' }),
    commentsDeleted: t.exposeInt('commentsDeleted', { description: 'Comments the delete would mark with it (not deleted yet).' }),
    retainedObjects: t.field({
      type: [StoredObject],
      description: "A batch job's output objects in a custom bucket (DAILY_CUSTOM_BUCKETS), from its registered `attributes.output`: what would remain for you to delete.",
      resolve: (p, _args, ctx) => (p.kind === 'BATCH_JOB' ? retainedObjectsOf(p.resource.attributes?.output, ctx) : []),
    }),
  }),
});

// Defined after every single delete mutation registered its payload (schema.ts imports this file last).
const payloads = RESOURCE_KINDS.map((kind) => DELETE_KINDS.get(kind)!.payload);

const DeleteResourceResult = builder.unionType('DeleteResourceResult', {
  description: 'What the single mutation of the target would answer, or (validateOnly) its DeletionPreview.',
  types: [...payloads, DeletionPreviewRef, ...ERROR_TYPES],
  resolveType: (parent) => {
    const value = parent as { __typename?: string; kind: ResourceKind };
    if (isGatewayError(value) || value.__typename === 'DeletionPreview') return value.__typename!;
    return DELETE_KINDS.get(value.kind)!.payloadName;
  },
});

interface Payload {
  results: unknown[];
  validateOnly: boolean;
  deleted: number;
  alreadyDeleted: number;
  rejected: number;
}

const DeleteResourcesPayload = builder.objectRef<Payload>('DeleteResourcesPayload').implement({
  description: 'One result per target, in the order of `targets`, and the counts of what happened (or would, with validateOnly).',
  fields: (t) => ({
    results: t.field({ type: [DeleteResourceResult], resolve: (p) => p.results as never }),
    validateOnly: t.exposeBoolean('validateOnly'),
    deleted: t.exposeInt('deleted', { description: 'Targets deleted by this call (would be, with validateOnly).' }),
    alreadyDeleted: t.exposeInt('alreadyDeleted', { description: 'Targets that were deleted before (or by an earlier target of this call).' }),
    rejected: t.exposeInt('rejected', { description: 'Targets answered with an error.' }),
  }),
});

const DeleteResourcesResult = builder.unionType('DeleteResourcesResult', {
  description: 'DeleteResourcesPayload, or ValidationError (field "targets") when the call has no target or more than 1000.',
  types: [DeleteResourcesPayload, ValidationErrorRef],
  resolveType: (value) => (isGatewayError(value) ? value.__typename : 'DeleteResourcesPayload'),
});

/** A target as its single mutation's arguments, or why it cannot be one (no write, no event: it never reached the pipeline). */
function asTarget(input: TargetInput, index: number, scope: ErrorScope): DeletionTarget | GatewayError {
  const kind = DELETE_KINDS.get(input.kind)!;
  const args: Record<string, string> = {};
  for (const name of kind.argNames) {
    const value = name === kind.idArg ? input.id : input[name as (typeof PLACING)[number]];
    if (value === null || value === undefined) {
      return validation(scope, name, `targets[${index}].${name} is required for a ${input.kind} target.`, { index });
    }
    args[name] = String(value);
  }
  for (const name of PLACING) {
    if (input[name] !== null && input[name] !== undefined && !kind.argNames.includes(name)) {
      return validation(scope, name, `targets[${index}].${name} is not an argument of a ${input.kind} delete (${kind.field}).`, { index });
    }
  }
  return kind.target(args);
}

async function resolveDeleteResources(ctx: GraphQLContext, inputs: readonly TargetInput[], validateOnly: boolean): Promise<Payload | GatewayError> {
  const deletion = deletionContext(ctx);
  const scope: ErrorScope = { traceId: ctx.traceId, now: ctx.runtime.clock.now() };
  if (inputs.length === 0 || inputs.length > MAX_TARGETS) {
    return validation(scope, 'targets', `Give 1 to ${MAX_TARGETS} targets, got ${inputs.length}.`, { count: inputs.length });
  }
  const prepared = inputs.map((input, index) => asTarget(input, index, scope));
  const targets = prepared.filter((item): item is DeletionTarget => !isGatewayError(item));
  const answers = validateOnly ? await previewDeletions(deletion, targets) : await deleteResources(deletion, targets);
  let next = 0;
  const results: unknown[] = [];
  for (const item of prepared) {
    if (isGatewayError(item)) {
      results.push(item);
      continue;
    }
    const answer = answers[next++]!;
    if ('__typename' in answer) results.push(answer); // an error, or a DeletionPreview
    else results.push(await DELETE_KINDS.get(answer.kind)!.shape(answer, ctx));
  }
  const counted = results as { __typename?: string; alreadyDeleted?: boolean }[];
  return {
    results,
    validateOnly,
    deleted: counted.filter((r) => !isGatewayError(r) && r.alreadyDeleted === false).length,
    alreadyDeleted: counted.filter((r) => !isGatewayError(r) && r.alreadyDeleted === true).length,
    rejected: counted.filter((r) => isGatewayError(r)).length,
  };
}

builder.mutationField('deleteResources', (t) =>
  t.field({
    type: DeleteResourcesResult,
    description:
      "Delete up to 1000 resources in one call, each judged and answered exactly as its single mutation would be (one bad target changes nothing for the others; the same resource twice is deleted once). Each target counts against your rate limit. Answers within UPSTREAM_TIMEOUT_MS plus one second: what the provider has not confirmed by then is PENDING and the worker delivers it. validateOnly: each target's verdict or DeletionPreview, and nothing is written.",
    args: {
      targets: t.arg({ type: [DeleteTarget], required: true }),
      validateOnly: t.arg.boolean({ defaultValue: false, description: 'Judge every target and preview the deletes; write nothing, call no provider.' }),
    },
    resolve: (_root, args, ctx) =>
      resolveDeleteResources(
        ctx,
        args.targets.map((target) => ({ ...target, id: String(target.id) }) as TargetInput),
        args.validateOnly ?? false,
      ) as never,
  }),
);
