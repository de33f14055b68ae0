// Per-request DataLoaders: catalog rows, outbox rows and deletion receipts, each batched into one
// statement per tick. A delete clears the keys it touched so later fields see the deleted state.
import DataLoader from 'dataloader';
import { and, asc, eq, inArray, or, type SQL } from 'drizzle-orm';
import type { CatalogResource, ResourceKind } from '../domain.ts';
import type { Db } from '../db/open.ts';
import { statementsOf } from '../db/statements.ts';
import { auditEvents, resources, upstreamDeletions, type AuditEventRow, type ResourceRow, type UpstreamDeletionRow } from '../db/schema.ts';

export interface ResourceKey {
  kind: ResourceKind;
  id: string;
}

const keyOf = (key: ResourceKey) => `${key.kind}\u0000${key.id}`;

export interface ReceiptKey extends ResourceKey {
  organizationId: string;
}

const receiptKeyOf = (key: ReceiptKey) => `${key.organizationId}\u0000${keyOf(key)}`;

export function decodeResource(row: ResourceRow): CatalogResource {
  return row as CatalogResource;
}

/** `(kind = ? AND id IN (…)) OR …`, one group per kind. */
function byKinds(keys: readonly ResourceKey[], kindColumn: typeof resources.kind, idColumn: typeof resources.id): SQL {
  const groups = new Map<ResourceKind, string[]>();
  for (const key of keys) groups.set(key.kind, [...(groups.get(key.kind) ?? []), key.id]);
  const clauses = [...groups].map(([kind, ids]) => and(eq(kindColumn, kind), inArray(idColumn, ids)) as SQL);
  return clauses.length === 1 ? clauses[0]! : (or(...clauses) as SQL);
}

export function createLoaders(db: Db) {
  const resource = new DataLoader<ResourceKey, CatalogResource | null, string>(
    async (keys) => {
      if (keys.length === 1) {
        // The common case (one delete, one resource): a prepared statement instead of a built one.
        const row = statementsOf(db).resource.get({ kind: keys[0]!.kind, id: keys[0]!.id });
        return [row ? decodeResource(row) : null];
      }
      const rows = db.select().from(resources).where(byKinds(keys, resources.kind, resources.id)).all();
      const found = new Map(rows.map((row) => [keyOf(row as ResourceKey), decodeResource(row)]));
      return keys.map((key) => found.get(keyOf(key)) ?? null);
    },
    { cacheKeyFn: keyOf },
  );
  const upstream = new DataLoader<ResourceKey, UpstreamDeletionRow | null, string>(
    async (keys) => {
      if (keys.length === 1) return [statementsOf(db).upstream.get({ kind: keys[0]!.kind, id: keys[0]!.id }) ?? null];
      const rows = db
        .select()
        .from(upstreamDeletions)
        .where(byKinds(keys, upstreamDeletions.kind as never, upstreamDeletions.resourceId as never))
        .all();
      const found = new Map(rows.map((row) => [keyOf({ kind: row.kind as ResourceKind, id: row.resourceId }), row]));
      return keys.map((key) => found.get(keyOf(key)) ?? null);
    },
    { cacheKeyFn: keyOf },
  );
  // A receipt is one organisation's events about one resource (another organisation's attempt on the
  // same id belongs to its own trail), read through the (organization_id, resource_id, seq) index.
  const receipt = new DataLoader<ReceiptKey, AuditEventRow[], string>(
    async (keys) => {
      const byOrganization = new Map<string, string[]>();
      for (const key of keys) byOrganization.set(key.organizationId, [...(byOrganization.get(key.organizationId) ?? []), key.id]);
      const clauses = [...byOrganization].map(([organizationId, ids]) =>
        and(eq(auditEvents.organizationId, organizationId), inArray(auditEvents.resourceId, [...new Set(ids)])),
      );
      const rows = db
        .select()
        .from(auditEvents)
        .where(clauses.length === 1 ? clauses[0] : or(...clauses))
        .orderBy(asc(auditEvents.seq))
        .all();
      const grouped = new Map<string, AuditEventRow[]>();
      for (const row of rows) {
        const k = receiptKeyOf({ kind: row.resourceKind as ResourceKind, id: row.resourceId ?? '', organizationId: row.organizationId ?? '' });
        grouped.set(k, [...(grouped.get(k) ?? []), row]);
      }
      return keys.map((key) => grouped.get(receiptKeyOf(key)) ?? []);
    },
    { cacheKeyFn: receiptKeyOf },
  );
  return {
    resource,
    upstream,
    receipt,
    /** Forget what a delete changed: the resource and its cascade, their outbox rows and receipts. */
    clear(keys: readonly ResourceKey[]): void {
      for (const key of keys) {
        resource.clear(key);
        upstream.clear(key);
      }
      receipt.clearAll();
    },
    clearAll(): void {
      resource.clearAll();
      upstream.clearAll();
      receipt.clearAll();
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
