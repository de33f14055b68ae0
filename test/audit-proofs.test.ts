// Roots, proofs and checkpoints from stored data, on a real log: events appended through the
// gateway's own appendEvent into a real database (SQLite, and PostgreSQL with TEST_BACKEND=postgres),
// then every root, inclusion proof and consistency proof read back from the stored subtree hashes is
// compared with RFC 9162's recursive definitions over the log's leaves, and verified as a client
// would. Checkpoints are signed once per size, kept, and agree with the same references.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvent } from '../src/audit/append.ts';
import { checkpointAt, checkpointCovering, currentCheckpoint, latestCheckpoint, logHead } from '../src/audit/checkpoint.ts';
import {
  eventLeafHash,
  naiveConsistencyProof,
  naiveInclusionProof,
  naiveRoot,
  verifyConsistency,
  verifyInclusion,
} from '../src/audit/merkle.ts';
import { verifyCheckpoint } from '../src/audit/note.ts';
import { consistencyProofAt, inclusionProofAt, inclusionProofsAt, rootAt } from '../src/audit/proofs.ts';
import { loadSigningKey, type AuditSigning } from '../src/audit/signing-key.ts';
import { loadConfig } from '../src/config.ts';
import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/open.ts';
import { systemRuntime } from '../src/runtime.ts';
import { createTestDatabase, execute, query, verifyEveryLog, type TestDatabase } from './support/database.ts';

const SIZE = 300;
/** Up to this size every (index, size) and (fromSize, toSize) pair is checked; above it, a sample. */
const ALL_PAIRS = 64;

let database: TestDatabase;
let db: Database;
let signing: AuditSigning;
/** org_a's leaf hashes in log order, from its events as stored. */
let leaves: Buffer[];

function append(organizationId: string, i: number) {
  return db.write(() =>
    appendEvent(systemRuntime, {
      actor: 'user:alice key:key_1',
      organizationId,
      action: 'transcription.delete',
      resourceKind: 'TRANSCRIPTION',
      resourceId: `trans_${organizationId}_${i}`,
      provider: 'AITRONOS_AUDIO',
      outcome: i % 4 === 3 ? 'UPSTREAM_DELETED' : 'DELETED',
      details: { i },
    }),
  );
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase(database.target);
  signing = loadSigningKey(loadConfig(database.env).audit, false).signing;
  // org_a's log interleaved with org_b's, a few appends at a time as concurrent requests make them.
  for (let i = 0; i < SIZE; i += 6) {
    await Promise.all([...Array.from({ length: 6 }, (_, j) => append('org_a', i + j)), append('org_b', i)]);
  }
  const rows = await query<{ hash: string; logIndex: number }>(db, `SELECT hash, log_index AS "logIndex" FROM audit_events WHERE log_id = 'org_a' ORDER BY log_index`);
  expect(rows.map((row) => Number(row.logIndex))).toEqual(Array.from({ length: SIZE }, (_, i) => i));
  leaves = rows.map((row) => eventLeafHash(row.hash));
}, 120_000);

afterAll(async () => {
  await db?.close();
  await database?.dispose();
});

/** A few indexes of a tree of size n: both ends, the middle, around the split, and a spread. */
function sample(n: number): number[] {
  const picks = [0, 1, n >> 1, n - 2, n - 1, (n * 7) % n, (n * 13 + 5) % n, 2 ** Math.floor(Math.log2(Math.max(1, n - 1)))];
  return [...new Set(picks.filter((i) => i >= 0 && i < n))];
}

describe("a log's roots and proofs from stored subtree hashes", () => {
  it('gives the RFC 9162 root of every size, and the head gives the root of the whole log', async () => {
    for (let n = 0; n <= SIZE; n += 1) expect((await db.read(rootAt('org_a', n))).toString('hex'), `size ${n}`).toBe(naiveRoot(leaves.slice(0, n)).toString('hex'));
    const head = await db.read(logHead('org_a'));
    expect(head.size).toBe(SIZE);
    expect(head.root.equals(naiveRoot(leaves))).toBe(true);
  });

  it('gives the RFC 9162 inclusion proof of every event in every tree size, and each verifies', async () => {
    let proofs = 0;
    for (let n = 1; n <= SIZE; n += 1) {
      const prefix = leaves.slice(0, n);
      const root = naiveRoot(prefix);
      const indexes = n <= ALL_PAIRS ? Array.from({ length: n }, (_, i) => i) : sample(n);
      // Several proofs of one tree in one query (what a receipt does), and one by one.
      const batch = await db.read(inclusionProofsAt('org_a', indexes, n));
      for (const m of indexes) {
        const expected = naiveInclusionProof(m, prefix).map((hash) => hash.toString('hex'));
        const single = await db.read(inclusionProofAt('org_a', m, n));
        expect(single.map((hash) => hash.toString('hex')), `index ${m} of ${n}`).toEqual(expected);
        expect(batch.get(m)!.map((hash) => hash.toString('hex')), `index ${m} of ${n} (batch)`).toEqual(expected);
        expect(verifyInclusion(leaves[m]!, m, n, single, root)).toBe(true);
        // Not a proof of the neighbour, nor of another size.
        if (n > 1) expect(verifyInclusion(leaves[m]!, (m + 1) % n, n, single, root)).toBe(false);
        proofs += 1;
      }
    }
    expect(proofs).toBeGreaterThan(ALL_PAIRS * ALL_PAIRS / 2);
  });

  it('gives the RFC 9162 consistency proof between every pair of sizes, and each verifies', async () => {
    for (let n = 0; n <= SIZE; n += 1) {
      const prefix = leaves.slice(0, n);
      const toRoot = naiveRoot(prefix);
      const froms = n <= ALL_PAIRS ? Array.from({ length: n + 1 }, (_, m) => m) : [0, ...sample(n), n];
      for (const m of froms) {
        const proof = await db.read(consistencyProofAt('org_a', m, n));
        expect(proof.map((hash) => hash.toString('hex')), `${m} → ${n}`).toEqual(naiveConsistencyProof(m, prefix).map((hash) => hash.toString('hex')));
        expect(verifyConsistency(m, n, proof, naiveRoot(leaves.slice(0, m)), toRoot), `${m} → ${n}`).toBe(true);
        if (m > 0 && m < n) expect(verifyConsistency(m, n, proof, naiveRoot(leaves.slice(1, m + 1)), toRoot)).toBe(false);
      }
    }
  });

  it('reads a proof in one statement of O(log n) rows', async () => {
    let statements: { sql: string; params: unknown[] }[] | null = null;
    const counted = await openDatabase(database.target, { onQuery: (sql, params) => statements?.push({ sql, params }) });
    try {
      statements = [];
      const proof = await counted.read(inclusionProofAt('org_a', 137, SIZE));
      expect(statements).toHaveLength(1);
      expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(SIZE)));
      if (database.backend === 'sqlite') {
        // Every part is a primary-key or (log, index) lookup, never a scan of the log's nodes.
        const { sql, params } = statements[0]!;
        const plan = (await query<{ detail: string }>(counted, `EXPLAIN QUERY PLAN ${sql}`, params)).map((step) => step.detail).filter((d) => d.startsWith('SEARCH'));
        expect(plan.length).toBeGreaterThan(1);
        for (const step of plan) expect(step).toMatch(/\(log_id=\? AND (level=\? AND node_index=\?|log_index=\?)\)/);
      }
    } finally {
      await counted.close();
    }
  });
});

