// Roots and RFC 9162 proofs of a log from what is stored with it: the hashes of its complete subtrees
// of level ≥ 1 (audit_tree_nodes) and, for level 0, the leaf hash of the event at that log index
// (audit_events.hash). Each answer reads the O(log n) hashes it needs in one query and folds them
// with merkle.ts; the log itself is never rehashed.
import { all, chunks, placeholders, type Work } from '../db/sql.ts';
import {
  consistencyProofRanges,
  eventLeafHash,
  inclusionProofRanges,
  nodeKey,
  proofHashes,
  proofNodes,
  rangeNodes,
  hashRange,
  type LeafRange,
  type NodeId,
  type NodeLookup,
} from './merkle.ts';

/**
 * The stored hashes of `nodes`, in one statement per 10,000 of them: level ≥ 1 by (level, index) from audit_tree_nodes,
 * level 0 as the leaf hash of the event at that index. A node that is not stored is simply absent
 * from the answer (merkle.ts then names it).
 */
export function* storedHashes(logId: string, nodes: readonly NodeId[]): Work<NodeLookup> {
  const found = new Map<string, Buffer>();
  const lookup: NodeLookup = (id) => found.get(nodeKey(id));
  // A receipt of a large erasure proves tens of thousands of events: keep each statement under both
  // dialects' caps on bound parameters (SQLite 32766, PostgreSQL 65535).
  for (const part of chunks(nodes, NODES_PER_STATEMENT)) yield* readHashes(logId, part, found);
  return lookup;
}

const NODES_PER_STATEMENT = 10_000;

function* readHashes(logId: string, nodes: readonly NodeId[], found: Map<string, Buffer>): Work<void> {
  if (nodes.length === 0) return;
  const byLevel = new Map<number, number[]>();
  for (const node of nodes) {
    const indexes = byLevel.get(node.level);
    if (indexes) indexes.push(node.index);
    else byLevel.set(node.level, [node.index]);
  }
  const parts: string[] = [];
  const params: unknown[] = [];
  const leaves = byLevel.get(0);
  byLevel.delete(0);
  // One part per level, each a lookup on the primary key (log_id, level, node_index): an OR of the
  // levels under one log_id would make SQLite scan every stored node of the log.
  for (const [level, indexes] of byLevel) {
    parts.push(`SELECT level, node_index AS "nodeIndex", hash FROM audit_tree_nodes WHERE log_id = ? AND level = ? AND node_index IN (${placeholders(indexes.length)})`);
    params.push(logId, level, ...indexes);
  }
  if (leaves) {
    parts.push(`SELECT 0 AS level, log_index AS "nodeIndex", hash FROM audit_events WHERE log_id = ? AND log_index IN (${placeholders(leaves.length)})`);
    params.push(logId, ...leaves);
  }
  const rows = yield* all<{ level: number; nodeIndex: number; hash: string }>(parts.join(' UNION ALL '), params);
  for (const row of rows) {
    const level = Number(row.level);
    const id = { level, index: Number(row.nodeIndex) };
    // A leaf is stored as its event's hash; a node as its own hash, hex either way.
    found.set(nodeKey(id), level === 0 ? eventLeafHash(row.hash) : Buffer.from(row.hash, 'hex'));
  }
}

function* hashesOf(logId: string, ranges: readonly LeafRange[]): Work<Buffer[]> {
  return proofHashes(ranges, yield* storedHashes(logId, proofNodes(ranges)));
}

/** RFC 9162 §2.1.1: the root of the log's first `size` events (any size up to the log's). */
export function* rootAt(logId: string, size: number): Work<Buffer> {
  const nodes = rangeNodes(0, size);
  return hashRange(nodes, yield* storedHashes(logId, nodes));
}

/** RFC 9162 §2.1.3: the inclusion proof of the event at `index` in the tree of the first `size` events. */
export function* inclusionProofAt(logId: string, index: number, size: number): Work<Buffer[]> {
  return yield* hashesOf(logId, inclusionProofRanges(index, size));
}

/**
 * Inclusion proofs of several events in one tree, from one query (a receipt proves all its events
 * against one checkpoint): by log index.
 */
export function* inclusionProofsAt(logId: string, indexes: readonly number[], size: number): Work<Map<number, Buffer[]>> {
  const rangesOf = new Map(indexes.map((index) => [index, inclusionProofRanges(index, size)]));
  const lookup = yield* storedHashes(logId, proofNodes([...rangesOf.values()].flat()));
  return new Map([...rangesOf].map(([index, ranges]) => [index, proofHashes(ranges, lookup)]));
}

/** RFC 9162 §2.1.4: the consistency proof from the tree of `fromSize` events to the tree of `toSize`. */
export function* consistencyProofAt(logId: string, fromSize: number, toSize: number): Work<Buffer[]> {
  return yield* hashesOf(logId, consistencyProofRanges(fromSize, toSize));
}
