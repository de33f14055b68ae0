// Live status (PRODUCT.md "Live status"): subscriptions over GraphQL over SSE, served by yoga's own
// transport. Each stream follows the process's change feed (src/live/); the rules of `resource` apply:
// every role of the organisation, another organisation's resource reads as a missing one.
import { eventKey } from '../db/database.ts';
import { createLoaders } from '../catalog/loaders.ts';
import { effectiveUpstream } from '../deletion/pipeline.ts';
import { ID_PATTERN, type ResourceKind } from '../domain.ts';
import { resourceNotFound } from '../errors.ts';
import { follow } from '../live/stream.ts';
import type { UpstreamDeletionRow } from '../outbox/row.ts';
import { builder, principalOf } from './builder.ts';
import { UpstreamDeletion } from './deletion.ts';
import { ResourceKindEnum } from './enums.ts';

/** What UpstreamDeletion shows of a row: a lease taken or handed back alone is no change to a client. */
function shown(row: UpstreamDeletionRow): string {
  return JSON.stringify([
    row.kind,
    row.resourceId,
    row.status,
    row.attempts,
    row.lastHttpStatus,
    row.lastError,
    row.reason,
    row.status === 'PENDING' ? row.nextAttemptAt : null,
    row.completedAt,
    row.result,
  ]);
}

builder.subscriptionField('upstreamDeletionChanged', (t) =>
  t.field({
    type: UpstreamDeletion,
    description:
      "The provider deletion of a resource of your organisation, live: its current state first, then each change, whichever process records it; completes after DELETED or FAILED. Nothing is sent while the resource has no deletion yet. A document or comment deleted with its session (or document) follows that parent's deletion, as `Resource.upstream` does. Another organisation's resource, or none: a NOT_FOUND error, then the end. At most 100 open per API key (per gateway process); more: HTTP 429 RATE_LIMITED.",
    args: { kind: t.arg({ type: ResourceKindEnum, required: true }), id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      const kind = args.kind as ResourceKind;
      const id = String(args.id);
      const resource = ID_PATTERN.test(id) ? await ctx.loaders.resource.load({ kind, id }) : null;
      if (!resource || resource.organizationId !== principal.organizationId) throw resourceNotFound();
      // Its own row, or the row of the parent it may be deleted with: a change to either wakes it.
      const keys = [eventKey(kind, id)];
      if (resource.documentId) keys.push(eventKey('DOCUMENT', resource.documentId));
      if (resource.sessionId) keys.push(eventKey('SESSION', resource.sessionId));
      return follow(ctx.feed, {
        apiKeyId: principal.keyId,
        keys,
        // Fresh loaders each time: the request's own cache would keep the state it first read.
        read: () => effectiveUpstream(createLoaders(ctx.db), resource),
        fingerprint: shown,
        final: (row) => row.status === 'DELETED' || row.status === 'FAILED',
        signal: ctx.signal,
      });
    },
    resolve: (row) => row,
  }),
);
