// API keys: created once (the key is shown once), stored as a SHA-256 hash, resolved to a Principal.
import { createHash, randomBytes } from 'node:crypto';
import { ID_PATTERN, ROLES, type Principal, type Role } from '../domain.ts';
import type { Database } from '../db/database.ts';
import { all, chunks, get, placeholders, run, type Work } from '../db/sql.ts';
import type { Runtime } from '../runtime.ts';

export interface ApiKeyRow {
  id: string;
  /** SHA-256 of the key; the key itself is never stored. */
  hash: string;
  /** The first characters, to recognise a key in `keys list` without revealing it. */
  prefix: string;
  organizationId: string;
  userId: string;
  role: Role;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
}

const KEY_COLUMNS = `id, hash, prefix, organization_id AS "organizationId", user_id AS "userId", role, label,
  created_at AS "createdAt", revoked_at AS "revokedAt"`;

const KEY_PREFIX = 'sdg_';
/** Keys are `sdg_` + 43 base64url characters (32 random bytes). */
const KEY_PATTERN = /^sdg_[A-Za-z0-9_-]{43}$/;
const NAME_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;

/** A gateway API key (`sdg_` + base64url) or the credential after `Bearer`, inside any text. */
const SECRET_IN_TEXT = /\bsdg_[A-Za-z0-9_-]{8,}|(\bBearer\s+)[^\s"',;]+/gi;

/** `text` with every API key and bearer credential in it replaced by `censor`. */
export function maskSecrets(text: string, censor = '[redacted]'): string {
  return text.replace(SECRET_IN_TEXT, (_match, bearer: string | undefined) => (bearer ? `${bearer}${censor}` : censor));
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class KeyInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'KeyInputError';
  }
}

export interface NewKey {
  organizationId: string;
  userId: string;
  role: string;
  label?: string;
}

export function validateNewKey(input: NewKey): { organizationId: string; userId: string; role: Role } {
  // Organisation ids go into provider URLs (Aitronos music) and the catalog: the id rule applies.
  if (!ID_PATTERN.test(input.organizationId)) {
    throw new KeyInputError('org', `the organisation id must be 1–128 characters of A–Z, a–z, 0–9, _ and -, got "${input.organizationId.slice(0, 140)}"`);
  }
  if (!NAME_PATTERN.test(input.userId)) {
    throw new KeyInputError('user', 'the user id must be 1–128 characters of A–Z, a–z, 0–9, _ . @ : -');
  }
  const role = input.role.toLowerCase() as Role;
  if (!ROLES.includes(role)) throw new KeyInputError('role', `the role must be one of ${ROLES.join(', ')}, got "${input.role}"`);
  return { organizationId: input.organizationId, userId: input.userId, role };
}

/** Creates a key and returns it with its row; the caller shows the key once, it is not stored. */
export async function createKey(db: Database, runtime: Runtime, input: NewKey): Promise<{ key: string; row: ApiKeyRow }> {
  const valid = validateNewKey(input);
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const row: ApiKeyRow = {
    id: runtime.newId('key'),
    hash: hashKey(key),
    prefix: key.slice(0, 8),
    organizationId: valid.organizationId,
    userId: valid.userId,
    role: valid.role,
    label: input.label ?? null,
    createdAt: runtime.clock.now().toISOString(),
    revokedAt: null,
  };
  await db.write(() =>
    run(
      'INSERT INTO api_keys (id, hash, prefix, organization_id, user_id, role, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [row.id, row.hash, row.prefix, row.organizationId, row.userId, row.role, row.label, row.createdAt],
    ),
  );
  return { key, row };
}

export function listKeys(db: Database): Promise<ApiKeyRow[]> {
  return db.read(all<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at`));
}

/** Returns false when there is no such key or it was already revoked. */
export async function revokeKey(db: Database, runtime: Runtime, id: string): Promise<boolean> {
  const changes = await db.write(() => run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [runtime.clock.now().toISOString(), id]));
  return changes > 0;
}

/** Which of these key ids are revoked now (open streams of a revoked key must end). */
export function* revokedAmong(ids: readonly string[]): Work<string[]> {
  const revoked: string[] = [];
  for (const part of chunks(ids)) {
    const rows = yield* all<{ id: string }>(`SELECT id FROM api_keys WHERE revoked_at IS NOT NULL AND id IN (${placeholders(part.length)})`, part);
    revoked.push(...rows.map((row) => row.id));
  }
  return revoked;
}

/** Resolves a presented key; null for a malformed, unknown or revoked one. */
export async function principalForKey(db: Database, key: string): Promise<Principal | null> {
  if (!KEY_PATTERN.test(key)) return null;
  const row = await db.read(
    get<Pick<ApiKeyRow, 'id' | 'organizationId' | 'userId' | 'role'>>(
      'SELECT id, organization_id AS "organizationId", user_id AS "userId", role FROM api_keys WHERE hash = ? AND revoked_at IS NULL',
      [hashKey(key)],
    ),
  );
  if (!row) return null;
  return { keyId: row.id, organizationId: row.organizationId, userId: row.userId, role: row.role };
}

export type PresentedKey = { kind: 'none' } | { kind: 'conflict' } | { kind: 'key'; key: string } | { kind: 'malformed' };

/**
 * Reads the key from `Authorization: Bearer KEY` or `X-API-Key: KEY`. Both present and naming
 * different keys is refused (PRODUCT.md): the caller would not know which one acted.
 */
export function presentedKey(authorization: string | null, xApiKey: string | null): PresentedKey {
  let bearer: string | null = null;
  if (authorization !== null && authorization.trim() !== '') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
    if (!match?.[1]) return { kind: 'malformed' };
    bearer = match[1];
  }
  const header = xApiKey !== null && xApiKey.trim() !== '' ? xApiKey.trim() : null;
  if (bearer !== null && header !== null && bearer !== header) return { kind: 'conflict' };
  const key = bearer ?? header;
  return key === null ? { kind: 'none' } : { kind: 'key', key };
}
