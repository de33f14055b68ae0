// Data-subject erasure end to end: eraseSubject through the real server on a real database (both
// backends), delivered by a real worker to the provider simulators over HTTP; status derived from
// the items' upstream rows, retries, idempotency, limits, dry runs, access, the receipt checked by
// the standalone verifier, and erasureRequestChanged over SSE.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { randomId, type Runtime } from '../src/runtime.ts';
import { Worker } from '../src/worker/worker.ts';
import { ORG, OTHER_ORG, TEST_CREDENTIALS, startTestGateway, type TestGateway } from './support/harness.ts';
import { verifyEveryLog } from './support/database.ts';
import { subscribe, subscribeRaw, nextEvents } from './support/sse.ts';

let skew = 0;
const runtime: Runtime = { clock: { now: () => new Date(Date.now() + skew) }, newId: randomId, random: () => 0.5 };

const REQUEST_FIELDS = `id organizationId subjectId requestedBy reason requestedAt dueBy completedAt status
  totals { resources deleted pending failed alreadyDeleted }
  providers { provider status resources deleted pending failed }`;
const ERASE = `mutation($input: EraseSubjectInput!) {
  eraseSubject(input: $input) {
    __typename
    ... on ErasureRequest { ${REQUEST_FIELDS} }
    ... on ErasurePreview { subjectId resources items { kind id provider alreadyDeleted documentsDeleted commentsDeleted } retainedObjects { bucket key } }
    ... on Error { code message }
    ... on ValidationError { field }
  }
}`;
const STATUS = `query($id: ID!, $status: UpstreamStatus, $first: Int, $after: String) {
  erasureRequest(id: $id) {
    ${REQUEST_FIELDS}
    items(status: $status, first: $first, after: $after) {
      edges { node { kind resourceId provider alreadyDeleted upstream { kind resourceId status reason lastHttpStatus } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const RECEIPT = `query($id: ID!) { erasureRequest(id: $id) { status receipt } }`;
const LIST = `query($subjectId: ID, $status: ErasureStatus, $first: Int, $after: String) {
  erasureRequests(subjectId: $subjectId, status: $status, first: $first, after: $after) {
    edges { node { id subjectId status } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const RETRY = `mutation($kind: ResourceKind!, $id: ID!) { retryUpstreamDeletion(kind: $kind, id: $id) { __typename ... on UpstreamDeletion { status } } }`;
const DELETE_TRANSCRIPTION = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { deletedUpstream } } }`;

let t: TestGateway;
let worker: Worker;
let scratch: string;

beforeAll(async () => {
  t = await startTestGateway({ runtime, worker: false, env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  worker = new Worker(t.gateway.db, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), `erasure-${randomId('w')}`);
  scratch = mkdtempSync(join(tmpdir(), 'erasure-test-'));
});
afterAll(async () => {
  await t?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  for (const simulator of [t.simulators.aitronos, t.simulators.revai, t.simulators.scriptix, t.simulators.daily]) simulator.clearFaults();
});

async function erase(key: string, input: Record<string, unknown>) {
  const answer = await t.gql(key, ERASE, { input });
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  return answer.body.data!.eraseSubject;
}

async function status(id: string, key = t.keys.admin, variables: Record<string, unknown> = {}) {
  const answer = await t.gql(key, STATUS, { id, first: 100, ...variables });
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  return answer.body.data!.erasureRequest;
}

/** Every DELETE the simulators received, as "simulator path". */
function providerDeletes(): string[] {
  const { aitronos, revai, scriptix, daily } = t.simulators;
  return Object.entries({ aitronos, revai, scriptix, daily }).flatMap(([name, simulator]) =>
    simulator.requests.filter((r) => r.method === 'DELETE').map((r) => `${name} ${r.path}`),
  );
}

async function eventCount(): Promise<number> {
  const [row] = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM audit_events');
  return Number(row!.n);
}

async function completions(id: string): Promise<Record<string, unknown>[]> {
  const rows = await t.sql<{ details: string }>("SELECT details FROM audit_events WHERE resource_id = ? AND outcome = 'ERASURE_COMPLETED' ORDER BY seq", [id]);
  return rows.map((row) => JSON.parse(row.details) as Record<string, unknown>);
}

function verify(receipt: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(scratch, `${randomId('receipt')}.json`);
  writeFileSync(file, JSON.stringify(receipt));
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/verify-receipt.mjs', file, '--key', t.gateway.signing.key.verifierKey], { timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Subject `sam` of org_a with resources at every provider, and what must survive his erasure. */
async function seedSam(p: string) {
  await t.register([
    { kind: 'TRANSCRIPTION', id: `trans_${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'TRANSCRIPTION', id: `rev${p}`, provider: 'REV_AI', organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'TRANSCRIPTION', id: `trans_old${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: `sam${p}` },
    // His session, with his document and bob's comment on it: one call takes them all.
    { kind: 'SESSION', id: `s${p}`, organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'DOCUMENT', id: `d${p}`, sessionId: `s${p}`, organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'COMMENT', id: `cb${p}`, sessionId: `s${p}`, documentId: `d${p}`, organizationId: ORG, ownerId: 'bob' },
    { kind: 'COMMENT', id: `cs${p}`, sessionId: `s${p}`, documentId: `d${p}`, organizationId: ORG, ownerId: `sam${p}` },
    // Bob's session, with sam's document in it and sam's comment on bob's document: one by one.
    { kind: 'SESSION', id: `sb${p}`, organizationId: ORG, ownerId: 'bob' },
    { kind: 'DOCUMENT', id: `db${p}`, sessionId: `sb${p}`, organizationId: ORG, ownerId: 'bob' },
    { kind: 'DOCUMENT', id: `ds${p}`, sessionId: `sb${p}`, organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'COMMENT', id: `c${p}`, sessionId: `sb${p}`, documentId: `db${p}`, organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'TRACK', id: `mtrack_${p}`, organizationId: ORG, ownerId: `sam${p}` },
    { kind: 'BATCH_JOB', id: `job-${p}`, organizationId: ORG, ownerId: `sam${p}` },
    // Not his, or not this organisation's: untouched.
    { kind: 'TRANSCRIPTION', id: `trans_bob${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
    { kind: 'TRANSCRIPTION', id: `trans_b${p}`, provider: 'AITRONOS_AUDIO', organizationId: OTHER_ORG, ownerId: `sam${p}` },
  ]);
}

