// Proof a deletion happened, through the real gateway: signed checkpoints of each organisation's
// log, inclusion and consistency proofs that verify against them, receipts of real deletions that
// the standalone scripts/verify-receipt.mjs accepts with the key `gateway audit public-key` prints
// (and refuses once tampered with), bad arguments answered as VALIDATION_ERROR, another
// organisation's events never proven. Runs on SQLite and on PostgreSQL.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventLeafHash, verifyConsistency, verifyInclusion } from '../src/audit/merkle.ts';
import { generateSigningKeyPem, loadSigner, verifyCheckpoint } from '../src/audit/note.ts';
import { REPO_ROOT, runGateway } from './support/cli.ts';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const CHECKPOINT = '{ auditCheckpoint { origin treeSize rootHash signedNote signedAt } }';
const INCLUSION = `query($eventId: ID!, $treeSize: Int) {
  auditInclusionProof(eventId: $eventId, treeSize: $treeSize) { eventId logIndex treeSize hashes checkpoint { origin treeSize rootHash signedNote } }
}`;
const CONSISTENCY = `query($fromSize: Int!, $toSize: Int) {
  auditConsistencyProof(fromSize: $fromSize, toSize: $toSize) { fromSize toSize hashes checkpoint { treeSize rootHash signedNote } }
}`;
const VERIFICATION = '{ auditTrailVerification { valid eventsChecked firstInvalidEventId checkpointsChecked } }';
const DELETE_TRANSCRIPTION = `mutation($id: ID!) {
  deleteTranscription(transcriptionId: $id) { __typename ... on TranscriptionDeletion { auditEvent { id logIndex hash } } }
}`;

interface Checkpoint {
  origin: string;
  treeSize: number;
  rootHash: string;
  signedNote: string;
  signedAt: string;
}

let t: TestGateway;
let dir: string;
/** The verifier key, as the operator gets it: `gateway audit public-key` on the gateway's configuration. */
let publicKey: string;

