// The PostgreSQL schema (drizzle): the same tables and columns as ../sqlite/schema.ts (drizzle has no
// dialect-neutral schema; test/storage-schema.test.ts holds the two equal). Change both together and
// generate a migration for each (npm run db:generate).
// Types are the ones both dialects read the same way: text, integer, and bigint for the event
// sequence (read back as a JS number by the driver).
// Timestamps are ISO-8601 strings (UTC, milliseconds): sortable as text and hashed as text. JSON is
// stored as text too, so what is hashed is byte for byte what is stored.

import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    /** SHA-256 of the key; the key itself is never stored. */
    hash: text('hash').notNull(),
    /** The first characters, to recognise a key in `keys list` without revealing it. */
    prefix: text('prefix').notNull(),
    organizationId: text('organization_id').notNull(),
    userId: text('user_id').notNull(),
    role: text('role').notNull(),
    label: text('label'),
    createdAt: text('created_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.hash)],
);

export const resources = pgTable(
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
    attributes: text('attributes'),
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

export const upstreamDeletions = pgTable(
  'upstream_deletions',
  {
    kind: text('kind').notNull(),
    resourceId: text('resource_id').notNull(),
    provider: text('provider').notNull(),
    organizationId: text('organization_id').notNull(),
    status: text('status').notNull(),
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
    result: text('result'),
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

export const auditEvents = pgTable(
  'audit_events',
  {
    /** Insertion order across all logs: the keyset for pagination and change feeds. */
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The log the event belongs to: its organisation, or `_system`. */
    logId: text('log_id'),
    /** Position in its log: 0, 1, 2 … (the Merkle tree's leaf index). */
    logIndex: integer('log_index'),
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
    details: text('details'),
    previousHash: text('previous_hash'),
    hash: text('hash').notNull(),
  },
  (t) => [
    uniqueIndex('audit_events_id').on(t.id),
    index('audit_events_org_seq').on(t.organizationId, t.seq),
    index('audit_events_org_resource').on(t.organizationId, t.resourceId, t.seq),
    index('audit_events_org_outcome').on(t.organizationId, t.outcome, t.seq),
    uniqueIndex('audit_events_log_index').on(t.logId, t.logIndex),
    // Each log is linear: no two of its events may claim the same predecessor (nor two the genesis),
    // so an append that slipped past the head row's lock fails instead of forking the log.
    uniqueIndex('audit_events_log_link').on(t.logId, sql`coalesce(${t.previousHash}, '')`),
  ],
);

/** The head of each log: its size, last hash and Merkle frontier, locked by every append. */
export const auditLogs = pgTable('audit_logs', {
  logId: text('log_id').primaryKey(),
  size: integer('size').notNull(),
  headHash: text('head_hash'),
  /** JSON array of the hex hashes of the perfect subtrees that make up the tree of `size` leaves, left to right. */
  frontier: text('frontier').notNull(),
  updatedAt: text('updated_at').notNull(),
});

/** Hashes of the complete subtrees (level ≥ 1) of each log's Merkle tree: proofs read O(log n) of them. */
export const auditTreeNodes = pgTable(
  'audit_tree_nodes',
  {
    logId: text('log_id').notNull(),
    level: integer('level').notNull(),
    nodeIndex: integer('node_index').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [primaryKey({ columns: [t.logId, t.level, t.nodeIndex] })],
);


/**
 * Every checkpoint ever signed of each log: the C2SP signed note as given out, with its size and
 * root (hex) for queries. Append-only, like the events it vouches for.
 */
export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    logId: text('log_id').notNull(),
    treeSize: integer('tree_size').notNull(),
    rootHash: text('root_hash').notNull(),
    signedNote: text('signed_note').notNull(),
    signedAt: text('signed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.logId, t.treeSize] })],
);

/**
 * Data-subject erasure requests (PRODUCT.md "Erasing a person everywhere"). No counters: a request's
 * status is derived from its items' upstream rows; `completed_at` only marks that its end was audited
 * (ERASURE_COMPLETED), and is cleared when an operator re-queues one of its items.
 */
export const erasureRequests = pgTable(
  'erasure_requests',
  {
    id: text('id').primaryKey(),
    organizationId: text('organization_id').notNull(),
    subjectId: text('subject_id').notNull(),
    requestedBy: text('requested_by').notNull(),
    reason: text('reason'),
    idempotencyKey: text('idempotency_key'),
    requestedAt: text('requested_at').notNull(),
    completedAt: text('completed_at'),
  },
  (t) => [
    index('erasure_requests_org_requested').on(t.organizationId, t.requestedAt),
    uniqueIndex('erasure_requests_idempotency').on(t.organizationId, t.idempotencyKey),
  ],
);

/**
 * The resources of an erasure request: each with the outbox row that carries its provider deletion
 * (itself, or the session or document it went with), whose status is the item's.
 */
export const erasureItems = pgTable(
  'erasure_items',
  {
    requestId: text('request_id').notNull(),
    kind: text('kind').notNull(),
    resourceId: text('resource_id').notNull(),
    provider: text('provider').notNull(),
    carrierKind: text('carrier_kind').notNull(),
    carrierId: text('carrier_id').notNull(),
    /** 1 when the resource was deleted before the request (it then only reports its state). */
    alreadyDeleted: integer('already_deleted').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.kind, t.resourceId] }), index('erasure_items_carrier').on(t.carrierKind, t.carrierId)],
);
