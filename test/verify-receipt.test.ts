import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventHash, type HashedEvent } from '../src/audit/chain.ts';
import { eventLeafHash, inclusionProof, newNodeHashes, nodeKey, rootOf, type NodeId } from '../src/audit/merkle.ts';
import { checkpointBody, generateSigningKeyPem, loadSigner, type NoteSigner } from '../src/audit/note.ts';
import { REPO_ROOT } from './support/cli.ts';

const SCRIPT = path.join(REPO_ROOT, 'scripts/verify-receipt.mjs');
const ORIGIN = 'speech-deletion-gateway';
const dir = mkdtempSync(path.join(tmpdir(), 'sdg-receipt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type LogEvent = HashedEvent & { previousHash: string | null; hash: string; logIndex: number };
type EventInput = Partial<HashedEvent> & Pick<HashedEvent, 'action' | 'outcome'>;

/** One organisation's log as the gateway keeps it: a hash chain, a Merkle tree over it, a signed checkpoint. */
function buildLog(organizationId: string, inputs: EventInput[], signer: NoteSigner) {
  const events: LogEvent[] = [];
  const nodes = new Map<string, Buffer>();
  const lookup = (id: NodeId): Buffer | undefined => nodes.get(nodeKey(id));
  let previousHash: string | null = null;
  inputs.forEach((input, logIndex) => {
    const fields: HashedEvent = {
      id: `evt_${organizationId}_${logIndex}`,
      at: new Date(Date.UTC(2026, 2, 1, 10, 0, logIndex)).toISOString(),
      actor: 'user:alice key:key_1',
      organizationId,
      resourceKind: null,
      resourceId: null,
      provider: null,
      requestId: `req_${logIndex}`,
      traceId: null,
      upstreamHttpStatus: null,
      details: null,
      ...input,
    };
    const hash = eventHash(previousHash, fields);
    events.push({ ...fields, previousHash, hash, logIndex });
    const leaf = eventLeafHash(hash);
    nodes.set(nodeKey({ level: 0, index: logIndex }), leaf);
    for (const { id, hash: node } of newNodeHashes(logIndex, leaf, lookup)) nodes.set(nodeKey(id), node);
    previousHash = hash;
  });
  const size = events.length;
  const checkpoint = signer.sign(checkpointBody(`${ORIGIN}/${organizationId}`, size, rootOf(size, lookup)));
  /** A receipt carrying the given events of this log, each with its inclusion proof. */
  const receipt = (about: Record<string, unknown>, selected: LogEvent[]) => ({
    format: 'sdg-receipt/1',
    organizationId,
    ...about,
    events: selected,
    proofs: selected.map((event) => ({
      eventId: event.id,
      logIndex: event.logIndex,
      treeSize: size,
      hashes: inclusionProof(event.logIndex, size, lookup).map((hash) => hash.toString('base64')),
    })),
    checkpoint,
    publicKey: signer.verifierKey,
  });
  return { events, size, checkpoint, receipt };
}

const signer = loadSigner(generateSigningKeyPem(), ORIGIN);
const stranger = loadSigner(generateSigningKeyPem(), ORIGIN);

// A small but realistic log of org_a: a session deleted with its documents, a retry before the
// provider confirmed it, unrelated events between, and an erasure of subject u7 across providers.
const log = buildLog(
  'org_a',
  [
    { action: 'session.delete', outcome: 'NOT_FOUND', resourceKind: 'SESSION', resourceId: 'nope' },
    { action: 'transcription.delete', outcome: 'DELETED', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_0', provider: 'AITRONOS_AUDIO' },
    {
      action: 'session.delete',
      outcome: 'DELETED',
      resourceKind: 'SESSION',
      resourceId: 's1',
      provider: 'SCRIPTIX',
      // Keys out of order and non-ASCII text: the script must sort and hash them as chain.ts does.
      details: { documentsDeleted: 2, commentsDeleted: 1, cascade: { documents: ['d1', 'd2'], comments: ['c1'] }, note: 'Löschung — Art. 17' },
    },
    { action: 'upstream.delete', outcome: 'UPSTREAM_RETRY_SCHEDULED', resourceKind: 'SESSION', resourceId: 's1', provider: 'SCRIPTIX', upstreamHttpStatus: 503, details: { attempt: 1 } },
    { action: 'transcription.delete', outcome: 'PERMISSION_DENIED', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_9', provider: 'REV_AI' },
    { action: 'upstream.delete', outcome: 'UPSTREAM_DELETED', resourceKind: 'SESSION', resourceId: 's1', provider: 'SCRIPTIX', upstreamHttpStatus: 204, details: { attempt: 2, providerRequestId: null } },
    { action: 'subject.erase', outcome: 'ERASURE_REQUESTED' as HashedEvent['outcome'], resourceId: 'era_1', details: { erasureRequestId: 'era_1', subjectId: 'u7', reason: 'ticket 4711' } },
    { action: 'transcription.delete', outcome: 'DELETED', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_7', provider: 'AITRONOS_AUDIO', details: { onBehalfOf: 'u7', erasureRequestId: 'era_1' } },
    { action: 'document.delete', outcome: 'DELETED', resourceKind: 'DOCUMENT', resourceId: 'd5', provider: 'SCRIPTIX', details: { onBehalfOf: 'u7', erasureRequestId: 'era_1' } },
    { action: 'comment.delete', outcome: 'DELETED', resourceKind: 'COMMENT', resourceId: 'c9', provider: 'SCRIPTIX', details: { onBehalfOf: 'u7', erasureRequestId: 'era_1' } },
    { action: 'upstream.delete', outcome: 'UPSTREAM_DELETED', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_7', provider: 'AITRONOS_AUDIO', upstreamHttpStatus: 200 },
    { action: 'upstream.delete', outcome: 'UPSTREAM_DELETED', resourceKind: 'DOCUMENT', resourceId: 'd5', provider: 'SCRIPTIX', upstreamHttpStatus: 204 },
    { action: 'upstream.delete', outcome: 'UPSTREAM_RETRY_SCHEDULED', resourceKind: 'COMMENT', resourceId: 'c9', provider: 'SCRIPTIX', upstreamHttpStatus: 500 },
    { action: 'track.delete', outcome: 'VALIDATION_FAILED', resourceKind: 'TRACK', resourceId: 'x' },
  ],
  signer,
);
const at = (logIndex: number): LogEvent => log.events[logIndex]!;

const sessionReceipt = log.receipt({ resource: { kind: 'SESSION', id: 's1', deletedWith: null } }, [at(2), at(3), at(5)]);
const documentReceipt = log.receipt({ resource: { kind: 'DOCUMENT', id: 'd2', deletedWith: { kind: 'SESSION', id: 's1' } } }, [at(2), at(5)]);
const erasureItems = [
  { kind: 'TRANSCRIPTION', id: 'trans_7', provider: 'AITRONOS_AUDIO', carrier: { kind: 'TRANSCRIPTION', id: 'trans_7' } },
  { kind: 'DOCUMENT', id: 'd5', provider: 'SCRIPTIX', carrier: { kind: 'DOCUMENT', id: 'd5' } },
];
const erasureReceipt = log.receipt(
  { erasureRequest: { id: 'era_1', subjectId: 'u7', providers: ['AITRONOS_AUDIO', 'SCRIPTIX'], items: erasureItems } },
  [at(6), at(7), at(8), at(10), at(11)],
);
const unconfirmedErasure = log.receipt(
  {
    erasureRequest: {
      id: 'era_1',
      subjectId: 'u7',
      providers: ['AITRONOS_AUDIO', 'SCRIPTIX'],
      items: [...erasureItems, { kind: 'COMMENT', id: 'c9', provider: 'SCRIPTIX', carrier: { kind: 'COMMENT', id: 'c9' } }],
    },
  },
  [at(6), at(7), at(8), at(9), at(10), at(11), at(12)],
);

let files = 0;
function write(content: unknown): string {
  files += 1;
  const file = path.join(dir, `receipt-${files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const check = (receipt: unknown, ...args: string[]) => run(write(receipt), ...args);
const withKey = ['--key', signer.verifierKey];

/** A deep copy with one change. */
function tampered<T>(receipt: T, change: (copy: T) => void): T {
  const copy = structuredClone(receipt);
  change(copy);
  return copy;
}

/** One character of `text` at `index` replaced by another of the same alphabet (so the text stays well-formed). */
function changeChar(text: string, index: number): string {
  const c = text[index]!;
  const swap = /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : c === 'A' ? 'B' : /[a-f]/.test(c) ? (c === 'a' ? 'b' : 'a') : 'A';
  return text.slice(0, index) + swap + text.slice(index + 1);
}

type Receipt = typeof sessionReceipt;

describe('scripts/verify-receipt.mjs on good receipts', () => {
  it('accepts a resource receipt checked with the operator key, and says what it proved', async () => {
    const result = await check(sessionReceipt, ...withKey);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`checkpoint ${ORIGIN}/org_a at size ${log.size}, signed by ${ORIGIN}+${signer.keyId}`);
    expect(result.stdout).toContain('SESSION s1: deleted (event evt_org_a_2, log index 2), confirmed by the provider (event evt_org_a_5, log index 5)');
  });

  it('accepts a receipt of a document deleted with its session, from the session events', async () => {
    const result = await check(documentReceipt, `--key=${signer.verifierKey}`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('DOCUMENT d2 (deleted with SESSION s1): deleted');
  });

  it('accepts an erasure receipt whose every item the providers confirmed', async () => {
    const result = await check(erasureReceipt, ...withKey);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('erasure request era_1 for subject u7 (event evt_org_a_6): 2 item(s) confirmed deleted by their providers (AITRONOS_AUDIO, SCRIPTIX)');
  });

  it("uses the receipt's own key without --key, warning that the key should come from the operator", async () => {
    const result = await check(sessionReceipt);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: no --key given.*gateway's operator/s);
    expect(result.stdout).toContain("the receipt's own key");
  });
});

describe('scripts/verify-receipt.mjs on tampered receipts', () => {
  const cases: [what: string, receipt: Receipt, args: string[], failure: RegExp][] = [
    [
      'one character of an event field',
      tampered(sessionReceipt, (r) => {
        r.events[0]!.at = changeChar(r.events[0]!.at as string, 18);
      }),
      withKey,
      /FAILED event hash: event evt_org_a_2 \(log index 2\): its fields hash to [0-9a-f]{64}, not to its hash/,
    ],
    [
      'one character inside the details of an event',
      tampered(sessionReceipt, (r) => {
        (r.events[0]!.details as { documentsDeleted: number }).documentsDeleted = 3;
      }),
      withKey,
      /FAILED event hash: event evt_org_a_2 /,
    ],
    [
      'one hex digit of an event hash',
      tampered(sessionReceipt, (r) => {
        r.events[1]!.hash = changeChar(r.events[1]!.hash, 10);
      }),
      withKey,
      /FAILED event hash: event evt_org_a_3 /,
    ],
    [
      'one character of a proof hash',
      tampered(sessionReceipt, (r) => {
        r.proofs[2]!.hashes[1] = changeChar(r.proofs[2]!.hashes[1]!, 0);
      }),
      withKey,
      /FAILED proof: event evt_org_a_5: the inclusion proof does not lead from its hash at log index 5 to the checkpoint's root at size 14/,
    ],
    [
      'a proof hash removed',
      tampered(sessionReceipt, (r) => {
        r.proofs[0]!.hashes.pop();
      }),
      withKey,
      /FAILED proof: event evt_org_a_2: the inclusion proof does not lead/,
    ],
    [
      "an event's log index",
      tampered(sessionReceipt, (r) => {
        r.events[0]!.logIndex = 3;
        r.proofs[0]!.logIndex = 3;
        r.events[1]!.logIndex = 2;
        r.proofs[1]!.logIndex = 2;
      }),
      withKey,
      /FAILED proof: event evt_org_a_2: the inclusion proof does not lead from its hash at log index 3/,
    ],
    [
      "a proof's tree size",
      tampered(sessionReceipt, (r) => {
        r.proofs[0]!.treeSize = 15;
      }),
      withKey,
      /FAILED proof: event evt_org_a_2: its proof is for tree size 15, the checkpoint's is 14/,
    ],
    [
      'the tree size in the checkpoint note',
      tampered(sessionReceipt, (r) => {
        r.checkpoint = r.checkpoint.replace('\n14\n', '\n15\n');
      }),
      withKey,
      /FAILED signature: the signature by key speech-deletion-gateway\+[0-9a-f]{8} does not verify/,
    ],
    [
      'one character of the root in the checkpoint note',
      tampered(sessionReceipt, (r) => {
        const rootAt = r.checkpoint.indexOf('\n14\n') + 4;
        r.checkpoint = changeChar(r.checkpoint, rootAt);
      }),
      withKey,
      /FAILED signature: the signature by key .* does not verify/,
    ],
    [
      'one character of the signature',
      tampered(sessionReceipt, (r) => {
        r.checkpoint = changeChar(r.checkpoint, r.checkpoint.length - 30);
      }),
      withKey,
      /FAILED signature: the signature by key .* does not verify/,
    ],
    ['the wrong key given with --key', sessionReceipt, ['--key', stranger.verifierKey], /FAILED signature: no signature by key speech-deletion-gateway\+[0-9a-f]{8} \(the checkpoint is signed by speech-deletion-gateway\+/],
    [
      "a stranger's checkpoint and key swapped into the receipt, checked with the operator key",
      tampered(sessionReceipt, (r) => {
        r.checkpoint = stranger.sign(r.checkpoint.slice(0, r.checkpoint.indexOf('\n\n') + 1));
        r.publicKey = stranger.verifierKey;
      }),
      withKey,
      /FAILED signature: no signature by key/,
    ],
    [
      'the receipt moved to another organisation',
      tampered(sessionReceipt, (r) => {
        r.organizationId = 'org_b';
      }),
      withKey,
      /FAILED checkpoint: the checkpoint is of log "speech-deletion-gateway\/org_a", not of organisation org_b's log/,
    ],
    [
      'the UPSTREAM_DELETED event left out',
      tampered(sessionReceipt, (r) => {
        r.events = r.events.filter((e) => e.outcome !== 'UPSTREAM_DELETED');
        r.proofs = r.proofs.filter((p) => p.eventId !== 'evt_org_a_5');
      }),
      withKey,
      /FAILED confirmation: no UPSTREAM_DELETED event for SESSION s1: the provider's deletion is not confirmed/,
    ],
    [
      'the receipt pointed at another resource',
      tampered(sessionReceipt, (r) => {
        (r as unknown as { resource: { id: string } }).resource.id = 's2';
      }),
      withKey,
      /FAILED confirmation: no DELETED event for SESSION s2/,
    ],
    [
      "an event's proof left out",
      tampered(sessionReceipt, (r) => {
        r.proofs.splice(1, 1);
      }),
      withKey,
      /FAILED proof: event evt_org_a_3 has 0 inclusion proofs, expected one/,
    ],
    [
      'a format it does not know',
      tampered(sessionReceipt, (r) => {
        r.format = 'sdg-receipt/2';
      }),
      withKey,
      /FAILED format: format is "sdg-receipt\/2"/,
    ],
  ];

  for (const [what, receipt, args, failure] of cases) {
    it(`fails, naming the problem, for ${what}`, async () => {
      const result = await check(receipt, ...args);
      expect(result.stderr).toMatch(failure);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
    });
  }

  it('names the unconfirmed item of an erasure receipt', async () => {
    const result = await check(unconfirmedErasure, ...withKey);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAILED confirmation: item COMMENT c9 at SCRIPTIX is not confirmed: no UPSTREAM_DELETED event for COMMENT c9');
    expect(result.stderr).not.toMatch(/trans_7|d5/);
  });

  it('refuses an erasure receipt without its ERASURE_REQUESTED event', async () => {
    const receipt = tampered(erasureReceipt, (r) => {
      r.events = r.events.filter((e) => e.id !== 'evt_org_a_6');
      r.proofs = r.proofs.filter((p) => p.eventId !== 'evt_org_a_6');
    });
    const result = await check(receipt, ...withKey);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAILED confirmation: no ERASURE_REQUESTED event for erasure request era_1');
  });

  it("refuses an event of another organisation, even one proven in this organisation's log", async () => {
    const mixed = buildLog(
      'org_a',
      [
        { action: 'session.delete', outcome: 'DELETED', resourceKind: 'SESSION', resourceId: 's1', provider: 'SCRIPTIX' },
        { action: 'upstream.delete', outcome: 'UPSTREAM_DELETED', resourceKind: 'SESSION', resourceId: 's1', provider: 'SCRIPTIX', organizationId: 'org_b' },
      ],
      signer,
    );
    const result = await check(mixed.receipt({ resource: { kind: 'SESSION', id: 's1', deletedWith: null } }, mixed.events), ...withKey);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAILED organization: event evt_org_a_1 belongs to "org_b", not to org_a');
  });

  it('fails on a file that is not JSON', async () => {
    const result = await check('{"format": "sdg-receipt/1",', ...withKey);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/FAILED format: .* is not JSON/);
  });
});

describe('scripts/verify-receipt.mjs usage', () => {
  it('imports nothing but node:crypto and node:fs, so an auditor needs only the one file', () => {
    const imports = [...readFileSync(SCRIPT, 'utf8').matchAll(/^\s*import\b[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['node:crypto', 'node:fs']);
    expect(readFileSync(SCRIPT, 'utf8')).not.toMatch(/\bimport\(|\brequire\(/);
  });


  it('exits 2 with the usage for no file, an unknown option, an unreadable file or a malformed --key', async () => {
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: node scripts/verify-receipt.mjs RECEIPT.json [--key VERIFIER_KEY]');
    expect((await run(write(sessionReceipt), '--verbose')).code).toBe(2);
    const missing = await run(path.join(dir, 'no-such-receipt.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*no-such-receipt\.json/);
    const badKey = await run(write(sessionReceipt), '--key', signer.verifierKey.replace(signer.keyId, '00000000'));
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/--key is not a verifier key: the key id does not match/);
    expect((await run(write(sessionReceipt), '--key')).code).toBe(2);
  });
});
