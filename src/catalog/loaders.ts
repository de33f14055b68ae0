// Per-request DataLoaders: catalog rows, outbox rows and deletion receipts, each batched into one
// statement per tick. A delete clears the keys it touched so later fields see the deleted state.
import DataLoader from 'dataloader';
import type { CatalogResource, ResourceKind } from '../domain.ts';
import type { Database } from '../db/database.ts';
import { all, chunks, placeholders, type Work } from '../db/sql.ts';
import { AUDIT_COLUMNS, decodeAuditEvent, type AuditEventRow } from '../audit/event.ts';
import { OUTBOX_COLUMNS, decodeOutbox, type UpstreamDeletionRow } from '../outbox/row.ts';
import { RESOURCE_COLUMNS, decodeResource } from './row.ts';

export interface ResourceKey {
  kind: ResourceKind;
  id: string;
}

const keyOf = (key: { kind: string; id: string }) => `${key.kind}\u0000${key.id}`;

export interface ReceiptKey extends ResourceKey {
  organizationId: string;
}

const receiptKeyOf = (key: ReceiptKey) => `${key.organizationId}\u0000${keyOf(key)}`;

/** `(kind = ? AND <id> IN (…)) OR …`, one group per kind: one statement for a batch of keys. */
function byKinds(keys: readonly ResourceKey[], idColumn: string): { where: string; params: string[] } {
  const groups = new Map<ResourceKind, string[]>();
  for (const key of keys) groups.set(key.kind, [...(groups.get(key.kind) ?? []), key.id]);
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [kind, ids] of groups) {
    clauses.push(`(kind = ? AND ${idColumn} IN (${placeholders(ids.length)}))`);
    params.push(kind, ...ids);
  }
  return { where: clauses.join(' OR '), params };
}

function* rowsByKeys<T>(table: string, columns: string, idColumn: string, keys: readonly ResourceKey[], decode: (row: Record<string, unknown>) => T): Work<T[]> {
  const out: T[] = [];
  for (const part of chunks(keys)) {
    const { where, params } = byKinds(part, idColumn);
    for (const row of yield* all(`SELECT ${columns} FROM ${table} WHERE ${where}`, params)) out.push(decode(row));
  }
  return out;
}

export function createLoaders(db: Database) {
  const resource = new DataLoader<ResourceKey, CatalogResource | null, string>(
    async (keys) => {
      const found = new Map((await db.read(rowsByKeys('resources', RESOURCE_COLUMNS, 'id', keys, decodeResource))).map((r) => [keyOf(r), r]));
      return keys.map((key) => found.get(keyOf(key)) ?? null);
    },
    { cacheKeyFn: keyOf },
  );
  const upstream = new DataLoader<ResourceKey, UpstreamDeletionRow | null, string>(
    async (keys) => {
      const rows = await db.read(rowsByKeys('upstream_deletions', OUTBOX_COLUMNS, 'resource_id', keys, decodeOutbox));
      const found = new Map(rows.map((row) => [keyOf({ kind: row.kind, id: row.resourceId }), row]));
      return keys.map((key) => found.get(keyOf(key)) ?? null);
    },
    { cacheKeyFn: keyOf },
  );
  // A receipt is one organisation's events about one resource (another organisation's attempt on the
  // same id belongs to its own trail), read through the (organization_id, resource_id, seq) index.
  const receipt = new DataLoader<ReceiptKey, AuditEventRow[], string>(
    async (keys) => {
      const byOrganization = new Map<string, Set<string>>();
      for (const key of keys) byOrganization.set(key.organizationId, (byOrganization.get(key.organizationId) ?? new Set()).add(key.id));
      const clauses: string[] = [];
      const params: string[] = [];
      for (const [organizationId, ids] of byOrganization) {
        clauses.push(`(organization_id = ? AND resource_id IN (${placeholders(ids.size)}))`);
        params.push(organizationId, ...ids);
      }
      const rows = await db.read(all(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${clauses.join(' OR ')} ORDER BY seq`, params));
      const grouped = new Map<string, AuditEventRow[]>();
      for (const raw of rows) {
        const row = decodeAuditEvent(raw);
        const k = receiptKeyOf({ kind: row.resourceKind as ResourceKind, id: row.resourceId ?? '', organizationId: row.organizationId ?? '' });
        grouped.set(k, [...(grouped.get(k) ?? []), row]);
      }
      return keys.map((key) => grouped.get(receiptKeyOf(key)) ?? []);
    },
    { cacheKeyFn: receiptKeyOf, maxBatchSize: 400 },
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
