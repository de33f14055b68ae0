// Relay connections written by hand (no relay plugin): one PageInfo for every list, an Edge and a
// Connection type per node, and opaque cursors. A cursor is base64url JSON naming the list and the
// caller's organisation next to the keyset position, so a cursor from another list or another
// organisation is refused instead of paging through someone else's rows. Lists page by keyset
// (WHERE key < cursor ORDER BY key LIMIT n+1), never OFFSET.
import type { ObjectRef } from '@pothos/core';
import { badUserInput } from '../errors.ts';
import { builder } from './builder.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageInfoShape {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Edge<Node> {
  cursor: string;
  node: Node;
}

export interface Page<Node> {
  edges: Edge<Node>[];
  pageInfo: PageInfoShape;
}

export const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  description: 'Where a page sits in its list. Pass `endCursor` as `after` for the next page.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage', { description: 'Always false: lists page forward only.' }),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

/** Declares `${name}Edge` and `${name}Connection` for a node type, e.g. connectionType('AuditEvent', AuditEvent). */
export function connectionType<Node>(name: string, node: ObjectRef<BuilderTypes, Node>): ObjectRef<BuilderTypes, Page<Node>> {
  const edge = builder.objectRef<Edge<Node>>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor', { description: 'Opaque; pass it as `after` to continue after this node.' }),
      // A generic Node defeats Pothos' resolver-shape inference; the ref pins the type anyway.
      node: t.field({ type: node, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<Page<Node>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (page) => page.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (page) => page.pageInfo }),
    }),
  });
}

/** `first` as asked, checked: 1–100, 20 when left out. */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`"first" must be between 1 and ${MAX_PAGE_SIZE}.`, 'first');
  }
  return first;
}

/** Which list and whose rows a cursor belongs to. */
export interface CursorScope {
  list: string;
  organizationId: string;
}

export type CursorKey = Record<string, string | number>;

export function encodeCursor(scope: CursorScope, key: CursorKey): string {
  return Buffer.from(JSON.stringify({ l: scope.list, o: scope.organizationId, k: key })).toString('base64url');
}

/**
 * The keyset position of `after`, or null for the first page. A cursor that is not one of ours, or
 * belongs to another list or organisation, is a VALIDATION_ERROR error: it never selects rows.
 */
export function decodeCursor<Key extends CursorKey>(
  after: string | null | undefined,
  scope: CursorScope,
  isKey: (key: Record<string, unknown>) => key is Key,
): Key | null {
  if (after === null || after === undefined) return null;
  const refuse = () => badUserInput('"after" is not a cursor of this list; start again without it.', 'after');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (typeof decoded !== 'object' || decoded === null) throw refuse();
  const { l, o, k } = decoded as Record<string, unknown>;
  if (l !== scope.list || o !== scope.organizationId || typeof k !== 'object' || k === null || Array.isArray(k)) throw refuse();
  if (!isKey(k as Record<string, unknown>)) throw refuse();
  return k as Key;
}

/** A page from rows fetched with LIMIT size + 1: the extra row only says there is a next page. */
export function pageOf<Row>(rows: readonly Row[], size: number, cursorOf: (row: Row) => string): Page<Row> {
  const edges = rows.slice(0, size).map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
