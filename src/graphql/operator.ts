// The operator surface of upstream deletions (admins of an organisation): list them, and re-queue
// one that failed once whatever made it fail (a revoked credential, a proxy) has been fixed.
import { ID_PATTERN, RESOURCE_KINDS, actorOf, type Provider, type ResourceKind, type UpstreamStatus } from '../domain.ts';
import { effectiveUpstream } from '../deletion/pipeline.ts';
import { adminOnly, isGatewayError, notFound, permissionDenied, validation, type ErrorScope } from '../errors.ts';
import { listUpstreamDeletions, positionOf, requeueUpstreamDeletion, type OutboxPosition } from '../outbox/list.ts';
import { builder, principalOf, type GraphQLContext } from './builder.ts';
import { connectionType, decodeCursor, encodeCursor, pageOf, pageSize, type CursorScope } from './connection.ts';
import { UpstreamDeletion } from './deletion.ts';
import { ProviderEnum, ResourceKindEnum, UpstreamStatusEnum } from './enums.ts';
import { ERROR_TYPES } from './errors.ts';

const UpstreamDeletionConnection = connectionType('UpstreamDeletion', UpstreamDeletion);

function isPosition(key: Record<string, unknown>): key is OutboxPosition & Record<string, string> {
  return (
    typeof key.createdAt === 'string' &&
    typeof key.kind === 'string' &&
    (RESOURCE_KINDS as readonly string[]).includes(key.kind) &&
    typeof key.resourceId === 'string'
  );
}

builder.queryField('upstreamDeletions', (t) =>
  t.field({
    type: UpstreamDeletionConnection,
    description: "Admin: your organisation's upstream deletions, newest first; filter by status (e.g. FAILED) and provider.",
    args: {
      status: t.arg({ type: UpstreamStatusEnum }),
      provider: t.arg({ type: ProviderEnum }),
      first: t.arg.int({ description: 'Page size, 1–100 (default 20).' }),
      after: t.arg.string({ description: 'The `endCursor` of the previous page.' }),
    },
    resolve: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      if (principal.role !== 'admin') throw adminOnly('upstreamDeletions');
      const size = pageSize(args.first);
      const scope: CursorScope = { list: 'upstreamDeletions', organizationId: principal.organizationId };
      const after = decodeCursor(args.after, scope, isPosition);
      const rows = await ctx.db.read(
        listUpstreamDeletions({
          organizationId: principal.organizationId,
          status: (args.status as UpstreamStatus | null | undefined) ?? null,
          provider: (args.provider as Provider | null | undefined) ?? null,
          after,
          limit: size + 1,
        }),
      );
      return pageOf(rows, size, (row) => encodeCursor(scope, { ...positionOf(row) }));
    },
  }),
);

const RetryUpstreamDeletionResult = builder.unionType('RetryUpstreamDeletionResult', {
  description: 'The re-queued UpstreamDeletion, or why not: NotFoundError, PermissionDeniedError, ValidationError (it is not FAILED).',
  types: [UpstreamDeletion, ...ERROR_TYPES],
  resolveType: (value) => (isGatewayError(value) ? value.__typename : 'UpstreamDeletion'),
});

async function retry(ctx: GraphQLContext, kind: ResourceKind, id: string) {
  const principal = principalOf(ctx);
  const scope: ErrorScope = { traceId: ctx.traceId, now: ctx.runtime.clock.now() };
  if (principal.role !== 'admin') {
    return permissionDenied(scope, `Only an admin may re-queue an upstream deletion; your role is ${principal.role}`, { kind, id });
  }
  if (!ID_PATTERN.test(id)) return validation(scope, 'id', '"id" may contain only A–Z, a–z, 0–9, _ and - (1–128 characters).', { id: id.slice(0, 160) });
  const resource = await ctx.loaders.resource.load({ kind, id });
  if (!resource || resource.organizationId !== principal.organizationId) return notFound(scope, `${kind.toLowerCase()} not found`, { kind, id });
  // A document or comment deleted with its session is carried by the session's row.
  const upstream = await effectiveUpstream(ctx.loaders, resource);
  if (!upstream) return validation(scope, 'id', `This ${kind.toLowerCase()} has not been deleted; there is no upstream deletion to retry.`, { kind, id });
  const requeued = await ctx.db.write(() =>
    requeueUpstreamDeletion(ctx.runtime, {
      kind: upstream.kind,
      resourceId: upstream.resourceId,
      actor: actorOf(principal),
      userId: principal.userId,
      requestId: ctx.requestId,
      traceId: ctx.traceId,
    }),
  );
  if (!requeued) {
    return validation(scope, 'id', `Only a FAILED upstream deletion can be retried; this one is ${upstream.status}.`, {
      kind,
      id,
      status: upstream.status,
    });
  }
  ctx.loaders.clearAll();
  return requeued.row;
}

builder.mutationField('retryUpstreamDeletion', (t) =>
  t.field({
    type: RetryUpstreamDeletionResult,
    description:
      'Admin: put a FAILED upstream deletion back in the queue with a full set of attempts, due now (audited as UPSTREAM_REQUEUED). For a document or comment deleted with its parent, the parent\'s deletion is retried.',
    args: { kind: t.arg({ type: ResourceKindEnum, required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => retry(ctx, args.kind as ResourceKind, String(args.id)) as never,
  }),
);