describe('eraseSubject', () => {
  it('erases a subject at every provider, leaves others alone, tracks Rev AI in progress and a 401 to COMPLETED_WITH_FAILURES, and a retry to COMPLETED with a receipt that verifies', async () => {
    const p = 'e1';
    await seedSam(p);
    expect((await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: `trans_old${p}` })).body.data!.deleteTranscription.deletedUpstream).toBe(true);
    t.simulators.revai.setJobState(`rev${p}`, 'in_progress');
    t.simulators.daily.pushFault({ status: 401, times: 1 });
    const before = providerDeletes().length;

    const started = performance.now();
    const request = await erase(t.keys.admin, { subjectId: `sam${p}`, reason: 'ticket 4711' });
    expect(performance.now() - started).toBeLessThan(2_000);
    // Answered at once: written, nothing called yet (the worker delivers).
    expect(request).toMatchObject({
      __typename: 'ErasureRequest',
      organizationId: ORG,
      subjectId: `sam${p}`,
      reason: 'ticket 4711',
      status: 'RUNNING',
      completedAt: null,
      totals: { resources: 10, deleted: 1, pending: 9, failed: 0, alreadyDeleted: 1 },
    });
    expect(request.requestedBy).toMatch(/^user:alice key:/);
    expect(Date.parse(request.dueBy) - Date.parse(request.requestedAt)).toBe(30 * 86_400_000);
    expect(providerDeletes().length).toBe(before);

    await worker.drain();
    let state = await status(request.id);
    expect(state.status).toBe('RUNNING');
    expect(state.totals).toEqual({ resources: 10, deleted: 8, pending: 1, failed: 1, alreadyDeleted: 1 });
    const byProvider = Object.fromEntries(state.providers.map((x: { provider: string }) => [x.provider, x]));
    expect(byProvider.REV_AI).toMatchObject({ status: 'RUNNING', pending: 1 });
    expect(byProvider.DAILY).toMatchObject({ status: 'COMPLETED_WITH_FAILURES', failed: 1 });
    expect(byProvider.SCRIPTIX).toMatchObject({ status: 'COMPLETED', resources: 5, deleted: 5 });
    expect(byProvider.AITRONOS_MUSIC).toMatchObject({ status: 'COMPLETED', resources: 1, deleted: 1 });
    expect(byProvider.AITRONOS_AUDIO).toMatchObject({ status: 'COMPLETED', resources: 2, deleted: 2 });
    const pendingItems = (await status(request.id, t.keys.admin, { status: 'PENDING' })).items.edges.map((e: any) => e.node);
    expect(pendingItems).toEqual([expect.objectContaining({ kind: 'TRANSCRIPTION', resourceId: `rev${p}`, upstream: expect.objectContaining({ status: 'PENDING', reason: 'JOB_IN_PROGRESS' }) })]);
    expect((await t.gql(t.keys.admin, RECEIPT, { id: request.id })).body.data!.erasureRequest.receipt).toBeNull();

    // One provider call per provider-level resource: the session's call takes its document and comments.
    const calls = providerDeletes().slice(before);
    const scriptix = calls.filter((c) => c.startsWith('scriptix'));
    expect(scriptix.sort()).toEqual(
      [
        `scriptix /api/v3/speech-to-text/session/s${p}`,
        `scriptix /api/v3/speech-to-text/session/sb${p}/document/ds${p}`,
        `scriptix /api/v3/speech-to-text/session/sb${p}/document/db${p}/comments/c${p}`,
      ].sort(),
    );
    expect(calls.filter((c) => c.includes(`trans_${p}`))).toHaveLength(1);
    expect(calls.filter((c) => c.includes(`mtrack_${p}`))).toHaveLength(1);
    expect(calls.filter((c) => c.includes(`trans_old${p}`))).toHaveLength(0);
    expect(calls.filter((c) => c.includes('bob') || c.includes(`trans_b${p}`) || c.includes(`db${p}`) && !c.includes('comments'))).toEqual([]);

    // Others' resources are untouched, in this organisation and the other.
    const untouched = await t.sql<{ id: string; deletedAt: string | null }>(
      'SELECT id, deleted_at AS "deletedAt" FROM resources WHERE id IN (?, ?, ?, ?)',
      [`trans_bob${p}`, `trans_b${p}`, `sb${p}`, `db${p}`],
    );
    expect(untouched.map((r) => r.deletedAt)).toEqual([null, null, null, null]);
    // The admin acted on sam's behalf, and every deletion says so.
    const deletedEvents = await t.sql<{ resourceId: string; details: string; actor: string }>(
      `SELECT resource_id AS "resourceId", details, actor FROM audit_events WHERE outcome = 'DELETED' AND details LIKE ?`,
      [`%${request.id}%`],
    );
    expect(deletedEvents.map((e) => e.resourceId).sort()).toEqual([`c${p}`, `ds${p}`, `job-${p}`, `mtrack_${p}`, `rev${p}`, `s${p}`, `trans_${p}`].sort());
    for (const event of deletedEvents) {
      expect(JSON.parse(event.details)).toMatchObject({ onBehalfOf: `sam${p}`, erasureRequestId: request.id });
      expect(event.actor).toMatch(/^user:alice /);
    }

    // Rev AI finishes the job; the worker's next try deletes it: nothing pending, one failure.
    t.simulators.revai.setJobState(`rev${p}`, 'transcribed');
    skew += 3_600_000;
    await worker.drain();
    state = await status(request.id);
    expect(state).toMatchObject({ status: 'COMPLETED_WITH_FAILURES', totals: { resources: 10, deleted: 9, pending: 0, failed: 1 } });
    expect(state.completedAt).not.toBeNull();
    expect(await completions(request.id)).toEqual([expect.objectContaining({ status: 'COMPLETED_WITH_FAILURES', failed: 1, pending: 0 })]);
    const failedReceipt = (await t.gql(t.keys.admin, RECEIPT, { id: request.id })).body.data!.erasureRequest.receipt;
    expect(failedReceipt).not.toBeNull();
    const unconfirmed = await verify(failedReceipt);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain(`item BATCH_JOB job-${p} at DAILY is not confirmed`);

    // The operator fixes the credential and retries: running again, then completed, audited again.
    expect((await t.gql(t.keys.admin, RETRY, { kind: 'BATCH_JOB', id: `job-${p}` })).body.data!.retryUpstreamDeletion.status).toBe('PENDING');
    state = await status(request.id);
    expect(state).toMatchObject({ status: 'RUNNING', completedAt: null });
    await worker.drain();
    state = await status(request.id);
    expect(state).toMatchObject({ status: 'COMPLETED', totals: { resources: 10, deleted: 10, pending: 0, failed: 0, alreadyDeleted: 1 } });
    expect((await completions(request.id)).map((c) => c.status)).toEqual(['COMPLETED_WITH_FAILURES', 'COMPLETED']);

    const receipt = (await t.gql(t.keys.admin, RECEIPT, { id: request.id })).body.data!.erasureRequest.receipt;
    expect(receipt).toMatchObject({
      format: 'sdg-receipt/1',
      organizationId: ORG,
      erasureRequest: { id: request.id, subjectId: `sam${p}`, providers: ['AITRONOS_AUDIO', 'AITRONOS_MUSIC', 'DAILY', 'REV_AI', 'SCRIPTIX'] },
    });
    expect(receipt.erasureRequest.items).toContainEqual({ kind: 'DOCUMENT', id: `d${p}`, provider: 'SCRIPTIX', carrier: { kind: 'SESSION', id: `s${p}` } });
    const outcomes = new Set(receipt.events.map((e: { outcome: string }) => e.outcome));
    for (const outcome of ['ERASURE_REQUESTED', 'DELETED', 'UPSTREAM_DELETED', 'UPSTREAM_FAILED', 'UPSTREAM_REQUEUED', 'ERASURE_COMPLETED']) expect(outcomes).toContain(outcome);
    const verified = await verify(receipt);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`erasure request ${request.id} for subject sam${p}`);
    expect(verified.stdout).toContain('10 item(s) confirmed deleted by their providers (AITRONOS_AUDIO, AITRONOS_MUSIC, DAILY, REV_AI, SCRIPTIX)');

    // The events written many at once chain and tree as those written one by one.
    expect(await verifyEveryLog(t.gateway.db)).toMatchObject({ valid: true, problems: [] });

    // No secret anywhere the gateway writes.
    const trail = JSON.stringify(await t.sql('SELECT * FROM audit_events'));
    for (const secret of [...Object.values(TEST_CREDENTIALS), t.keys.admin]) {
      expect(trail).not.toContain(secret);
      expect(t.logs.join('\n')).not.toContain(secret);
    }
  });

  it('replays an idempotency key with the same request, writing nothing and calling no provider; another subject with the key is refused', async () => {
    const p = 'e2';
    await t.register([
      { kind: 'TRANSCRIPTION', id: `trans_${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: `sam${p}` },
      { kind: 'TRANSCRIPTION', id: `trans_x${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: `kim${p}` },
    ]);
    const first = await erase(t.keys.admin, { subjectId: `sam${p}`, idempotencyKey: `key-${p}` });
    expect(first.__typename).toBe('ErasureRequest');
    await worker.drain();
    const events = await eventCount();
    const calls = providerDeletes().length;
    const again = await erase(t.keys.admin, { subjectId: `sam${p}`, idempotencyKey: `key-${p}` });
    expect(again).toMatchObject({ __typename: 'ErasureRequest', id: first.id, status: 'COMPLETED' });
    const other = await erase(t.keys.admin, { subjectId: `kim${p}`, idempotencyKey: `key-${p}` });
    expect(other).toMatchObject({ __typename: 'ValidationError', field: 'idempotencyKey' });
    await worker.drain();
    expect(await eventCount()).toBe(events);
    expect(providerDeletes().length).toBe(calls);
    expect((await t.sql('SELECT id FROM erasure_requests WHERE subject_id IN (?, ?)', [`sam${p}`, `kim${p}`])).length).toBe(1);
    // The same key in another organisation is another request.
    expect((await erase(t.keys.otherAdmin, { subjectId: `sam${p}`, idempotencyKey: `key-${p}` })).id).not.toBe(first.id);
  });

  it('answers one request to the same idempotency key sent several times at once: one erasure, one provider call per resource', async () => {
    const p = 'e2c';
    await t.register(
      Array.from({ length: 3 }, (_, i) => ({ kind: 'TRANSCRIPTION', id: `trans_${p}${i}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: `sam${p}` })),
    );
    const answers = await Promise.all(Array.from({ length: 6 }, () => erase(t.keys.admin, { subjectId: `sam${p}`, idempotencyKey: `key-${p}` })));
    for (const answer of answers) expect(answer, JSON.stringify(answer)).toMatchObject({ __typename: 'ErasureRequest', id: answers[0]!.id });
    await worker.drain();
    expect(await t.sql('SELECT id FROM erasure_requests WHERE subject_id = ?', [`sam${p}`])).toHaveLength(1);
    expect(await t.sql("SELECT id FROM audit_events WHERE outcome = 'ERASURE_REQUESTED' AND resource_id = ?", [answers[0]!.id])).toHaveLength(1);
    for (let i = 0; i < 3; i += 1) expect(providerDeletes().filter((path) => path.endsWith(`/trans_${p}${i}`)), `trans_${p}${i}`).toHaveLength(1);
    expect(await completions(answers[0]!.id)).toHaveLength(1);
  });

  it('answers a subject with nothing with a COMPLETED request of 0 resources and a receipt that verifies', async () => {
    const request = await erase(t.keys.admin, { subjectId: 'nobody-at-all' });
    expect(request).toMatchObject({ status: 'COMPLETED', totals: { resources: 0, deleted: 0, pending: 0, failed: 0, alreadyDeleted: 0 }, providers: [] });
    expect(request.completedAt).not.toBeNull();
    expect(await completions(request.id)).toHaveLength(1);
    const receipt = (await t.gql(t.keys.admin, RECEIPT, { id: request.id })).body.data!.erasureRequest.receipt;
    expect(receipt.erasureRequest).toEqual({ id: request.id, subjectId: 'nobody-at-all', providers: [], items: [] });
    expect(receipt.events.map((e: { outcome: string }) => e.outcome)).toEqual(['ERASURE_REQUESTED', 'ERASURE_COMPLETED']);
    expect((await verify(receipt)).code).toBe(0);
  });

  it('previews with validateOnly through the bulk dry run, writing nothing', async () => {
    const p = 'e3';
    await seedSam(p);
    const events = await eventCount();
    const preview = await erase(t.keys.admin, { subjectId: `sam${p}`, validateOnly: true });
    expect(preview).toMatchObject({ __typename: 'ErasurePreview', subjectId: `sam${p}`, resources: 10 });
    const items = Object.fromEntries(preview.items.map((i: { id: string }) => [i.id, i]));
    expect(items[`s${p}`]).toMatchObject({ kind: 'SESSION', documentsDeleted: 1, commentsDeleted: 2, alreadyDeleted: false });
    expect(items[`d${p}`]).toBeUndefined();
    expect(items[`c${p}`]).toMatchObject({ kind: 'COMMENT', alreadyDeleted: false });
    expect(items[`mtrack_${p}`]).toMatchObject({ kind: 'TRACK', provider: 'AITRONOS_MUSIC' });
    expect(preview.items).toHaveLength(8);
    expect(await eventCount()).toBe(events);
    expect((await t.sql('SELECT id FROM resources WHERE owner_id = ? AND deleted_at IS NOT NULL', [`sam${p}`])).length).toBe(0);
    expect((await t.sql('SELECT id FROM erasure_requests WHERE subject_id = ?', [`sam${p}`])).length).toBe(0);
  });

  it('refuses every bad input with a ValidationError naming the field, writing nothing', async () => {
    const events = await eventCount();
    expect(await erase(t.keys.admin, { subjectId: 'has space' })).toMatchObject({ __typename: 'ValidationError', field: 'subjectId' });
    expect(await erase(t.keys.admin, { subjectId: 'x'.repeat(129) })).toMatchObject({ __typename: 'ValidationError', field: 'subjectId' });
    expect(await erase(t.keys.admin, { subjectId: 'sam', reason: 'r'.repeat(501) })).toMatchObject({ __typename: 'ValidationError', field: 'reason' });
    expect(await erase(t.keys.admin, { subjectId: 'sam', idempotencyKey: 'no/slashes' })).toMatchObject({ __typename: 'ValidationError', field: 'idempotencyKey' });
    expect(await erase(t.keys.admin, { subjectId: 'sam', idempotencyKey: '' })).toMatchObject({ __typename: 'ValidationError', field: 'idempotencyKey' });
    expect(await erase(t.keys.admin, { subjectId: 'sam', idempotencyKey: 'k'.repeat(129) })).toMatchObject({ __typename: 'ValidationError', field: 'idempotencyKey' });
    expect(await eventCount()).toBe(events);
  });

  it('refuses a subject with more than 10,000 resources, saying how many, and writes nothing', async () => {
    const batch = (from: number) =>
      Array.from({ length: 1000 }, (_, i) => ({ kind: 'TRANSCRIPTION' as const, id: `trans_big${from + i}`, provider: 'AITRONOS_AUDIO' as const, organizationId: ORG, ownerId: 'big' }));
    for (let from = 0; from < 10_000; from += 1000) await t.register(batch(from));
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_big10000', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'big' }]);
    const events = await eventCount();
    const refused = await erase(t.keys.admin, { subjectId: 'big' });
    expect(refused).toMatchObject({ __typename: 'ValidationError', field: 'subjectId' });
    expect(refused.message).toContain('10001');
    expect(await eventCount()).toBe(events);
    expect((await t.sql("SELECT id FROM resources WHERE owner_id = 'big' AND deleted_at IS NOT NULL")).length).toBe(0);
    expect((await t.sql("SELECT id FROM erasure_requests WHERE subject_id = 'big'")).length).toBe(0);
  }, 120_000);
});

describe('several workers', () => {
  it('two workers on two connections deliver erasures together: each completes, audited complete exactly once', async () => {
    const second = await openDatabase(t.database.target);
    try {
      const workers = [worker, new Worker(second, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), `erasure-${randomId('w2')}`)];
      const ids: string[] = [];
      for (let round = 0; round < 4; round += 1) {
        const p = `w${round}`;
        await t.register(
          Array.from({ length: 30 }, (_, i) => ({ kind: 'TRANSCRIPTION' as const, id: `trans_${p}_${i}`, provider: 'AITRONOS_AUDIO' as const, organizationId: ORG, ownerId: `sam${p}` })),
        );
        ids.push((await erase(t.keys.admin, { subjectId: `sam${p}` })).id);
      }
      await Promise.all(workers.map((w) => w.drain()));
      await Promise.all(workers.map((w) => w.drain()));
      for (const id of ids) {
        expect((await status(id)).status).toBe('COMPLETED');
        expect(await completions(id)).toHaveLength(1);
      }
    } finally {
      await second.close();
    }
  });
});

describe('who may erase and see erasures', () => {
  it('refuses members and viewers (PermissionDeniedError; the queries INSUFFICIENT_PERMISSIONS), and hides a request from another organisation', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_acc', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'samacc' }]);
    const events = await eventCount();
    for (const key of [t.keys.member, t.keys.viewer]) {
      expect(await erase(key, { subjectId: 'samacc' })).toMatchObject({ __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS' });
    }
    expect(await eventCount()).toBe(events);
    expect((await t.sql("SELECT deleted_at FROM resources WHERE id = 'trans_acc'"))[0]).toMatchObject({ deleted_at: null });

    const request = await erase(t.keys.admin, { subjectId: 'samacc' });
    for (const key of [t.keys.member, t.keys.viewer]) {
      for (const [query, variables] of [[STATUS, { id: request.id }], [LIST, {}]] as const) {
        const answer = await t.gql(key, query, variables);
        expect(answer.body.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_PERMISSIONS');
      }
    }
    expect((await t.gql(t.keys.otherAdmin, STATUS, { id: request.id })).body.data!.erasureRequest).toBeNull();
    const theirs = (await t.gql(t.keys.otherAdmin, LIST, { subjectId: 'samacc' })).body.data!.erasureRequests.edges;
    expect(theirs).toEqual([]);
    const mine = (await t.gql(t.keys.admin, LIST, { subjectId: 'samacc' })).body.data!.erasureRequests.edges;
    expect(mine.map((e: any) => e.node.id)).toEqual([request.id]);
  });

  it('lists requests newest first, by status, in pages', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      skew += 1000;
      ids.push((await erase(t.keys.admin, { subjectId: 'lister' })).id);
    }
    const first = (await t.gql(t.keys.admin, LIST, { subjectId: 'lister', first: 2 })).body.data!.erasureRequests;
    expect(first.edges.map((e: any) => e.node.id)).toEqual([ids[2], ids[1]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await t.gql(t.keys.admin, LIST, { subjectId: 'lister', first: 2, after: first.pageInfo.endCursor })).body.data!.erasureRequests;
    expect(second.edges.map((e: any) => e.node.id)).toEqual([ids[0]]);
    expect((await t.gql(t.keys.admin, LIST, { subjectId: 'lister', status: 'COMPLETED' })).body.data!.erasureRequests.edges).toHaveLength(3);
    expect((await t.gql(t.keys.admin, LIST, { subjectId: 'lister', status: 'RUNNING' })).body.data!.erasureRequests.edges).toHaveLength(0);
  });
});

describe('erasureRequestChanged', () => {
  const WATCH = `subscription($id: ID!) { erasureRequestChanged(id: $id) { id status completedAt totals { resources deleted pending failed } } }`;

  it('sends the current state first, each change, and completes when nothing is pending', async () => {
    const p = 'e4';
    await t.register([
      { kind: 'TRANSCRIPTION', id: `trans_${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: `sam${p}` },
      { kind: 'TRACK', id: `mtrack_${p}`, organizationId: ORG, ownerId: `sam${p}` },
    ]);
    const request = await erase(t.keys.admin, { subjectId: `sam${p}` });
    expect(request.status).toBe('RUNNING');
    const stream = subscribe(t.url, t.keys.admin, WATCH, { id: request.id });
    expect((await stream.nth(0)).data!.erasureRequestChanged).toMatchObject({ id: request.id, status: 'RUNNING', totals: { pending: 2 } });
    await worker.drain();
    const results = await stream.ended;
    expect(results.at(-1)!.data!.erasureRequestChanged).toMatchObject({ status: 'COMPLETED', totals: { resources: 2, deleted: 2, pending: 0 } });
    expect(results.at(-1)!.data!.erasureRequestChanged.completedAt).not.toBeNull();
  });

  it('refuses members and viewers with INSUFFICIENT_PERMISSIONS, and answers another organisation NOT_FOUND', async () => {
    const request = await erase(t.keys.admin, { subjectId: 'nobody-watched' });
    for (const key of [t.keys.member, t.keys.viewer]) {
      const answer = await subscribeRaw(t.url, key, WATCH, { id: request.id });
      expect(answer.status).toBe(200);
      expect(nextEvents(answer.body)).toEqual([expect.objectContaining({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'INSUFFICIENT_PERMISSIONS' }) })] })]);
    }
    const elsewhere = await subscribeRaw(t.url, t.keys.otherAdmin, WATCH, { id: request.id });
    expect(nextEvents(elsewhere.body)).toEqual([expect.objectContaining({ errors: [expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })] })]);
  });
});
