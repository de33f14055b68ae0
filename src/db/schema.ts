// The drizzle schema: API keys, the resource catalog, the upstream-deletion outbox and the audit trail.
// Timestamps are ISO-8601 strings (UTC, milliseconds): sortable as text and hashed as text.

import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    /** SHA-256 of the key; the key itself is never stored. */
    hash: text('hash').notNull(),
    /** The first characters, to recognise a key in `keys list` without revealing it. */
    prefix: text('prefix').notNull(),
    organizationId: text('organization_id').notNull(),
    userId: text('user_id').notNull(),
    role: text('role', { enum: ['admin', 'member', 'viewer'] }).notNull(),
    label: text('label'),
    createdAt: text('created_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.hash)],
);

export const resources = sqliteTable(
  'resources',
  {
    kind: text('kind').notNull(),
    id: text('id').notNull(),
    provider: text('provider').notNull(),
    organizationId: text('organization_id').notNull(),
    ownerId: text('owner_id').notNull(),
    sessionId: text('session_id'),
    documentId: text('document_id'),
    status: text('status'),
    attributes: text('attributes', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    deletedAt: text('deleted_at'),
    deletedBy: text('deleted_by'),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.id] }),
    index('resources_org_owner').on(t.organizationId, t.ownerId),
    index('resources_session').on(t.sessionId),
    index('resources_document').on(t.documentId),
  ],
);

export const upstreamDeletions = sqliteTable(
  'upstream_deletions',
  {
    kind: text('kind').notNull(),
    resourceId: text('resource_id').notNull(),
    provider: text('provider').notNull(),
    organizationId: text('organization_id').notNull(),
    status: text('status', { enum: ['PENDING', 'DELETED', 'FAILED'] }).notNull(),
    /** Provider calls started (counted when a row is claimed, not when an outcome is recorded). */
    attempts: integer('attempts').notNull().default(0),
    /** Of those, calls answered "job still in progress" (Rev AI): they do not count toward giving up. */
    inProgressAttempts: integer('in_progress_attempts').notNull().default(0),
    nextAttemptAt: text('next_attempt_at'),
    leaseOwner: text('lease_owner'),
    leaseUntil: text('lease_until'),
    lastHttpStatus: integer('last_http_status'),
    lastError: text('last_error'),
    reason: text('reason'),
    /** What the provider said that matters (Aitronos' deleted_upstream, Daily's job body, a track's detail). */
    result: text('result', { mode: 'json' }).$type<Record<string, unknown>>(),
    /** The provider's id of its last answer (Aitronos request_id / trace_id, an x-request-id header). */
    providerRequestId: text('provider_request_id'),
    /** The provider's own error code in its last answer (Aitronos error.code, Rev AI problem type, Daily error). */
    providerErrorCode: text('provider_error_code'),
    requestId: text('request_id'),
    createdAt: text('created_at').notNull(),
    /** When the current round of attempts began: createdAt, or the last operator re-queue. */
    queuedAt: text('queued_at'),
    updatedAt: text('updated_at').notNull(),
    completedAt: text('completed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.resourceId] }),
    index('upstream_due').on(t.status, t.provider, t.nextAttemptAt),
    index('upstream_org_status').on(t.organizationId, t.status, t.createdAt),
  ],
);

export const auditEvents = sqliteTable(
  'audit_events',
  {
    /** Position in the one hash chain; also the keyset for pagination. */
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull(),
    at: text('at').notNull(),
    actor: text('actor').notNull(),
    organizationId: text('organization_id'),
    action: text('action').notNull(),
    resourceKind: text('resource_kind'),
    resourceId: text('resource_id'),
    provider: text('provider'),
    outcome: text('outcome').notNull(),
    requestId: text('request_id'),
    traceId: text('trace_id'),
    upstreamHttpStatus: integer('upstream_http_status'),
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>(),
    previousHash: text('previous_hash'),
    hash: text('hash').notNull(),
  },
  (t) => [
    uniqueIndex('audit_events_id').on(t.id),
    index('audit_events_org_seq').on(t.organizationId, t.seq),
    index('audit_events_org_resource').on(t.organizationId, t.resourceId, t.seq),
    index('audit_events_org_outcome').on(t.organizationId, t.outcome, t.seq),
    // The chain is linear: no two events may claim the same predecessor (nor two the genesis), so an
    // append outside a write-locked transaction fails instead of forking the chain.
    uniqueIndex('audit_events_chain_link').on(sql`coalesce(${t.previousHash}, '')`),
  ],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ResourceRow = typeof resources.$inferSelect;
export type UpstreamDeletionRow = typeof upstreamDeletions.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;

