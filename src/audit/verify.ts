// Verifying audit logs: walk a log in index order, recompute every hash and link, rebuild its Merkle
// frontier, compare every stored checkpoint with the tree recomputed at its size, and compare the
// end with the log's head (size, last hash, frontier). Names the first event that does not verify.
// Rows are read in keyset chunks, so a million events never sit in memory, and the server answers
// other requests between chunks.
import type { Database } from '../db/database.ts';
import { all, get, type Work } from '../db/sql.ts';
import { chainHash } from './chain.ts';
import { checkpointsBetween, latestCheckpoint, type StoredCheckpoint } from './checkpoint.ts';
import { EMPTY_ROOT } from './merkle.ts';
import { openNote, parseCheckpoint, parseVerifierKey, verifyNote, type VerifierKey } from './note.ts';
import { AUDIT_COLUMNS, STORED_EVENT_COLUMNS, decodeAuditEvent, storedBody, type AuditEventRow, type StoredEvent } from './event.ts';
import { decodeFrontier, extendFrontier, leafHashOf, logIdOf, rootOfFrontier, type StoredNode } from './log.ts';

export interface Verification {
  valid: boolean;
  eventsChecked: number;
  /** The first event that does not verify; null when valid, or when the newest events were removed. */
  firstInvalidEventId: string | null;
  /** Why it fails: its content, its link to the event before it, a gap, a missing tail, a checkpoint it no longer matches. */
  problem: string | null;
  /** Stored signed checkpoints compared with the recomputed tree (those up to the size walked). */
  checkpointsChecked: number;
}

export interface VerifyOptions {
  /** Runs between chunks (the server yields to other requests there). */
  pause?: () => Promise<void>;
  /**
   * The verifier key of the configured signing key: the latest checkpoint's signature is checked
   * with it when that checkpoint names it (one signed before a key rotation names another).
   */
  verifierKey?: string | null;
}

export const CHANGED = "hash does not match the event's content (the event was changed)";
export const RELINKED =
  'previousHash does not match the hash of the event before it (an event before it was removed, or one was inserted or moved here)';

const CHUNK_ROWS = 10_000;

function* chunk(logId: string, fromIndex: number): Work<StoredEvent[]> {
  return yield* all<StoredEvent>(`SELECT ${STORED_EVENT_COLUMNS} FROM audit_events WHERE log_id = ? AND log_index >= ? ORDER BY log_index LIMIT ?`, [
    logId,
    fromIndex,
    CHUNK_ROWS,
  ]);
}

interface Head {
  size: number;
  headHash: string | null;
  frontier: string;
}

function* headOf(logId: string): Work<Head | undefined> {
  return yield* get<Head>('SELECT size, head_hash AS "headHash", frontier FROM audit_logs WHERE log_id = ?', [logId]);
}

/**
 * What is wrong with a stored checkpoint, given the root the log's events give at its size: its note
 * must say what its row says (this log, this size, this root), and that root must be the events'.
 */
function checkpointProblem(checkpoint: StoredCheckpoint, logId: string, recomputedRoot: Buffer, key: VerifierKey | null): string | null {
  const what = `the checkpoint of size ${checkpoint.treeSize} signed at ${checkpoint.signedAt}`;
  const note = openNote(checkpoint.signedNote);
  const body = note.ok ? parseCheckpoint(note.body) : note;
  if (!body.ok) return `${what} is not a checkpoint note (${body.problem})`;
  const claimed = body.checkpoint;
  if (!claimed.origin.endsWith(`/${logId}`) || claimed.size !== checkpoint.treeSize || !claimed.rootHash.equals(checkpoint.rootHash)) {
    return `${what} does not say what its row says (origin ${claimed.origin}, size ${claimed.size})`;
  }
  if (!recomputedRoot.equals(checkpoint.rootHash)) {
    return `the log no longer matches ${what}: the root of its first ${checkpoint.treeSize} events differs from the signed one (events before it were changed, removed or inserted, and the hashes recomputed)`;
  }
  if (key && note.ok && note.signedBy.includes(`${key.keyName}+${key.keyId}`)) {
    const verified = verifyNote(checkpoint.signedNote, key);
    if (!verified.ok) return `${what}: ${verified.problem}`;
  }
  return null;
}

/**
 * Verifies one log as it stood when the walk began (up to its head's size then), so a walk under
 * load ends. Every stored checkpoint up to that size is compared with the tree the events give.
 */
