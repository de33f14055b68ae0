// The enums of PRODUCT.md's GraphQL surface, from the domain's tables.
import { AUDIT_OUTCOMES, PROVIDERS, RESOURCE_KINDS, UPSTREAM_STATUSES } from '../domain.ts';
import { builder } from './builder.ts';

export const ProviderEnum = builder.enumType('Provider', { values: PROVIDERS });
export const ResourceKindEnum = builder.enumType('ResourceKind', { values: RESOURCE_KINDS });
export const UpstreamStatusEnum = builder.enumType('UpstreamStatus', {
  description: 'DELETED: the provider confirmed (or answered its own 404). PENDING: retried until it does. FAILED: retrying cannot help until an operator acts.',
  values: UPSTREAM_STATUSES,
});
export const RoleEnum = builder.enumType('Role', {
  values: { ADMIN: { value: 'admin' }, MEMBER: { value: 'member' }, VIEWER: { value: 'viewer' } } as const,
});
export const AuditOutcomeEnum = builder.enumType('AuditOutcome', { values: AUDIT_OUTCOMES });