describe('signed checkpoints', () => {
  it('signs the log at its size once, keeps it, and signs again only when the log grew', async () => {
    const at = new Date('2026-03-02T14:00:00.000Z');
    // Many asking at once: one checkpoint, no failure on its key.
    const answers = await Promise.all(Array.from({ length: 8 }, () => currentCheckpoint(db, signing, 'org_a', at)));
    const first = answers[0]!;
    for (const answer of answers) expect(answer).toEqual(first);
    expect(first).toMatchObject({ logId: 'org_a', origin: 'speech-deletion-gateway/org_a', treeSize: SIZE, signedAt: at.toISOString() });
    expect(first.rootHash.equals(naiveRoot(leaves))).toBe(true);
    const verified = verifyCheckpoint(first.signedNote, signing.key.verifierKey);
    expect(verified.ok && verified.checkpoint).toEqual({ origin: 'speech-deletion-gateway/org_a', size: SIZE, rootHash: naiveRoot(leaves) });
    expect(await query(db, "SELECT tree_size FROM audit_checkpoints WHERE log_id = 'org_a'")).toHaveLength(1);

    // Nothing new: the same one, later.
    expect(await currentCheckpoint(db, signing, 'org_a', new Date(at.getTime() + 60_000))).toEqual(first);
    // A past size: signed from stored nodes, kept beside it; asking again gives the stored one.
    const past = await checkpointAt(db, signing, 'org_a', 100, at);
    expect(past).toMatchObject({ treeSize: 100 });
    expect(past.rootHash.equals(naiveRoot(leaves.slice(0, 100)))).toBe(true);
    expect(await checkpointAt(db, signing, 'org_a', 100, new Date(at.getTime() + 1))).toEqual(past);
    // A proof or receipt takes the latest when it covers its events.
    expect(await checkpointCovering(db, signing, 'org_a', 50, new Date(at.getTime() + 2))).toEqual(first);

    const grown = await append('org_a', SIZE);
    leaves.push(eventLeafHash(grown.hash));
    const fresh = await currentCheckpoint(db, signing, 'org_a', new Date(at.getTime() + 120_000));
    expect(fresh.treeSize).toBe(SIZE + 1);
    expect(fresh.rootHash.equals(naiveRoot(leaves))).toBe(true);
    expect(await db.read(latestCheckpoint('org_a'))).toEqual(fresh);
    // Every checkpoint ever signed is kept, and consecutive ones are consistent.
    const kept = await query<{ size: number }>(db, "SELECT tree_size AS size FROM audit_checkpoints WHERE log_id = 'org_a' ORDER BY tree_size");
    expect(kept.map((row) => Number(row.size))).toEqual([100, SIZE, SIZE + 1]);
    const proof = await db.read(consistencyProofAt('org_a', 100, SIZE + 1));
    expect(verifyConsistency(100, SIZE + 1, proof, past.rootHash, fresh.rootHash)).toBe(true);

    // An empty log has a checkpoint too: size 0, the empty tree's root.
    const empty = await currentCheckpoint(db, signing, 'org_nothing', at);
    expect(empty).toMatchObject({ treeSize: 0, origin: 'speech-deletion-gateway/org_nothing' });
    expect(empty.rootHash.equals(naiveRoot([]))).toBe(true);
    // Every log still verifies, its checkpoints included.
    expect(await verifyEveryLog(db)).toMatchObject({ valid: true, problems: [] });
  });

  it('are append-only: the database refuses to change or remove one', async () => {
    await expect(execute(db, "UPDATE audit_checkpoints SET root_hash = 'x' WHERE log_id = 'org_a'")).rejects.toThrow(/append-only/);
    await expect(execute(db, "DELETE FROM audit_checkpoints WHERE log_id = 'org_a'")).rejects.toThrow(/append-only/);
    if (database.backend === 'postgres') await expect(execute(db, 'TRUNCATE audit_checkpoints')).rejects.toThrow(/append-only/);
  });
});