export async function verifyLog(db: Database, logId: string, options: VerifyOptions = {}): Promise<Verification> {
  const pause = options.pause ?? (async () => undefined);
  let key: VerifierKey | null = null;
  if (options.verifierKey) {
    const parsed = parseVerifierKey(options.verifierKey);
    if (!parsed.ok) throw new Error(`cannot verify checkpoints: ${parsed.problem}`);
    key = parsed.key;
  }
  const head = await db.read(headOf(logId));
  const size = Number(head?.size ?? 0);
  // Only the newest checkpoint's signature is checked: someone able to forge an older one could as
  // well delete it, which nothing inside the database can show (receipts given out can).
  const latest = (await db.read(latestCheckpoint(logId, size)))?.treeSize ?? -1;
  let checkpointsChecked = 0;
  const fail = (eventsChecked: number, firstInvalidEventId: string | null, problem: string): Verification => ({
    valid: false,
    eventsChecked,
    firstInvalidEventId,
    problem,
    checkpointsChecked,
  });
  for (const empty of await db.read(checkpointsBetween(logId, 0, 0))) {
    const problem = checkpointProblem(empty, logId, EMPTY_ROOT, latest === 0 ? key : null);
    if (problem) return fail(0, null, problem);
    checkpointsChecked += 1;
  }
  let previous: string | null = null;
  let frontier: Buffer[] = [];
  let checked = 0;
  while (checked < size) {
    const rows = await db.read(chunk(logId, checked));
    if (rows.length === 0) break;
    const first = checked;
    const completed: StoredNode[] = [];
    const due = await db.read(checkpointsBetween(logId, first + 1, Math.min(size, first + rows.length)));
    let next = 0;
    for (const row of rows) {
      if (checked >= size) break;
      const index = Number(row.logIndex);
      if (index !== checked) return fail(checked + 1, row.id, `the event at index ${checked} is missing (the next one has index ${index})`);
      checked += 1;
      if (row.previousHash !== previous) return fail(checked, row.id, RELINKED);
      const body = storedBody(row);
      if (body === null || chainHash(previous, body) !== row.hash) return fail(checked, row.id, body === null ? `${CHANGED}: details is not JSON` : CHANGED);
      const extended = extendFrontier(frontier, index, leafHashOf(row.hash));
      frontier = extended.frontier;
      completed.push(...extended.completed);
      previous = row.hash;
      for (; next < due.length && due[next]!.treeSize === checked; next += 1) {
        const problem = checkpointProblem(due[next]!, logId, rootOfFrontier(frontier), checked === latest ? key : null);
        if (problem) return fail(checked, null, problem);
        checkpointsChecked += 1;
      }
    }
    const mismatch = await db.read(storedNodesDiffer(logId, first, checked, completed));
    if (mismatch) return fail(checked, null, `the Merkle tree stored with the log does not match its events (${mismatch})`);
    if (rows.length < CHUNK_ROWS) break;
    await pause();
  }
  if (checked < size) {
    return fail(checked, null, `events were removed from the end of the log: it ends at index ${checked - 1}, but its head records ${size} events`);
  }
  if (head && head.headHash !== previous) return fail(checked, null, "the log's head does not match its last event");
  if (head && !rootOfFrontier(decodeFrontier(head.frontier)).equals(rootOfFrontier(frontier))) {
    return fail(checked, null, "the Merkle tree stored with the log does not match its events");
  }
  // Appends move the head in their own transaction, so an event past the head as it is *now* was
  // put there by hand.
  const now = await db.read(headOf(logId));
  const beyond = await db.read(
    get<{ id: string }>('SELECT id FROM audit_events WHERE log_id = ? AND log_index >= ? ORDER BY log_index LIMIT 1', [logId, Number(now?.size ?? 0)]),
  );
  if (beyond) return fail(checked, beyond.id, "an event lies past the log's head (it was added by hand)");
  // Checkpoints are signed from the head after its events committed: one larger than the head now
  // vouches for events that are gone.
  const overreaching = await db.read(
    get<{ treeSize: number }>('SELECT tree_size AS "treeSize" FROM audit_checkpoints WHERE log_id = ? AND tree_size > ? ORDER BY tree_size LIMIT 1', [
      logId,
      Number(now?.size ?? 0),
    ]),
  );
  if (overreaching) {
    return fail(checked, null, `a checkpoint of size ${Number(overreaching.treeSize)} was signed, but the log holds ${Number(now?.size ?? 0)} events: events were removed from its end`);
  }
  return { valid: true, eventsChecked: checked, firstInvalidEventId: null, problem: null, checkpointsChecked };
}

/**
 * Compares the subtrees that leaves [from, to) completed with the stored ones, level by level (one
 * range read per level): a missing, changed or extra stored node is named.
 */
