// The hot path's SQL, built by drizzle and prepared once per database. Without this every delete
// rebuilt and recompiled about ten statements (a third of the gateway's CPU under load).
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from './open.ts';
import { apiKeys, auditEvents, resources, upstreamDeletions } from './schema.ts';

const p = (name: string) => sql.placeholder(name);
/** A placeholder where drizzle's types want a value (UPDATE … SET): no column encoder runs on it. */
const v = (name: string) => sql`${sql.placeholder(name)}`;

function build(db: Db) {
  const resourceKey = and(eq(resources.kind, p('kind')), eq(resources.id, p('id')));
  const upstreamKey = and(eq(upstreamDeletions.kind, p('kind')), eq(upstreamDeletions.resourceId, p('id')));
  const marked = { deletedAt: v('at'), deletedBy: v('by'), updatedAt: v('at') };
  return {
    activeKeyByHash: db.select().from(apiKeys).where(and(eq(apiKeys.hash, p('hash')), isNull(apiKeys.revokedAt))).prepare(),
    resource: db.select().from(resources).where(resourceKey).prepare(),
    upstream: db.select().from(upstreamDeletions).where(upstreamKey).prepare(),
    markDeleted: db.update(resources).set(marked).where(and(resourceKey, isNull(resources.deletedAt))).prepare(),
    markSessionChildren: db
      .update(resources)
      .set(marked)
      .where(and(eq(resources.kind, p('kind')), eq(resources.sessionId, p('sessionId')), isNull(resources.deletedAt)))
      .prepare(),
    markDocumentComments: db
      .update(resources)
      .set(marked)
      .where(and(eq(resources.kind, 'COMMENT'), eq(resources.documentId, p('documentId')), isNull(resources.deletedAt)))
      .prepare(),
    insertOutbox: db
      .insert(upstreamDeletions)
      .values({
        kind: p('kind'),
        resourceId: p('id'),
        provider: p('provider'),
        organizationId: p('organizationId'),
        status: 'PENDING',
        attempts: 1,
        nextAttemptAt: p('at'),
        leaseOwner: p('leaseOwner'),
        leaseUntil: p('leaseUntil'),
        requestId: p('requestId'),
        createdAt: p('at'),
        updatedAt: p('at'),
      })
      .returning()
      .prepare(),
    /** The whole mutable state of an outbox row, written at once by the recorder. */
    recordOutbox: db
      .update(upstreamDeletions)
      .set({
        status: v('status'),
        attempts: v('attempts'),
        inProgressAttempts: v('inProgressAttempts'),
        nextAttemptAt: v('nextAttemptAt'),
        leaseOwner: null,
        leaseUntil: null,
        lastHttpStatus: v('lastHttpStatus'),
        lastError: v('lastError'),
        reason: v('reason'),
        /** JSON text: the caller encodes it (no column encoder runs on a SET placeholder). */
        result: v('result'),
        providerRequestId: v('providerRequestId'),
        providerErrorCode: v('providerErrorCode'),
        updatedAt: v('updatedAt'),
        completedAt: v('completedAt'),
      })
      .where(upstreamKey)
      .returning()
      .prepare(),
    lastAuditHash: db.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1).prepare(),
    insertAudit: db
      .insert(auditEvents)
      .values({
        id: p('id'),
        at: p('at'),
        actor: p('actor'),
        organizationId: p('organizationId'),
        action: p('action'),
        resourceKind: p('resourceKind'),
        resourceId: p('resourceId'),
        provider: p('provider'),
        outcome: p('outcome'),
        requestId: p('requestId'),
        traceId: p('traceId'),
        upstreamHttpStatus: p('upstreamHttpStatus'),
        details: p('details'),
        previousHash: p('previousHash'),
        hash: p('hash'),
      })
      .prepare(),
  };
}

export type Statements = ReturnType<typeof build>;

const prepared = new WeakMap<object, Statements>();

/** The prepared statements of a database (they run inside whatever transaction is open on it). */
export function statementsOf(db: Db): Statements {
  let statements = prepared.get(db.$client);
  if (!statements) {
    statements = build(db);
    prepared.set(db.$client, statements);
  }
  return statements;
}
