// The data migration from the first wave's single hash chain to per-organisation logs. It runs once,
// right after the SQL migration that adds log_id and log_index (drizzle/sqlite/0005), on databases
// that still hold events without a log. Each event is re-linked behind its organisation's previous
// event (previousHash and hash recomputed, every other field kept), the Merkle nodes and heads are
// built, and a `_system` event records what the old chain was — its head hash, its length, and
// whether it verified — so rewriting the hashes can never hide tampering done before the split.
import { GATEWAY_ACTOR } from '../domain.ts';
import { all, get, run, type Work } from '../db/sql.ts';
import type { Runtime } from '../runtime.ts';
import { appendEvent } from './append.ts';
import { chainHash } from './chain.ts';
import { STORED_EVENT_COLUMNS, storedBody, type StoredEvent } from './event.ts';
import { encodeFrontier, extendFrontier, leafHashOf, logIdOf, type LogHead } from './log.ts';

const CHUNK = 5_000;

/** Whether any event still waits for its log (the cheap check made at every start). */
export function* needsSplit(): Work<boolean> {
  return (yield* get('SELECT 1 AS pending FROM audit_events WHERE log_id IS NULL LIMIT 1')) !== undefined;
}

/**
 * Moves every event without a log into its organisation's log, in one transaction with the caller's
 * removal and restoration of the append-only triggers. Returns how many events moved.
 */
export function* splitIntoLogs(runtime: Runtime, issuedSeq: number | null): Work<number> {
  const heads = new Map<string, LogHead>();
  const at = runtime.clock.now().toISOString();
  let oldPrevious: string | null = null;
  let firstInvalid: string | null = null;
  let oldHead: string | null = null;
  let moved = 0;
  let lastSeq = 0;
  for (;;) {
    const rows = yield* all<StoredEvent>(
      `SELECT ${STORED_EVENT_COLUMNS} FROM audit_events WHERE log_id IS NULL AND seq > ? ORDER BY seq LIMIT ?`,
      [lastSeq, CHUNK],
    );
    for (const row of rows) {
      const body = storedBody(row);
      // The old chain, checked on the way: each row's link and its content, as `audit verify` did.
      if (firstInvalid === null && (row.previousHash !== oldPrevious || body === null || chainHash(oldPrevious, body) !== row.hash)) firstInvalid = row.id;
      oldPrevious = row.hash;
      oldHead = row.hash;
      const logId = logIdOf(row.organizationId);
      const head = heads.get(logId) ?? { logId, size: 0, headHash: null, frontier: [] };
      // A row whose details are not JSON keeps failing verification: its hash covers the raw text.
      const hash = chainHash(head.headHash, body ?? `${JSON.stringify(row.details)}`);
      yield* run('UPDATE audit_events SET log_id = ?, log_index = ?, previous_hash = ?, hash = ? WHERE seq = ?', [logId, head.size, head.headHash, hash, row.seq]);
      const { frontier, completed } = extendFrontier(head.frontier, head.size, leafHashOf(hash));
      for (const node of completed) {
        yield* run('INSERT INTO audit_tree_nodes (log_id, level, node_index, hash) VALUES (?, ?, ?, ?)', [logId, node.level, node.index, node.hash.toString('hex')]);
      }
      heads.set(logId, { logId, size: head.size + 1, headHash: hash, frontier });
      moved += 1;
      lastSeq = row.seq;
    }
    if (rows.length < CHUNK) break;
  }
  if (moved === 0) return 0;
  for (const head of heads.values()) {
    yield* run('INSERT INTO audit_logs (log_id, size, head_hash, frontier, updated_at) VALUES (?, ?, ?, ?, ?)', [
      head.logId,
      head.size,
      head.headHash,
      encodeFrontier(head.frontier),
      at,
    ]);
  }
  yield* appendEvent(runtime, {
    actor: GATEWAY_ACTOR,
    organizationId: null,
    action: 'audit.split_logs',
    outcome: 'AUDIT_LOGS_SPLIT',
    details: {
      eventsMoved: moved,
      logs: Object.fromEntries([...heads.values()].map((head) => [head.logId, head.size])),
      previousChain: {
        headHash: oldHead,
        events: moved,
        // Events removed from the old chain's end show only against the highest seq ever issued.
        valid: firstInvalid === null && (issuedSeq === null || issuedSeq <= lastSeq),
        firstInvalidEventId: firstInvalid,
        ...(issuedSeq !== null && issuedSeq > lastSeq ? { removedFromEnd: `events up to seq ${issuedSeq} were written, the chain ends at seq ${lastSeq}` } : {}),
      },
    },
  });
  return moved;
}
