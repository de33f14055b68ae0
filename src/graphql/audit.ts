// The audit trail as the API shows it: AuditEvent, the `auditEvents` connection (every role, its own
// organisation only) and `auditTrailVerification` (admins; counts only). Checkpoints, proofs and
// receipts are in proofs.ts.
import type { AuditEventRow } from '../audit/event.ts';
import { listAuditEvents } from '../audit/list.ts';
import { verifyLogInBackground, type Verification } from '../audit/verify.ts';
import { adminOnly } from '../errors.ts';
import { builder, principalOf } from './builder.ts';
// catalog.ts imports AuditEvent from here too; Resource is only read inside field thunks, which
// Pothos runs when the schema is built, after both modules have loaded.
import { Resource } from './catalog.ts';
import { connectionType, decodeCursor, encodeCursor, pageOf, pageSize, type CursorScope } from './connection.ts';
import { AuditOutcomeEnum, ProviderEnum, ResourceKindEnum } from './enums.ts';
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';

// Declared before it is implemented, so its type does not depend on Resource's (and Resource's on it).
export const AuditEvent = builder.objectRef<AuditEventRow>('AuditEvent');

AuditEvent.implement({
  description:
    "One append-only row of the audit trail, in its organisation's log. `hash` = SHA-256 of `previousHash` and the canonical form of the fields (see the README), so any change, removal, insertion or reordering is detectable.",
  fields: (t) => ({
    id: t.exposeID('id'),
    logIndex: t.exposeInt('logIndex', {
      description: "Its position in its organisation's log (0, 1, 2 …): the leaf index in the log's Merkle tree.",
    }),
    at: t.field({ type: 'DateTime', resolve: (event) => event.at }),
    actor: t.exposeString('actor', { description: '`user:USER key:KEY_ID` for a request, `system:gateway` or `system:worker` for provider outcomes.' }),
    organizationId: t.exposeID('organizationId', { nullable: true }),
    action: t.exposeString('action', { description: 'e.g. transcription.delete, session.delete, upstream.delete.' }),
    resourceKind: t.field({ type: ResourceKindEnum, nullable: true, resolve: (event) => event.resourceKind as ResourceKind | null }),
    resourceId: t.exposeID('resourceId', { nullable: true }),
    provider: t.field({ type: ProviderEnum, nullable: true, resolve: (event) => event.provider as Provider | null }),
    outcome: t.field({ type: AuditOutcomeEnum, resolve: (event) => event.outcome as AuditOutcome }),
    requestId: t.exposeString('requestId', { nullable: true }),
    traceId: t.exposeString('traceId', { nullable: true }),
    upstreamHttpStatus: t.exposeInt('upstreamHttpStatus', { nullable: true }),
    details: t.field({ type: 'JSON', nullable: true, resolve: (event) => event.details }),
    previousHash: t.exposeString('previousHash', { nullable: true, description: "The hash of the previous event of the same organisation's log; null for its first." }),
    hash: t.exposeString('hash'),
    resource: t.field({
      type: Resource,
      nullable: true,
      description: 'The resource it is about, as the catalog has it now; null when none, or not in your organisation.',
      resolve: async (event, _args, ctx) => {
        const principal = principalOf(ctx);
        if (!event.resourceKind || !event.resourceId || event.organizationId !== principal.organizationId) return null;
        // Through the request's DataLoader: a page of events costs one catalog query, not one per event.
        const resource = await ctx.loaders.resource.load({ kind: event.resourceKind as ResourceKind, id: event.resourceId });
        return resource && resource.organizationId === principal.organizationId ? resource : null;
      },
    }),
  }),
});

const AuditEventConnection = connectionType('AuditEvent', AuditEvent);

function isPosition(key: Record<string, unknown>): key is { seq: number } {
  return typeof key.seq === 'number' && Number.isSafeInteger(key.seq) && key.seq > 0;
}

builder.queryField('auditEvents', (t) =>
  t.field({
    type: AuditEventConnection,
    description:
      "Your organisation's audit events, newest first (every role may read them). Pages are stable while new events arrive: `after` continues below the previous page.",
    args: {
      first: t.arg.int({ description: 'Page size, 1–100 (default 20).' }),
      after: t.arg.string({ description: 'The `endCursor` of the previous page.' }),
      resourceId: t.arg.id({ description: 'Only the events about this resource.' }),
      outcome: t.arg({ type: AuditOutcomeEnum, description: 'Only the events with this outcome.' }),
    },
    resolve: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      const size = pageSize(args.first);
      const scope: CursorScope = { list: 'auditEvents', organizationId: principal.organizationId };
      const after = decodeCursor(args.after, scope, isPosition);
      const rows = await ctx.db.read(listAuditEvents({
        organizationId: principal.organizationId,
        resourceId: args.resourceId === null || args.resourceId === undefined ? null : String(args.resourceId),
        outcome: (args.outcome as AuditOutcome | null | undefined) ?? null,
        beforeSeq: after?.seq ?? null,
        limit: size + 1,
      }));
      return pageOf(rows, size, (row) => encodeCursor(scope, { seq: row.seq }));
    },
  }),
);

const AuditTrailVerification = builder.objectRef<Verification>('AuditTrailVerification').implement({
  description:
    "Your organisation's log recomputed (chain, Merkle tree and signed checkpoints): counts of your own events and checkpoints and an event id only, nothing about any other organisation.",
  fields: (t) => ({
    valid: t.exposeBoolean('valid', {
      description:
        'Every event matches its hash and links to the one before it, none is missing, the stored Merkle tree matches the events, and every signed checkpoint matches the tree at its size.',
    }),
    eventsChecked: t.exposeInt('eventsChecked', { description: 'Events recomputed, up to and including the first that does not verify.' }),
    firstInvalidEventId: t.exposeID('firstInvalidEventId', {
      nullable: true,
      description:
        'The first event that does not verify; null when valid, when only the newest events are missing, or when the events no longer match a checkpoint signed earlier (the log was rewritten).',
    }),
    checkpointsChecked: t.exposeInt('checkpointsChecked', {
      description: "Signed checkpoints of your log whose root was compared with the tree recomputed at their size (the newest one's signature checked too).",
    }),
  }),
});

builder.queryField('auditTrailVerification', (t) =>
  t.field({
    type: AuditTrailVerification,
    description:
      "Admin: recompute your organisation's audit log (hash chain, Merkle tree, signed checkpoints), as `gateway audit verify` does for every log.",
    resolve: (_root, _args, ctx) => {
      const principal = principalOf(ctx);
      if (principal.role !== 'admin') throw adminOnly('auditTrailVerification');
      return verifyLogInBackground(ctx.db, principal.organizationId, ctx.signing.key.verifierKey);
    },
  }),
);