function* storedNodesDiffer(logId: string, from: number, to: number, completed: readonly StoredNode[]): Work<string | null> {
  const expected = new Map(completed.map((node) => [`${node.level}/${node.index}`, node.hash.toString('hex')]));
  for (let level = 1; 2 ** level <= to; level += 1) {
    // Nodes of this level completed by leaves [from, to): indexes in [from / 2^level, to / 2^level).
    const lo = Math.ceil((from + 1) / 2 ** level) - 1;
    const hi = Math.floor(to / 2 ** level);
    if (hi <= lo) continue;
    const stored = yield* all<{ nodeIndex: number; hash: string }>(
      'SELECT node_index AS "nodeIndex", hash FROM audit_tree_nodes WHERE log_id = ? AND level = ? AND node_index >= ? AND node_index < ?',
      [logId, level, lo, hi],
    );
    for (const node of stored) {
      const key = `${level}/${Number(node.nodeIndex)}`;
      if (expected.get(key) !== node.hash) return expected.has(key) ? `node ${key} was changed` : `node ${key} should not exist`;
      expected.delete(key);
    }
  }
  const missing = expected.keys().next();
  return missing.done ? null : `node ${missing.value} is missing`;
}

/** Every log's id: those with a head, and any event's log that has none (a removed head is a failure). */
function* logIds(): Work<string[]> {
  const rows = yield* all<{ logId: string }>(
    'SELECT log_id AS "logId" FROM audit_logs UNION SELECT DISTINCT log_id AS "logId" FROM audit_events WHERE log_id IS NOT NULL ORDER BY 1',
  );
  return rows.map((row) => row.logId);
}

/** Verifies every log (the CLI): one result per log, by log id. */
export async function verifyAllLogs(db: Database, verifierKey: string | null = null): Promise<Map<string, Verification>> {
  const results = new Map<string, Verification>();
  for (const logId of await db.read(logIds())) {
    const present = await db.read(headOf(logId));
    results.set(
      logId,
      present
        ? await verifyLog(db, logId, { verifierKey })
        : { valid: false, eventsChecked: 0, firstInvalidEventId: null, problem: 'events exist for this log but its head was removed', checkpointsChecked: 0 },
    );
  }
  return results;
}

const inProgress = new WeakMap<Database, Map<string, Promise<Verification>>>();

/**
 * Verifies an organisation's log, yielding to the event loop between chunks (the server). Callers
 * that ask while a walk of that log is under way share it: a burst of requests costs one walk.
 */
export function verifyLogInBackground(db: Database, organizationId: string | null, verifierKey: string | null = null): Promise<Verification> {
  const logId = logIdOf(organizationId);
  let walks = inProgress.get(db);
  if (!walks) inProgress.set(db, (walks = new Map()));
  const running = walks.get(logId);
  if (running) return running;
  const walk = verifyLog(db, logId, { pause: () => new Promise<void>((resolve) => setImmediate(resolve)), verifierKey }).finally(() => walks.delete(logId));
  walks.set(logId, walk);
  return walk;
}

/**
 * Streams audit rows, optionally filtered: a log's own events in log order (`logId`), or every
 * event in insertion order. Chunked by keyset, so an export of millions holds one chunk at a time.
 */
export async function* auditRows(db: Database, filter: { since?: string; logId?: string } = {}): AsyncGenerator<AuditEventRow> {
  const key = filter.logId ? 'log_index' : 'seq';
  let after = -1;
  for (;;) {
    const where = [`${key} > ?`];
    const params: unknown[] = [after];
    if (filter.logId) {
      where.push('log_id = ?');
      params.push(filter.logId);
    }
    if (filter.since) {
      where.push('at >= ?');
      params.push(filter.since);
    }
    const rows = await db.read(all(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY ${key} LIMIT ?`, [...params, CHUNK_ROWS]));
    for (const raw of rows) {
      // Exported as stored, so whoever recomputes the chain sees a tampered row fail rather than the export.
      let row: AuditEventRow;
      try {
        row = decodeAuditEvent(raw);
      } catch {
        row = { ...(raw as unknown as AuditEventRow) };
      }
      yield row;
    }
    if (rows.length < CHUNK_ROWS) return;
    after = Number(rows.at(-1)![filter.logId ? 'logIndex' : 'seq']);
  }
}

/** One NDJSON line per event, hashes and log position included: what `gateway audit export` writes. */
export function exportLine(row: AuditEventRow): string {
  const { seq: _seq, logId: _logId, ...event } = row;
  return JSON.stringify(event);
}
