// Registering resources in the catalog (registerResources and `gateway resources import`): validated
// as a whole, then upserted in one transaction, so a bad batch changes nothing.
import {
  ID_PATTERN,
  KIND_PARENTS,
  KIND_PROVIDERS,
  PROVIDERS,
  PROVIDER_ID_PREFIX,
  RESOURCE_KINDS,
  type Principal,
  type Provider,
  type ResourceKind,
} from '../domain.ts';
import type { Database } from '../db/database.ts';
import { chunks, jsonText, run, type Work } from '../db/sql.ts';
import { permissionDenied, validation, type ErrorScope, type GatewayError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { resourcesOfKind } from './row.ts';
import type { CatalogResource } from '../domain.ts';

export const MAX_RESOURCES_PER_CALL = 1000;
const MAX_ATTRIBUTES_BYTES = 64 * 1024;
const OWNER_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;

export interface ResourceInputValue {
  kind: string;
  id: string;
  provider?: string | null;
  organizationId: string;
  ownerId: string;
  sessionId?: string | null;
  documentId?: string | null;
  status?: string | null;
  attributes?: unknown;
}

/** Who registers: an admin principal (own organisation only) or the operator's CLI (any). */
export type Registrar = { principal: Principal } | { operator: true };

interface Checked {
  kind: ResourceKind;
  id: string;
  provider: Provider;
  organizationId: string;
  ownerId: string;
  sessionId: string | null;
  documentId: string | null;
  status: string | null;
  attributes: Record<string, unknown> | null;
}

const keyOf = (kind: string, id: string) => `${kind}\u0000${id}`;

function checkShape(input: ResourceInputValue, index: number, scope: ErrorScope, registrar: Registrar): Checked | GatewayError {
  const at = { index };
  const fail = (field: string, message: string) => validation(scope, field, `resources[${index}].${field}: ${message}`, at);
  if (!RESOURCE_KINDS.includes(input.kind as ResourceKind)) return fail('kind', `must be one of ${RESOURCE_KINDS.join(', ')}`);
  const kind = input.kind as ResourceKind;
  if (typeof input.id !== 'string' || !ID_PATTERN.test(input.id)) return fail('id', 'must be 1–128 characters of A–Z, a–z, 0–9, _ and -');
  if (typeof input.organizationId !== 'string' || !ID_PATTERN.test(input.organizationId)) {
    return fail('organizationId', 'must be 1–128 characters of A–Z, a–z, 0–9, _ and -');
  }
  if ('principal' in registrar && input.organizationId !== registrar.principal.organizationId) {
    return permissionDenied(scope, 'You can only register resources in your own organisation', at);
  }
  if (typeof input.ownerId !== 'string' || !OWNER_PATTERN.test(input.ownerId)) {
    return fail('ownerId', 'must be 1–128 characters of A–Z, a–z, 0–9 and _ . @ : -');
  }
  const allowed = KIND_PROVIDERS[kind];
  let provider: Provider;
  if (input.provider === undefined || input.provider === null) {
    if (allowed.length !== 1) return fail('provider', `is required for ${kind} (one of ${allowed.join(', ')})`);
    provider = allowed[0]!;
  } else {
    if (!PROVIDERS.includes(input.provider as Provider) || !allowed.includes(input.provider as Provider)) {
      return fail('provider', `${kind} is held by ${allowed.join(' or ')}, not ${String(input.provider)}`);
    }
    provider = input.provider as Provider;
  }
  const prefix = PROVIDER_ID_PREFIX[provider];
  if (prefix && !input.id.startsWith(prefix)) return fail('id', `${provider} ids start with "${prefix}"`);
  const parents = KIND_PARENTS[kind];
  const parentIds: Record<'sessionId' | 'documentId', string | null> = { sessionId: null, documentId: null };
  for (const field of ['sessionId', 'documentId'] as const) {
    const value = input[field];
    if (value === undefined || value === null) {
      if (parents.includes(field)) return fail(field, `is required for ${kind}`);
      continue;
    }
    if (!parents.includes(field)) return fail(field, `is not a parent of ${kind}`);
    if (!ID_PATTERN.test(value)) return fail(field, 'must be 1–128 characters of A–Z, a–z, 0–9, _ and -');
    parentIds[field] = value;
  }
  if (input.status !== undefined && input.status !== null && (typeof input.status !== 'string' || input.status.length > 64)) {
    return fail('status', 'must be a string of at most 64 characters');
  }
  let attributes: Record<string, unknown> | null = null;
  if (input.attributes !== undefined && input.attributes !== null) {
    if (typeof input.attributes !== 'object' || Array.isArray(input.attributes)) return fail('attributes', 'must be a JSON object');
    if (JSON.stringify(input.attributes).length > MAX_ATTRIBUTES_BYTES) return fail('attributes', 'must be at most 64 KiB as JSON');
    attributes = input.attributes as Record<string, unknown>;
    // The Aitronos organisation of a track goes into its URL (seed 003): an id, like every URL part.
    const aitronosOrganizationId = attributes.aitronosOrganizationId;
    if (kind === 'TRACK' && aitronosOrganizationId !== undefined && (typeof aitronosOrganizationId !== 'string' || !ID_PATTERN.test(aitronosOrganizationId))) {
      return fail('attributes', 'aitronosOrganizationId must be 1–128 characters of A–Z, a–z, 0–9, _ and -');
    }
  }
  return {
    kind,
    id: input.id,
    provider,
    organizationId: input.organizationId,
    ownerId: input.ownerId,
    ...parentIds,
    status: input.status ?? null,
    attributes,
  };
}

function* loadRows(keys: { kind: ResourceKind; id: string }[]): Work<Map<string, CatalogResource>> {
  const found = new Map<string, CatalogResource>();
  const byKind = new Map<ResourceKind, Set<string>>();
  for (const key of keys) byKind.set(key.kind, (byKind.get(key.kind) ?? new Set()).add(key.id));
  for (const [kind, ids] of byKind) {
    for (const part of chunks([...ids])) {
      for (const row of yield* resourcesOfKind(kind, part)) found.set(keyOf(row.kind, row.id), row);
    }
  }
  return found;
}

const UPSERT = `INSERT INTO resources (kind, id, provider, organization_id, owner_id, session_id, document_id, status, attributes, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (kind, id) DO UPDATE SET owner_id = excluded.owner_id, status = excluded.status, attributes = excluded.attributes,
  updated_at = excluded.updated_at`;

export async function registerResources(
  db: Database,
  runtime: Runtime,
  registrar: Registrar,
  scope: ErrorScope,
  inputs: readonly ResourceInputValue[],
): Promise<{ registered: number } | GatewayError> {
  if ('principal' in registrar && registrar.principal.role !== 'admin') {
    return permissionDenied(scope, 'Only an admin may register resources');
  }
  if (inputs.length > MAX_RESOURCES_PER_CALL) {
    return validation(scope, 'resources', `At most ${MAX_RESOURCES_PER_CALL} resources a call, got ${inputs.length}.`);
  }
  const checked: Checked[] = [];
  const seen = new Set<string>();
  for (const [index, input] of inputs.entries()) {
    const result = checkShape(input, index, scope, registrar);
    if ('__typename' in result) return result;
    const key = keyOf(result.kind, result.id);
    if (seen.has(key)) return validation(scope, 'id', `resources[${index}].id: ${result.kind} ${result.id} appears twice in this call`, { index });
    seen.add(key);
    checked.push(result);
  }

  return db.write(function* (): Work<{ registered: number } | GatewayError> {
    const wanted = checked.flatMap((r) => [
      { kind: r.kind, id: r.id },
      ...(r.sessionId ? [{ kind: 'SESSION' as const, id: r.sessionId }] : []),
      ...(r.documentId ? [{ kind: 'DOCUMENT' as const, id: r.documentId }] : []),
    ]);
    const existing = yield* loadRows(wanted);
    const batch = new Map(checked.map((r) => [keyOf(r.kind, r.id), r]));
    for (const [index, r] of checked.entries()) {
      const fail = (field: string, message: string) => validation(scope, field, `resources[${index}].${field}: ${message}`, { index });
      const current = existing.get(keyOf(r.kind, r.id));
      if (current) {
        // One provider account serves every organisation: an id held by one is never moved or shared.
        if (current.organizationId !== r.organizationId) return fail('id', 'this id is already registered to another organisation');
        if (current.provider !== r.provider) return fail('provider', `this id is registered with ${current.provider}`);
        if (current.sessionId !== r.sessionId) return fail('sessionId', 'a registered resource cannot move to another session');
        if (current.documentId !== r.documentId) return fail('documentId', 'a registered resource cannot move to another document');
      }
      for (const [field, kind] of [['sessionId', 'SESSION'], ['documentId', 'DOCUMENT']] as const) {
        const parentId = r[field];
        if (!parentId) continue;
        const parent = batch.get(keyOf(kind, parentId)) ?? existing.get(keyOf(kind, parentId));
        if (!parent || parent.organizationId !== r.organizationId) return fail(field, `no ${kind} ${parentId} is registered in this organisation`);
        if (kind === 'DOCUMENT' && parent.sessionId !== r.sessionId) return fail('documentId', `document ${parentId} is not in session ${r.sessionId}`);
        if (!current && 'deletedAt' in parent && parent.deletedAt) return fail(field, `${kind} ${parentId} is deleted`);
      }
    }
    const now = runtime.clock.now().toISOString();
    for (const r of checked) {
      yield* run(UPSERT, [r.kind, r.id, r.provider, r.organizationId, r.ownerId, r.sessionId, r.documentId, r.status, jsonText(r.attributes), now, now]);
    }
    return { registered: checked.length };
  });
}
