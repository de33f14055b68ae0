// Audit events as the API shows them.
import type { AuditEventRow } from '../db/schema.ts';
import { builder } from './builder.ts';
import { AuditOutcomeEnum, ProviderEnum, ResourceKindEnum } from './enums.ts';
import type { AuditOutcome, Provider, ResourceKind } from '../domain.ts';

export const AuditEvent = builder.objectRef<AuditEventRow>('AuditEvent').implement({
  description:
    'One append-only row of the audit trail. `hash` = SHA-256 of `previousHash` and the canonical form of the fields (see the README), so any change, removal, insertion or reordering is detectable.',
  fields: (t) => ({
    id: t.exposeID('id'),
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
    previousHash: t.exposeString('previousHash', { nullable: true }),
    hash: t.exposeString('hash'),
  }),
});
