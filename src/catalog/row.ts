// A catalog row as the code sees it (domain.ts CatalogResource), read back from either database.
import type { CatalogResource, ResourceKind } from '../domain.ts';
import { all, get, parseJson, placeholders, type Row, type Work } from '../db/sql.ts';

export const RESOURCE_COLUMNS = `kind, id, provider, organization_id AS "organizationId", owner_id AS "ownerId",
  session_id AS "sessionId", document_id AS "documentId", status, attributes, created_at AS "createdAt",
  updated_at AS "updatedAt", deleted_at AS "deletedAt", deleted_by AS "deletedBy"`;

export function decodeResource(row: Row): CatalogResource {
  return { ...(row as unknown as CatalogResource), attributes: parseJson(row.attributes) };
}

export function* resourceRow(kind: ResourceKind, id: string): Work<CatalogResource | null> {
  const row = yield* get(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND id = ?`, [kind, id]);
  return row ? decodeResource(row) : null;
}

/** Rows of one kind by id (one statement; the caller keeps lists within the parameter cap). */
export function* resourcesOfKind(kind: string, ids: readonly string[]): Work<CatalogResource[]> {
  const rows = yield* all(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND id IN (${placeholders(ids.length)})`, [kind, ...ids]);
  return rows.map(decodeResource);
}