beforeAll(async () => {
  t = await startTestGateway({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  dir = mkdtempSync(join(tmpdir(), 'sdg-proof-api-'));
  const printed = await runGateway(['audit', 'public-key'], t.database.env);
  expect(printed.code).toBe(0);
  publicKey = printed.stdout.trimEnd().split('\n').at(-1)!;
});
afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function data<T = Record<string, any>>(key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const answer = await t.gql<T>(key, query, variables);
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  return answer.body.data!;
}

async function deletedTranscription(id: string, organizationId = ORG, key = t.keys.member): Promise<{ id: string; logIndex: number; hash: string }> {
  await t.register([{ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId, ownerId: 'bob' }]);
  const result = await data(key, DELETE_TRANSCRIPTION, { id });
  return result.deleteTranscription.auditEvent;
}

async function logSize(organizationId: string): Promise<number> {
  const [row] = await t.sql<{ n: number }>('SELECT count(*) AS n FROM audit_events WHERE organization_id = ?', [organizationId]);
  return Number(row!.n);
}

const bytes = (base64: string) => Buffer.from(base64, 'base64');

/** The checkpoint's note verifies with the operator's key and says what the fields say. */
function expectSigned(checkpoint: Pick<Checkpoint, 'treeSize' | 'rootHash' | 'signedNote'> & { origin?: string }, organizationId = ORG): void {
  const verified = verifyCheckpoint(checkpoint.signedNote, publicKey);
  expect(verified.ok, verified.ok ? '' : verified.problem).toBe(true);
  if (!verified.ok) return;
  expect(verified.checkpoint.origin).toBe(`speech-deletion-gateway/${organizationId}`);
  expect(verified.checkpoint.size).toBe(checkpoint.treeSize);
  expect(verified.checkpoint.rootHash.toString('base64')).toBe(checkpoint.rootHash);
}

/** A top-level VALIDATION_ERROR naming the argument, never a 5xx, and no data. */
async function expectValidationError(query: string, variables: Record<string, unknown>, field: string, key = t.keys.member): Promise<string> {
  const answer = await t.gql(key, query, variables);
  expect(answer.status).toBeLessThan(500);
  expect(answer.body.errors, JSON.stringify(answer.body)).toHaveLength(1);
  expect(answer.body.errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_ERROR', field });
  return answer.body.errors![0]!.message;
}

describe('auditCheckpoint', () => {
  it("gives every role of the organisation a signed checkpoint of its log as it is now, fresh only when the log grew", async () => {
    await deletedTranscription('trans_cp_1');
    const byRole = await Promise.all([t.keys.admin, t.keys.member, t.keys.viewer].map((key) => data<{ auditCheckpoint: Checkpoint }>(key, CHECKPOINT)));
    const first = byRole[0]!.auditCheckpoint;
    for (const answer of byRole) expect(answer.auditCheckpoint).toEqual(first);
    expect(first).toMatchObject({ origin: `speech-deletion-gateway/${ORG}`, treeSize: await logSize(ORG) });
    expectSigned(first);

    // Nothing appended: the same checkpoint.
    expect((await data<{ auditCheckpoint: Checkpoint }>(t.keys.viewer, CHECKPOINT)).auditCheckpoint).toEqual(first);
    await deletedTranscription('trans_cp_2');
    const grown = (await data<{ auditCheckpoint: Checkpoint }>(t.keys.viewer, CHECKPOINT)).auditCheckpoint;
    expect(grown.treeSize).toBe(first.treeSize + 2);
    expectSigned(grown);
    // Both kept, and the newer one extends the older one.
    const stored = await t.sql<{ size: number }>('SELECT tree_size AS size FROM audit_checkpoints WHERE log_id = ? ORDER BY tree_size', [ORG]);
    expect(stored.map((row) => Number(row.size))).toEqual(expect.arrayContaining([first.treeSize, grown.treeSize]));
    const { auditConsistencyProof } = await data(t.keys.viewer, CONSISTENCY, { fromSize: first.treeSize, toSize: grown.treeSize });
    expect(verifyConsistency(first.treeSize, grown.treeSize, auditConsistencyProof.hashes.map(bytes), bytes(first.rootHash), bytes(grown.rootHash))).toBe(true);
  });

  it("keeps two organisations' logs apart: their own sizes, origins, checkpoints and verification counts", async () => {
    await deletedTranscription('trans_org_a');
    await deletedTranscription('trans_org_b_1', OTHER_ORG, t.keys.otherMember);
    await deletedTranscription('trans_org_b_2', OTHER_ORG, t.keys.otherMember);
    const [mine, theirs] = await Promise.all([
      data<{ auditCheckpoint: Checkpoint }>(t.keys.member, CHECKPOINT),
      data<{ auditCheckpoint: Checkpoint }>(t.keys.otherMember, CHECKPOINT),
    ]);
    expect(mine.auditCheckpoint).toMatchObject({ origin: `speech-deletion-gateway/${ORG}`, treeSize: await logSize(ORG) });
    expect(theirs.auditCheckpoint).toMatchObject({ origin: `speech-deletion-gateway/${OTHER_ORG}`, treeSize: await logSize(OTHER_ORG) });
    expectSigned(theirs.auditCheckpoint, OTHER_ORG);
    expect(theirs.auditCheckpoint.rootHash).not.toBe(mine.auditCheckpoint.rootHash);

    const [a, b] = await Promise.all([data(t.keys.admin, VERIFICATION), data(t.keys.otherAdmin, VERIFICATION)]);
    const checkpoints = async (logId: string) => (await t.sql('SELECT tree_size FROM audit_checkpoints WHERE log_id = ?', [logId])).length;
    expect(a.auditTrailVerification).toEqual({ valid: true, eventsChecked: await logSize(ORG), firstInvalidEventId: null, checkpointsChecked: await checkpoints(ORG) });
    expect(b.auditTrailVerification).toEqual({ valid: true, eventsChecked: await logSize(OTHER_ORG), firstInvalidEventId: null, checkpointsChecked: await checkpoints(OTHER_ORG) });
    expect(await checkpoints(OTHER_ORG)).toBeGreaterThan(0);
  });
});

describe('auditInclusionProof', () => {
  it("proves an event in the latest checkpoint, or in a tree size asked for, and the proof verifies against that checkpoint's root", async () => {
    const event = await deletedTranscription('trans_incl');
    const leaf = eventLeafHash(event.hash);
    const latest = (await data(t.keys.viewer, INCLUSION, { eventId: event.id })).auditInclusionProof;
    expect(latest).toMatchObject({ eventId: event.id, logIndex: event.logIndex });
    expect(latest.treeSize).toBeGreaterThan(event.logIndex);
    expect(latest.checkpoint.treeSize).toBe(latest.treeSize);
    expectSigned(latest.checkpoint);
    expect(verifyInclusion(leaf, event.logIndex, latest.treeSize, latest.hashes.map(bytes), bytes(latest.checkpoint.rootHash))).toBe(true);

    // The smallest tree that holds it, and the whole log: each with its own signed checkpoint.
    for (const treeSize of [event.logIndex + 1, await logSize(ORG)]) {
      const proof = (await data(t.keys.member, INCLUSION, { eventId: event.id, treeSize })).auditInclusionProof;
      expect(proof.treeSize).toBe(treeSize);
      expectSigned(proof.checkpoint);
      expect(verifyInclusion(leaf, event.logIndex, treeSize, proof.hashes.map(bytes), bytes(proof.checkpoint.rootHash))).toBe(true);
      // The hash of another event does not verify with it.
      expect(verifyInclusion(eventLeafHash('0'.repeat(64)), event.logIndex, treeSize, proof.hashes.map(bytes), bytes(proof.checkpoint.rootHash))).toBe(false);
    }
  });

  it("answers null for an unknown event and for another organisation's event, whatever the tree size", async () => {
    const theirs = await deletedTranscription('trans_theirs', OTHER_ORG, t.keys.otherMember);
    for (const variables of [{ eventId: 'evt_nope' }, { eventId: theirs.id }, { eventId: theirs.id, treeSize: theirs.logIndex + 1 }, { eventId: theirs.id, treeSize: 10_000 }]) {
      const answer = await t.gql(t.keys.member, INCLUSION, variables);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ data: { auditInclusionProof: null } });
    }
  });

  it('refuses a tree size that does not hold the event, or is larger than the log, or negative, with VALIDATION_ERROR', async () => {
    const event = await deletedTranscription('trans_bad_size');
    const size = await logSize(ORG);
    expect(await expectValidationError(INCLUSION, { eventId: event.id, treeSize: size + 1 }, 'treeSize')).toContain(`holds ${size} events`);
    expect(await expectValidationError(INCLUSION, { eventId: event.id, treeSize: event.logIndex }, 'treeSize')).toContain(`at least ${event.logIndex + 1}`);
    await expectValidationError(INCLUSION, { eventId: event.id, treeSize: -1 }, 'treeSize');
    await expectValidationError(INCLUSION, { eventId: event.id, treeSize: 0 }, 'treeSize');
  });
});

describe('auditConsistencyProof', () => {
  it('proves the log now extends any earlier size, against a signed checkpoint', async () => {
    const kept = (await data<{ auditCheckpoint: Checkpoint }>(t.keys.viewer, CHECKPOINT)).auditCheckpoint;
    await deletedTranscription('trans_consistent');
    const proof = (await data(t.keys.viewer, CONSISTENCY, { fromSize: kept.treeSize })).auditConsistencyProof;
    expect(proof.fromSize).toBe(kept.treeSize);
    expect(proof.toSize).toBe(await logSize(ORG));
    expect(proof.checkpoint.treeSize).toBe(proof.toSize);
    expectSigned(proof.checkpoint);
    expect(verifyConsistency(kept.treeSize, proof.toSize, proof.hashes.map(bytes), bytes(kept.rootHash), bytes(proof.checkpoint.rootHash))).toBe(true);
    // From the empty tree, and to the same size: empty proofs.
    expect((await data(t.keys.viewer, CONSISTENCY, { fromSize: 0, toSize: 3 })).auditConsistencyProof).toMatchObject({ fromSize: 0, toSize: 3, hashes: [] });
    expect((await data(t.keys.viewer, CONSISTENCY, { fromSize: 3, toSize: 3 })).auditConsistencyProof).toMatchObject({ hashes: [] });
  });

  it('refuses fromSize > toSize, negative sizes and sizes beyond the log with VALIDATION_ERROR', async () => {
    const size = await logSize(ORG);
    await expectValidationError(CONSISTENCY, { fromSize: 5, toSize: 4 }, 'fromSize');
    await expectValidationError(CONSISTENCY, { fromSize: -1 }, 'fromSize');
    await expectValidationError(CONSISTENCY, { fromSize: 0, toSize: -2 }, 'toSize');
    expect(await expectValidationError(CONSISTENCY, { fromSize: 1, toSize: size + 1 }, 'toSize')).toContain(`holds ${size} events`);
    await expectValidationError(CONSISTENCY, { fromSize: size + 1 }, 'fromSize');
  });
});

function verifyReceipt(file: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'scripts/verify-receipt.mjs'), file, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

let written = 0;
function save(receipt: unknown): string {
  written += 1;
  const file = join(dir, `receipt-${written}.json`);
  writeFileSync(file, JSON.stringify(receipt, null, 2));
  return file;
}

const PROOF = `query($kind: ResourceKind!, $id: ID!) { resource(kind: $kind, id: $id) { deletedAt deletionProof } }`;

describe('Resource.deletionProof', () => {
  beforeAll(async () => {
    await t.register([
      { kind: 'SESSION', id: 'sess_proof', organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: 'doc_proof', sessionId: 'sess_proof', organizationId: ORG, ownerId: 'bob' },
      { kind: 'COMMENT', id: 'cmt_proof', sessionId: 'sess_proof', documentId: 'doc_proof', organizationId: ORG, ownerId: 'bob' },
      { kind: 'SESSION', id: 'sess_kept', organizationId: ORG, ownerId: 'bob' },
    ]);
    // Someone without the right first, then the deletion, with events of others in between.
    await t.gql(t.keys.otherMember, 'mutation { deleteSession(sessionId: "sess_proof") { __typename } }');
    await deletedTranscription('trans_between');
    const answer = await data(t.keys.member, 'mutation { deleteSession(sessionId: "sess_proof") { __typename ... on SessionDeletion { documentsDeleted commentsDeleted } } }');
    expect(answer.deleteSession).toEqual({ __typename: 'SessionDeletion', documentsDeleted: 1, commentsDeleted: 1 });
    await deletedTranscription('trans_after');
  });

  it("gives a deleted session's receipt, which verify-receipt.mjs accepts with the key from `gateway audit public-key`", async () => {
    const { resource } = await data(t.keys.viewer, PROOF, { kind: 'SESSION', id: 'sess_proof' });
    const receipt = resource.deletionProof;
    expect(receipt).toMatchObject({ format: 'sdg-receipt/1', organizationId: ORG, resource: { kind: 'SESSION', id: 'sess_proof', deletedWith: null }, publicKey });
    expect(receipt.events.map((e: { outcome: string; resourceId: string }) => [e.outcome, e.resourceId])).toEqual([
      ['DELETED', 'sess_proof'],
      ['UPSTREAM_DELETED', 'sess_proof'],
    ]);
    // Every field, the hash and the log index; one proof each, all against the one checkpoint.
    expect(Object.keys(receipt.events[0]).sort()).toEqual(
      ['action', 'actor', 'at', 'details', 'hash', 'id', 'logIndex', 'organizationId', 'outcome', 'previousHash', 'provider', 'requestId', 'resourceId', 'resourceKind', 'traceId', 'upstreamHttpStatus'].sort(),
    );
    const verified = verifyCheckpoint(receipt.checkpoint, publicKey);
    expect(verified.ok).toBe(true);
    for (const [i, proof] of receipt.proofs.entries()) {
      expect(proof).toMatchObject({ eventId: receipt.events[i].id, logIndex: receipt.events[i].logIndex, treeSize: verified.ok && verified.checkpoint.size });
    }
    const file = save(receipt);
    const result = await verifyReceipt(file, '--key', publicKey);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('SESSION sess_proof: deleted');
    console.info(`receipt of a session deletion (2 events, pretty-printed as saved): ${Buffer.byteLength(JSON.stringify(receipt, null, 2))} bytes, ${Buffer.byteLength(JSON.stringify(receipt))} bytes compact`);
  });

  it("gives a document deleted with its session the session's events, deletedWith naming it, and it verifies", async () => {
    for (const [kind, id] of [['DOCUMENT', 'doc_proof'], ['COMMENT', 'cmt_proof']] as const) {
      const { resource } = await data(t.keys.member, PROOF, { kind, id });
      expect(resource.deletionProof).toMatchObject({ resource: { kind, id, deletedWith: { kind: 'SESSION', id: 'sess_proof' } } });
      expect(resource.deletionProof.events.map((e: { resourceId: string }) => e.resourceId)).toEqual(['sess_proof', 'sess_proof']);
      const result = await verifyReceipt(save(resource.deletionProof), '--key', publicKey);
      expect(result, result.stderr).toMatchObject({ code: 0 });
      expect(result.stdout).toContain(`${kind} ${id} (deleted with SESSION sess_proof)`);
    }
  });

  it('is refused by the script once tampered with: an event field, a proof hash, the checkpoint, or checked with another key', async () => {
    const { resource } = await data(t.keys.viewer, PROOF, { kind: 'SESSION', id: 'sess_proof' });
    const original = resource.deletionProof;
    const tampered = (change: (copy: any) => void) => {
      const copy = structuredClone(original);
      change(copy);
      return save(copy);
    };
    const cases: [string, string, string[]][] = [
      ['an event field', tampered((r) => (r.events[0].actor = 'user:mallory key:key_x')), ['--key', publicKey]],
      ['a proof hash', tampered((r) => (r.proofs[1].hashes[0] = Buffer.alloc(32, 7).toString('base64'))), ['--key', publicKey]],
      ['the checkpoint size', tampered((r) => (r.checkpoint = r.checkpoint.replace(/\n(\d+)\n/, (_: string, n: string) => `\n${Number(n) + 1}\n`))), ['--key', publicKey]],
      ['another key of the same name', save(original), ['--key', loadSigner(generateSigningKeyPem(), 'speech-deletion-gateway').verifierKey]],
    ];
    for (const [what, file, args] of cases) {
      const result = await verifyReceipt(file, ...args);
      expect(result.code, `${what}: ${result.stdout}${result.stderr}`).not.toBe(0);
    }
    expect((await verifyReceipt(cases[0]![1], '--key', publicKey)).stderr).toContain('FAILED event hash');
    expect((await verifyReceipt(cases[1]![1], '--key', publicKey)).stderr).toContain('FAILED proof');
    expect((await verifyReceipt(cases[2]![1], '--key', publicKey)).stderr).toContain('FAILED signature');
    expect((await verifyReceipt(cases[3]![1], ...cases[3]![2])).stderr).toContain('FAILED signature');
  });

  it('is null for a resource that is not deleted, and another organisation never sees the resource', async () => {
    expect((await data(t.keys.member, PROOF, { kind: 'SESSION', id: 'sess_kept' })).resource).toEqual({ deletedAt: null, deletionProof: null });
    expect((await data(t.keys.otherAdmin, PROOF, { kind: 'SESSION', id: 'sess_proof' })).resource).toBeNull();
  });
});
