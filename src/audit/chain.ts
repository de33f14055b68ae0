// The hash chain of the audit trail. Each event's hash covers the previous hash and a canonical
// serialisation of its own fields, so changing, removing, inserting or reordering a row breaks the
// chain at that row. The format is documented in the README so an auditor can recompute it.
import { createHash } from 'node:crypto';

/** The hashed fields, in the one fixed order. */
export const HASHED_FIELDS = [
  'id',
  'at',
  'actor',
  'organizationId',
  'action',
  'resourceKind',
  'resourceId',
  'provider',
  'outcome',
  'requestId',
  'traceId',
  'upstreamHttpStatus',
  'details',
] as const;

export type HashedEvent = { [K in (typeof HASHED_FIELDS)[number]]: K extends 'details' ? unknown : string | number | null };

/** JSON with object keys sorted at every depth; no whitespace; undefined dropped as JSON does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** hash = SHA-256 hex of (previous hash or "") + "\n" + canonical JSON array of the fields in order. */
export function eventHash(previousHash: string | null, event: HashedEvent): string {
  const body = canonicalJson(HASHED_FIELDS.map((field) => event[field] ?? null));
  return createHash('sha256')
    .update(previousHash ?? '')
    .update('\n')
    .update(body)
    .digest('hex');
}
