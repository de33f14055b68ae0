// Signed checkpoints of the per-organisation logs (PRODUCT.md "Proof a deletion happened"): a C2SP
// tlog-checkpoint (origin `{AUDIT_LOG_ORIGIN}/{logId}`, tree size, root) in a C2SP signed note.
// Signed on demand, when a checkpoint is asked for and the log grew since the last one; every one
// ever signed is kept (audit_checkpoints is append-only). The root comes from the log's head row
// (its Merkle frontier) or from stored subtree hashes: O(log n), never a rehash of the log.
import type { Database } from '../db/database.ts';
import { all, get, run, type Row, type Work } from '../db/sql.ts';
import { decodeFrontier, rootOfFrontier } from './log.ts';
import { checkpointBody } from './note.ts';
import { rootAt } from './proofs.ts';
import type { AuditSigning } from './signing-key.ts';

export interface StoredCheckpoint {
  logId: string;
  /** The note's first line: `{AUDIT_LOG_ORIGIN}/{logId}` as it was when it was signed. */
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  /** The whole signed note, as given to anyone who asks (its text is what the signature covers). */
  signedNote: string;
  signedAt: string;
}

const COLUMNS = `log_id AS "logId", tree_size AS "treeSize", root_hash AS "rootHash", signed_note AS "signedNote", signed_at AS "signedAt"`;

function decode(row: Row): StoredCheckpoint {
  const note = String(row.signedNote);
  return {
    logId: String(row.logId),
    origin: note.slice(0, Math.max(0, note.indexOf('\n'))),
    treeSize: Number(row.treeSize),
    rootHash: Buffer.from(String(row.rootHash), 'hex'),
    signedNote: note,
    signedAt: String(row.signedAt),
  };
}

export function originOf(signing: AuditSigning, logId: string): string {
  return `${signing.logOrigin}/${logId}`;
}

/** The log's size now (0 for a log with no event yet) and the root of that tree, from its head row. */
export function* logHead(logId: string): Work<{ size: number; root: Buffer }> {
  const head = yield* get<{ size: number; frontier: string }>('SELECT size, frontier FROM audit_logs WHERE log_id = ?', [logId]);
  return { size: Number(head?.size ?? 0), root: rootOfFrontier(head ? decodeFrontier(head.frontier) : []) };
}

/** The largest checkpoint of a log (of at most `maxSize` events when given). */
export function* latestCheckpoint(logId: string, maxSize?: number): Work<StoredCheckpoint | undefined> {
  // No sentinel bound: PostgreSQL types the parameter as the column's int4.
  const row =
    maxSize === undefined
      ? yield* get(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE log_id = ? ORDER BY tree_size DESC LIMIT 1`, [logId])
      : yield* get(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE log_id = ? AND tree_size <= ? ORDER BY tree_size DESC LIMIT 1`, [logId, maxSize]);
  return row ? decode(row) : undefined;
}

function* checkpointOfSize(logId: string, size: number): Work<StoredCheckpoint | undefined> {
  const row = yield* get(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE log_id = ? AND tree_size = ?`, [logId, size]);
  return row ? decode(row) : undefined;
}

/** The stored checkpoints of a log with a tree size in [fromSize, toSize], smallest first (verification). */
export function* checkpointsBetween(logId: string, fromSize: number, toSize: number): Work<StoredCheckpoint[]> {
  const rows = yield* all(`SELECT ${COLUMNS} FROM audit_checkpoints WHERE log_id = ? AND tree_size >= ? AND tree_size <= ? ORDER BY tree_size`, [
    logId,
    fromSize,
    toSize,
  ]);
  return rows.map(decode);
}

// Two requests (or processes) may sign the same size at once: the first insert wins, the other
// reads the winner back, so both answer the one stored checkpoint and neither fails on the key.
const KEEP = `INSERT INTO audit_checkpoints (log_id, tree_size, root_hash, signed_note, signed_at) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (log_id, tree_size) DO NOTHING`;

function* keep(logId: string, size: number, rootHex: string, note: string, at: string): Work<StoredCheckpoint> {
  yield* run(KEEP, [logId, size, rootHex, note, at]);
  return (yield* checkpointOfSize(logId, size))!;
}

async function signAndKeep(db: Database, signing: AuditSigning, logId: string, size: number, root: Buffer, now: Date): Promise<StoredCheckpoint> {
  // Signed before the transaction: the write body does nothing but statements (PostgreSQL may run it again).
  const note = signing.key.sign(checkpointBody(originOf(signing, logId), size, root));
  const rootHex = root.toString('hex');
  const at = now.toISOString();
  return db.write(() => keep(logId, size, rootHex, note, at));
}

/** A checkpoint of the log as it is now: the latest, unless the log grew since, then a fresh one. */
export function currentCheckpoint(db: Database, signing: AuditSigning, logId: string, now: Date): Promise<StoredCheckpoint> {
  return checkpointCovering(db, signing, logId, Number.MAX_SAFE_INTEGER, now);
}

/**
 * A checkpoint whose tree holds at least the first `minSize` events (a proof or receipt needs its
 * events inside): the latest when it does, else a fresh one of the log as it is now.
 */
export async function checkpointCovering(db: Database, signing: AuditSigning, logId: string, minSize: number, now: Date): Promise<StoredCheckpoint> {
  const { head, latest } = await db.read(headAndLatest(logId));
  if (latest && latest.treeSize <= head.size && (latest.treeSize >= minSize || latest.treeSize === head.size)) return latest;
  return signAndKeep(db, signing, logId, head.size, head.root, now);
}

function* headAndLatest(logId: string): Work<{ head: { size: number; root: Buffer }; latest: StoredCheckpoint | undefined }> {
  return { head: yield* logHead(logId), latest: yield* latestCheckpoint(logId) };
}

/**
 * The checkpoint of exactly `size` events (at most the log's size): the stored one, else one signed
 * now over the root of that prefix, from stored subtree hashes.
 */
export async function checkpointAt(db: Database, signing: AuditSigning, logId: string, size: number, now: Date): Promise<StoredCheckpoint> {
  const stored = await db.read(checkpointOfSize(logId, size));
  if (stored) return stored;
  const root = await db.read(rootAt(logId, size));
  return signAndKeep(db, signing, logId, size, root, now);
}
