// How long a signed checkpoint, an inclusion proof, a consistency proof and a receipt take on one
// organisation's log of N events (default 1,000,000), on SQLite. The log is written fast with the
// gateway's own hashes and stored-node model (bench/audit-log.ts); then each is timed through the
// functions the API calls, and every proof is checked against the signed root (not timed).
// Run: npx tsx bench/audit-proofs.ts [N]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkpointAt, currentCheckpoint } from '../src/audit/checkpoint.ts';
import { decodeAuditEvent, AUDIT_COLUMNS } from '../src/audit/event.ts';
import { eventLeafHash, inclusionProofRanges, proofNodes, verifyConsistency, verifyInclusion } from '../src/audit/merkle.ts';
import { generateSigningKeyPem, loadSigner, verifyCheckpoint } from '../src/audit/note.ts';
import { consistencyProofAt, inclusionProofAt } from '../src/audit/proofs.ts';
import { createReceipt } from '../src/audit/receipt.ts';
import type { AuditSigning } from '../src/audit/signing-key.ts';
import { openDatabase } from '../src/db/open.ts';
import { all, get } from '../src/db/sql.ts';
import type { SqliteDatabase } from '../src/db/sqlite/database.ts';
import { writeAuditLogs } from './audit-log.ts';

const total = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(total) || total < 2) throw new Error('usage: npx tsx bench/audit-proofs.ts [EVENTS]');
const LOG = 'org_0';
const SAMPLES = 1_000;

const dir = mkdtempSync(join(tmpdir(), 'audit-proofs-bench-'));
const dbPath = join(dir, 'audit.db');
const ms = (from: number) => performance.now() - from;
const round = (value: number) => Math.round(value * 1000) / 1000;
function summary(times: number[]) {
  const sorted = [...times].sort((a, b) => a - b);
  return { medianMs: round(sorted[sorted.length >> 1]!), p99Ms: round(sorted[Math.floor(sorted.length * 0.99)]!), maxMs: round(sorted.at(-1)!) };
}
// A fixed sequence, so two runs time the same proofs.
let seed = 42;
const next = (below: number) => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed % below;
};

try {
  const writer = (await openDatabase({ path: dbPath })) as SqliteDatabase;
  const generated = performance.now();
  writeAuditLogs(writer, total, 1);
  const generateMs = ms(generated);
  await writer.close();

  const db = await openDatabase({ path: dbPath });
  const signing: AuditSigning = { logOrigin: 'speech-deletion-gateway', key: loadSigner(generateSigningKeyPem(), 'speech-deletion-gateway') };
  const now = new Date('2026-03-02T14:00:00.000Z');

  // A checkpoint of the whole log: the root from the head's frontier, signed, stored.
  let began = performance.now();
  const checkpoint = await currentCheckpoint(db, signing, LOG, now);
  const checkpointMs = ms(began);
  if (checkpoint.treeSize !== total || !verifyCheckpoint(checkpoint.signedNote, signing.key.verifierKey).ok) throw new Error('bad checkpoint');
  // Asked again, nothing appended: the stored one.
  began = performance.now();
  await currentCheckpoint(db, signing, LOG, now);
  const latestMs = ms(began);
  // Past sizes: the root folded from stored subtree hashes read in one query, signed, stored.
  began = performance.now();
  const past = await checkpointAt(db, signing, LOG, total - 1, now);
  const pastCheckpoints = [ms(began)];
  for (let i = 0; i < 20; i += 1) {
    began = performance.now();
    await checkpointAt(db, signing, LOG, 1 + next(total - 2), now);
    pastCheckpoints.push(ms(began));
  }

  const inclusion: number[] = [];
  let nodesRead = 0;
  for (let i = 0; i < SAMPLES; i += 1) {
    const index = i === 0 ? 0 : i === 1 ? total - 1 : next(total);
    began = performance.now();
    const proof = await db.read(inclusionProofAt(LOG, index, total));
    inclusion.push(ms(began));
    nodesRead += proofNodes(inclusionProofRanges(index, total)).length;
    const event = await db.read(get<{ hash: string }>('SELECT hash FROM audit_events WHERE log_id = ? AND log_index = ?', [LOG, index]));
    if (!verifyInclusion(eventLeafHash(event!.hash), index, total, proof, checkpoint.rootHash)) throw new Error(`inclusion proof of ${index} does not verify`);
  }

  const consistency: number[] = [];
  for (let i = 0; i < SAMPLES / 10; i += 1) {
    const from = 1 + next(total - 1);
    began = performance.now();
    const proof = await db.read(consistencyProofAt(LOG, from, total - 1));
    consistency.push(ms(began));
    if (i === 0) {
      const older = await checkpointAt(db, signing, LOG, from, now);
      if (!verifyConsistency(from, total - 1, proof, older.rootHash, past.rootHash)) throw new Error('consistency proof does not verify');
    }
  }

  // A receipt of two events (a deletion and its confirmation) in the middle of the log.
  const events = (await db.read(all(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE log_id = ? AND log_index IN (?, ?)`, [LOG, total >> 1, (total >> 1) + 1]))).map(
    decodeAuditEvent,
  );
  began = performance.now();
  const receipt = await createReceipt(db, signing, { organizationId: LOG, about: { resource: { kind: 'TRANSCRIPTION', id: 'res_x', deletedWith: null } }, events, now });
  const receiptMs = ms(began);
  await db.close();

  console.info(
    JSON.stringify({
      events: total,
      generateMs: Math.round(generateMs),
      dbMb: Math.round(statSync(dbPath).size / 1e6),
      checkpoint: { freshMs: round(checkpointMs), latestMs: round(latestMs), pastSize: { samples: pastCheckpoints.length, ...summary(pastCheckpoints) } },
      inclusionProof: { samples: SAMPLES, ...summary(inclusion), hashes: checkpoint.treeSize > 1 ? Math.ceil(Math.log2(total)) : 0, storedHashesRead: round(nodesRead / SAMPLES) },
      consistencyProof: { samples: consistency.length, ...summary(consistency) },
      receipt: { events: receipt.events.length, ms: round(receiptMs), bytes: Buffer.byteLength(JSON.stringify(receipt)) },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
