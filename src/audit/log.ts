// Per-organisation logs: each organisation's events form a log of their own (events without an
// organisation form `_system`), chained by hash and summarised by an RFC 6962 Merkle tree whose
// leaves are the events' hashes. A log's head row (audit_logs) holds its size, last hash and the
// Merkle frontier; every append locks that row first, so appends to one log are serialised even
// across processes (PostgreSQL takes the row lock in the upsert; SQLite's BEGIN IMMEDIATE is
// already the only writer), while appends to different logs do not wait on each other.
import { chunks, get, run, type Work } from '../db/sql.ts';
import { EMPTY_ROOT, eventLeafHash, nodeHash } from './merkle.ts';

export const SYSTEM_LOG = '_system';

export function logIdOf(organizationId: string | null): string {
  return organizationId ?? SYSTEM_LOG;
}

/** The leaf hash of an event: a leaf is the 32 bytes of its hash (merkle.ts eventLeafHash). */
export const leafHashOf = eventLeafHash;

/** A complete subtree of a log's tree: level L, index i covers leaves [i·2^L, (i+1)·2^L). */
export interface StoredNode {
  level: number;
  index: number;
  hash: Buffer;
}

/**
 * Appends a leaf to a frontier (the perfect subtrees of the tree, left to right, largest first):
 * returns the new frontier and the complete subtrees of level ≥ 1 the leaf completed.
 */
export function extendFrontier(frontier: readonly Buffer[], leafIndex: number, leafHash: Buffer): { frontier: Buffer[]; completed: StoredNode[] } {
  const next = [...frontier, leafHash];
  const completed: StoredNode[] = [];
  let index = leafIndex;
  let level = 0;
  // Every trailing 1 bit of the leaf index closes a subtree one level up.
  while (index % 2 === 1) {
    const right = next.pop()!;
    const left = next.pop()!;
    const parent = nodeHash(left, right);
    level += 1;
    index = Math.floor(index / 2);
    next.push(parent);
    completed.push({ level, index, hash: parent });
  }
  return { frontier: next, completed };
}

/** RFC 9162 §2.1.1 MTH of the whole tree from its frontier; the empty tree is SHA-256 of nothing. */
export function rootOfFrontier(frontier: readonly Buffer[]): Buffer {
  if (frontier.length === 0) return EMPTY_ROOT;
  let root = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i -= 1) root = nodeHash(frontier[i]!, root);
  return root;
}

export function decodeFrontier(text: string): Buffer[] {
  return (JSON.parse(text) as string[]).map((hex) => Buffer.from(hex, 'hex'));
}

export function encodeFrontier(frontier: readonly Buffer[]): string {
  return JSON.stringify(frontier.map((hash) => hash.toString('hex')));
}

export interface LogHead {
  logId: string;
  size: number;
  headHash: string | null;
  frontier: Buffer[];
}

// The upsert that creates a log's head on its first event and otherwise only locks and reads it
// (on PostgreSQL, ON CONFLICT DO UPDATE takes the row lock until the transaction ends).
const LOCK_HEAD = `INSERT INTO audit_logs (log_id, size, head_hash, frontier, updated_at) VALUES (?, 0, NULL, '[]', ?)
  ON CONFLICT (log_id) DO UPDATE SET size = audit_logs.size
  RETURNING size, head_hash AS "headHash", frontier`;
const MOVE_HEAD = 'UPDATE audit_logs SET size = ?, head_hash = ?, frontier = ?, updated_at = ? WHERE log_id = ?';
const INSERT_NODES = 'INSERT INTO audit_tree_nodes (log_id, level, node_index, hash) VALUES';
const INSERT_NODE = `${INSERT_NODES} (?, ?, ?, ?)`;
/** Rows of one multi-row insert of stored nodes (4 parameters each, well under both dialects' caps). */
const NODES_PER_INSERT = 100;

/** Locks a log's head for this transaction and reads it. */
export function* lockLogHead(logId: string, at: string): Work<LogHead> {
  const row = (yield* get<{ size: number; headHash: string | null; frontier: string }>(LOCK_HEAD, [logId, at]))!;
  return { logId, size: Number(row.size), headHash: row.headHash, frontier: decodeFrontier(row.frontier) };
}

/** Records that the event with `eventHash` became leaf `head.size`: stored nodes and the moved head. */
export function* advanceLogHead(head: LogHead, eventHash: string, at: string): Work<LogHead> {
  const { frontier, completed } = extendFrontier(head.frontier, head.size, leafHashOf(eventHash));
  for (const node of completed) yield* run(INSERT_NODE, [head.logId, node.level, node.index, node.hash.toString('hex')]);
  const next = { logId: head.logId, size: head.size + 1, headHash: eventHash, frontier };
  yield* moveLogHead(next, at);
  return next;
}

/**
 * Moves the head past several events at once, in order: the same nodes and head advanceLogHead
 * would write one event at a time, in multi-row inserts and one move of the head row.
 */
export function* advanceLogHeadBy(head: LogHead, eventHashes: readonly string[], at: string): Work<LogHead> {
  let next = head;
  const nodes: unknown[][] = [];
  for (const hash of eventHashes) {
    const { frontier, completed } = extendFrontier(next.frontier, next.size, leafHashOf(hash));
    for (const node of completed) nodes.push([head.logId, node.level, node.index, node.hash.toString('hex')]);
    next = { logId: head.logId, size: next.size + 1, headHash: hash, frontier };
  }
  for (const part of chunks(nodes, NODES_PER_INSERT)) yield* run(`${INSERT_NODES} ${part.map(() => '(?, ?, ?, ?)').join(', ')}`, part.flat());
  yield* moveLogHead(next, at);
  return next;
}

/** Writes a head that moved (by one event or several) back to its row. */
function* moveLogHead(head: LogHead, at: string): Work<void> {
  yield* run(MOVE_HEAD, [head.size, head.headHash, encodeFrontier(head.frontier), at, head.logId]);
}
