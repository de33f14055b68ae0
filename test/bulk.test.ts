// deleteResources: many deletes in one call, each answered exactly as its single mutation would be,
// one bad target changing nothing for the others, duplicates deleted once, a deadline that holds
// when a provider hangs, each target counted by the rate limit; and dry runs that write nothing and
// call no provider. Real gateway, real simulators, real database (both backends).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { randomId, type Runtime } from '../src/runtime.ts';
import { Worker } from '../src/worker/worker.ts';
import { CUSTOM_BUCKET, ORG, OTHER_ORG, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

let skew = 0;
const runtime: Runtime = { clock: { now: () => new Date(Date.now() + skew) }, newId: randomId, random: () => 0.5 };

const RESULT_FIELDS = `__typename
  ... on Deletion { deleted alreadyDeleted deletedUpstream upstream { kind resourceId status reason attempts } }
  ... on TranscriptionDeletion { transcriptionId provider }
  ... on SessionDeletion { sessionId documentsDeleted commentsDeleted }
  ... on DocumentDeletion { documentId commentsDeleted }
  ... on CommentDeletion { commentId }
  ... on TrackDeletion { trackId detail }
  ... on BatchJobDeletion { batchJobId retainedObjects { bucket key } }
  ... on DeletionPreview { kind id provider alreadyDeleted documentsDeleted commentsDeleted retainedObjects { bucket key } }
  ... on Error { code }
  ... on ValidationError { field }`;
const DELETE_RESOURCES = `mutation($targets: [DeleteTarget!]!, $validateOnly: Boolean) {
  deleteResources(targets: $targets, validateOnly: $validateOnly) {
    __typename
    ... on DeleteResourcesPayload { validateOnly deleted alreadyDeleted rejected results { ${RESULT_FIELDS} } }
    ... on ValidationError { code field message }
  }
}`;

type Target = { kind: string; id: string; sessionId?: string; documentId?: string; organizationId?: string };

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ runtime, env: { RATE_LIMIT_PER_MINUTE: '100000', UPSTREAM_TIMEOUT_MS: '2000' } });
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => {
  for (const simulator of [t.simulators.aitronos, t.simulators.revai, t.simulators.scriptix, t.simulators.daily]) simulator.clearFaults();
});

async function call(key: string, targets: Target[], validateOnly = false) {
  const answer = await t.gql(key, DELETE_RESOURCES, { targets, validateOnly });
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  return answer.body.data!.deleteResources;
}

/** One of every kind, owned by alice (an admin: every kind is hers to delete, her track too). */
async function everyKind(p: string): Promise<Target[]> {
  await t.register([
    { kind: 'TRANSCRIPTION', id: `trans_${p}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'alice' },
    { kind: 'TRANSCRIPTION', id: `rev${p}`, provider: 'REV_AI', organizationId: ORG, ownerId: 'alice' },
    { kind: 'SESSION', id: `s${p}`, organizationId: ORG, ownerId: 'alice' },
    { kind: 'DOCUMENT', id: `d${p}`, sessionId: `s${p}`, organizationId: ORG, ownerId: 'alice' },
    { kind: 'COMMENT', id: `c${p}`, sessionId: `s${p}`, documentId: `d${p}`, organizationId: ORG, ownerId: 'alice' },
    { kind: 'SESSION', id: `s2${p}`, organizationId: ORG, ownerId: 'alice' },
    { kind: 'DOCUMENT', id: `d2${p}`, sessionId: `s2${p}`, organizationId: ORG, ownerId: 'alice' },
    { kind: 'COMMENT', id: `c2${p}`, sessionId: `s2${p}`, documentId: `d2${p}`, organizationId: ORG, ownerId: 'alice' },
    { kind: 'TRACK', id: `mtrack_${p}`, organizationId: ORG, ownerId: 'alice' },
    {
      kind: 'BATCH_JOB',
      id: `job-${p}`,
      organizationId: ORG,
      ownerId: 'alice',
      attributes: { output: { summary: { format: 'txt', s3Config: { bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/job-${p}/summary.txt` } } } },
    },
  ]);
  return [
    { kind: 'TRANSCRIPTION', id: `trans_${p}` },
    { kind: 'TRANSCRIPTION', id: `rev${p}` },
    { kind: 'COMMENT', id: `c2${p}`, sessionId: `s2${p}`, documentId: `d2${p}` },
    { kind: 'DOCUMENT', id: `d${p}`, sessionId: `s${p}` },
    { kind: 'SESSION', id: `s${p}` },
    { kind: 'TRACK', id: `mtrack_${p}`, organizationId: ORG },
    { kind: 'BATCH_JOB', id: `job-${p}` },
  ];
}

async function counts() {
  const [row] = await t.sql<{ deleted: number; events: number; outbox: number }>(
    `SELECT (SELECT count(*) FROM resources WHERE deleted_at IS NOT NULL) AS deleted, (SELECT count(*) FROM audit_events) AS events,
       (SELECT count(*) FROM upstream_deletions) AS outbox`,
  );
  return { deleted: Number(row!.deleted), events: Number(row!.events), outbox: Number(row!.outbox) };
}

function providerRequests(): number {
  return [t.simulators.aitronos, t.simulators.revai, t.simulators.scriptix, t.simulators.daily].reduce((n, s) => n + s.requests.length, 0);
}

describe('deleteResources', () => {
  it('deletes one of every kind in one call, each answered as its single mutation would be, in order', async () => {
    const targets = await everyKind('every');
    const payload = await call(t.keys.admin, targets);
    expect(payload).toMatchObject({ __typename: 'DeleteResourcesPayload', validateOnly: false, deleted: 7, alreadyDeleted: 0, rejected: 0 });
    expect(payload.results.map((r: { __typename: string }) => r.__typename)).toEqual([
      'TranscriptionDeletion',
      'TranscriptionDeletion',
      'CommentDeletion',
      'DocumentDeletion',
      'SessionDeletion',
      'TrackDeletion',
      'BatchJobDeletion',
    ]);
    expect(payload.results[0]).toMatchObject({ transcriptionId: 'trans_every', provider: 'AITRONOS_AUDIO', deletedUpstream: true });
    expect(payload.results[1]).toMatchObject({ transcriptionId: 'revevery', provider: 'REV_AI', deletedUpstream: true });
    expect(payload.results[3]).toMatchObject({ documentId: 'devery', commentsDeleted: 1 });
    // The session's document went with the earlier target; its comment with the document.
    expect(payload.results[4]).toMatchObject({ sessionId: 'severy', documentsDeleted: 0, commentsDeleted: 0, deletedUpstream: true });
    expect(payload.results[5]).toMatchObject({ trackId: 'mtrack_every', detail: 'Track deleted.' });
    expect(payload.results[6]).toMatchObject({ batchJobId: 'job-every', retainedObjects: expect.any(Array) });
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_every')).toHaveLength(1);
    expect(deletesTo(t.simulators.scriptix, '/api/v3/speech-to-text/session/severy')).toHaveLength(1);
    // Every deletion is in the trail, as the single mutations write it.
    const events = await t.sql<{ outcome: string }>("SELECT outcome FROM audit_events WHERE request_id = (SELECT request_id FROM audit_events WHERE resource_id = 'trans_every' AND outcome = 'DELETED')");
    expect(events.filter((e) => e.outcome === 'DELETED')).toHaveLength(7);
    expect(events.filter((e) => e.outcome === 'UPSTREAM_DELETED')).toHaveLength(7);
  });

  it('answers each bad target with the error its single mutation would give, and deletes the good ones', async () => {
    await t.register([
      { kind: 'TRANSCRIPTION', id: 'trans_mixgood', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRANSCRIPTION', id: 'trans_mixtheirs', provider: 'AITRONOS_AUDIO', organizationId: OTHER_ORG, ownerId: 'olga' },
      { kind: 'SESSION', id: 'smixcarol', organizationId: ORG, ownerId: 'carol' },
      { kind: 'BATCH_JOB', id: 'job-mixgood', organizationId: ORG, ownerId: 'bob' },
    ]);
    const before = await counts();
    const payload = await call(t.keys.member, [
      { kind: 'TRANSCRIPTION', id: 'trans_mixgood' },
      { kind: 'TRANSCRIPTION', id: 'trans_mixtheirs' },
      { kind: 'TRANSCRIPTION', id: 'trans_nowhere' },
      { kind: 'TRANSCRIPTION', id: 'bad id!' },
      { kind: 'SESSION', id: 'smixcarol' },
      { kind: 'DOCUMENT', id: 'dmix' },
      { kind: 'TRANSCRIPTION', id: 'trans_x', sessionId: 'smixcarol' },
      { kind: 'BATCH_JOB', id: 'job-mixgood' },
    ]);
    expect(payload).toMatchObject({ deleted: 2, alreadyDeleted: 0, rejected: 6 });
    expect(payload.results.map((r: { __typename: string; code?: string; field?: string }) => [r.__typename, r.code ?? null, r.field ?? null])).toEqual([
      ['TranscriptionDeletion', null, null],
      ['NotFoundError', 'NOT_FOUND', null],
      ['NotFoundError', 'NOT_FOUND', null],
      ['ValidationError', 'VALIDATION_ERROR', 'transcriptionId'],
      ['PermissionDeniedError', 'INSUFFICIENT_PERMISSIONS', null],
      ['ValidationError', 'VALIDATION_ERROR', 'sessionId'],
      ['ValidationError', 'VALIDATION_ERROR', 'sessionId'],
      ['BatchJobDeletion', null, null],
    ]);
    const after = await counts();
    expect(after.deleted - before.deleted).toBe(2);
    expect(after.outbox - before.outbox).toBe(2);
    // Audited as the single mutations audit: two deletions, their two outcomes, four rejections (the
    // two targets that could never be a single mutation's arguments never reached the pipeline).
    expect(after.events - before.events).toBe(2 + 2 + 4);
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_mixtheirs')).toHaveLength(0);
  });

  it('deletes the same resource once when it is named twice, or named after its session', async () => {
    await t.register([
      { kind: 'TRANSCRIPTION', id: 'trans_twice', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
      { kind: 'SESSION', id: 'stwice', organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: 'dtwice', sessionId: 'stwice', organizationId: ORG, ownerId: 'bob' },
    ]);
    const payload = await call(t.keys.member, [
      { kind: 'TRANSCRIPTION', id: 'trans_twice' },
      { kind: 'SESSION', id: 'stwice' },
      { kind: 'TRANSCRIPTION', id: 'trans_twice' },
      { kind: 'DOCUMENT', id: 'dtwice', sessionId: 'stwice' },
    ]);
    expect(payload).toMatchObject({ deleted: 2, alreadyDeleted: 2, rejected: 0 });
    expect(payload.results.map((r: { alreadyDeleted: boolean }) => r.alreadyDeleted)).toEqual([false, false, true, true]);
    // The document follows its session's provider deletion; one call each.
    expect(payload.results[3]).toMatchObject({ upstream: { kind: 'SESSION', resourceId: 'stwice' } });
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_twice')).toHaveLength(1);
    expect(t.simulators.scriptix.requests.filter((r) => r.path.includes('stwice'))).toHaveLength(1);
  });

  it.each([0, 1001])('refuses %i targets with ValidationError on "targets", writing nothing', async (n) => {
    const before = await counts();
    const targets = Array.from({ length: n }, (_, i) => ({ kind: 'TRANSCRIPTION', id: `trans_none${i}` }));
    const payload = await call(t.keys.admin, targets);
    expect(payload).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_ERROR', field: 'targets' });
    expect(await counts()).toEqual(before);
  });

  it('takes 1000 targets in one call', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `trans_k${i}`);
    await t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' })));
    const payload = await call(t.keys.member, ids.map((id) => ({ kind: 'TRANSCRIPTION', id })));
    expect(payload).toMatchObject({ deleted: 1000, rejected: 0 });
    // Confirmed inline by the deadline, or PENDING for the worker (what a loaded machine leaves over).
    const statuses = payload.results.map((r: { upstream: { status: string } }) => r.upstream.status);
    expect(statuses.filter((s: string) => s !== 'DELETED' && s !== 'PENDING')).toEqual([]);
    console.info(`1000-target call: ${statuses.filter((s: string) => s === 'DELETED').length} confirmed by the provider before the answer`);
  });
});

describe('validateOnly', () => {
  it('previews what the call would do, writing nothing and calling no provider; the real call then does exactly that', async () => {
    const targets = await everyKind('dry');
    await t.register([{ kind: 'SESSION', id: 'sdry3', organizationId: ORG, ownerId: 'carol' }]);
    const withBad = [...targets, { kind: 'SESSION', id: 'sdry3' }, { kind: 'TRANSCRIPTION', id: 'trans_dry' }, { kind: 'TRANSCRIPTION', id: 'trans_nothere' }];
    const before = await counts();
    const requests = providerRequests();
    const preview = await call(t.keys.member2, withBad, true);
    expect(await counts()).toEqual(before);
    expect(providerRequests()).toBe(requests);

    expect(preview).toMatchObject({ validateOnly: true, deleted: 4, alreadyDeleted: 1, rejected: 5 });
    expect(preview.results.map((r: { __typename: string }) => r.__typename)).toEqual([
      'DeletionPreview',
      'DeletionPreview',
      'PermissionDeniedError', // carol (member2) owns none of alice's Scriptix resources
      'PermissionDeniedError',
      'PermissionDeniedError',
      'PermissionDeniedError', // a track is its creator's only
      'DeletionPreview',
      'DeletionPreview',
      'DeletionPreview',
      'NotFoundError',
    ]);
    expect(preview.results[6]).toMatchObject({ kind: 'BATCH_JOB', id: 'job-dry', provider: 'DAILY', retainedObjects: [{ bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/job-dry/summary.txt` }] });
    expect(preview.results[7]).toMatchObject({ kind: 'SESSION', id: 'sdry3', alreadyDeleted: false, documentsDeleted: 0 });
    expect(preview.results[8]).toMatchObject({ kind: 'TRANSCRIPTION', id: 'trans_dry', alreadyDeleted: true });

    const real = await call(t.keys.member2, withBad);
    expect({ deleted: real.deleted, alreadyDeleted: real.alreadyDeleted, rejected: real.rejected }).toEqual({ deleted: 4, alreadyDeleted: 1, rejected: 5 });
    expect(real.results.map((r: { __typename: string; code?: string }) => r.code ?? 'ok')).toEqual(preview.results.map((r: { __typename: string; code?: string }) => r.code ?? 'ok'));
  });

  it('counts the cascade a session would take, minus what earlier targets of the call take first', async () => {
    await t.register([
      { kind: 'SESSION', id: 'scas', organizationId: ORG, ownerId: 'bob' },
      ...['a', 'b', 'c'].map((d) => ({ kind: 'DOCUMENT', id: `dcas${d}`, sessionId: 'scas', organizationId: ORG, ownerId: 'bob' })),
      ...['a', 'b', 'c'].flatMap((d) =>
        [1, 2].map((c) => ({ kind: 'COMMENT', id: `ccas${d}${c}`, sessionId: 'scas', documentId: `dcas${d}`, organizationId: ORG, ownerId: 'bob' })),
      ),
    ]);
    const targets = [
      { kind: 'DOCUMENT', id: 'dcasa', sessionId: 'scas' },
      { kind: 'SESSION', id: 'scas' },
      { kind: 'COMMENT', id: 'ccasb1', sessionId: 'scas', documentId: 'dcasb' },
    ];
    const preview = await call(t.keys.member, targets, true);
    expect(preview.results.map((r: { documentsDeleted: number; commentsDeleted: number; alreadyDeleted: boolean }) => [r.documentsDeleted, r.commentsDeleted, r.alreadyDeleted])).toEqual([
      [0, 2, false],
      [2, 4, false],
      [0, 0, true],
    ]);
    const real = await call(t.keys.member, targets);
    expect(real.results[0]).toMatchObject({ commentsDeleted: 2, alreadyDeleted: false });
    expect(real.results[1]).toMatchObject({ documentsDeleted: 2, commentsDeleted: 4, alreadyDeleted: false });
    expect(real.results[2]).toMatchObject({ alreadyDeleted: true });
  });
});

describe('a provider that hangs', () => {
  it('answers a 50-target call within UPSTREAM_TIMEOUT_MS plus one second; the worker delivers the rest, one call each', async () => {
    const hung = Array.from({ length: 35 }, (_, i) => `trans_hung${i}`);
    const fine = Array.from({ length: 15 }, (_, i) => `job-fine${i}`);
    await t.register([
      ...hung.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' })),
      ...fine.map((id) => ({ kind: 'BATCH_JOB', id, organizationId: ORG, ownerId: 'bob' })),
    ]);
    t.simulators.aitronos.pushFault({ hang: true, times: Infinity, path: '/v1/audio/transcribe/trans_hung' });
    const started = performance.now();
    const payload = await call(t.keys.member, [...hung, ...fine].map((id) => ({ kind: id.startsWith('job') ? 'BATCH_JOB' : 'TRANSCRIPTION', id })));
    const elapsed = performance.now() - started;
    console.info(`50-target call with 35 targets at a hung provider answered in ${Math.round(elapsed)} ms (UPSTREAM_TIMEOUT_MS ${t.config.upstreamTimeoutMs})`);
    // Waiting on every hung call in turn would take three provider timeouts (35 calls, 16 at a
    // time); the deadline answers after one, plus less than a second (and scheduling slack here).
    expect(elapsed).toBeLessThan(2 * t.config.upstreamTimeoutMs + 1000);
    expect(payload).toMatchObject({ deleted: 50, rejected: 0 });
    const results = payload.results as { upstream: { status: string; reason: string | null; attempts: number } }[];
    expect(results.slice(35).every((r) => r.upstream.status === 'DELETED')).toBe(true);
    expect(results.slice(0, 35).every((r) => r.upstream.status === 'PENDING')).toBe(true);
    // Deletions whose call never started are handed to the worker without a counted attempt.
    const handed = results.slice(0, 35).filter((r) => r.upstream.reason === 'QUEUED' || r.upstream.reason === 'CIRCUIT_OPEN');
    expect(handed.length).toBeGreaterThan(0);
    for (const r of handed) expect(r.upstream.attempts).toBe(0);

    // The provider recovers; the worker delivers every one, none called twice with success.
    t.simulators.aitronos.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, t.config.upstreamTimeoutMs + 200)); // the hung calls time out and record
    skew += 3_600_000; // every retry due, every request lease expired
    const worker = new Worker(t.gateway.db, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), 'wbulk');
    await worker.drain();
    const rows = await t.sql<{ status: string }>(`SELECT status FROM upstream_deletions WHERE resource_id LIKE 'trans_hung%'`);
    expect(rows.map((r) => r.status)).toEqual(Array(35).fill('DELETED'));
    const successes = t.simulators.aitronos.successfulDeletes();
    expect(hung.map((id) => successes.get(`/v1/audio/transcribe/${id}`))).toEqual(Array(35).fill(1));
  });
});

describe('the rate limit', () => {
  it('counts each target, and refuses a call with more targets than the key has left, whole', async () => {
    const limited = await startTestGateway({ env: { RATE_LIMIT_PER_MINUTE: '10' } });
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `trans_rl${i}`);
      await limited.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' })));
      const send = (slice: string[]) => limited.gql(limited.keys.member, DELETE_RESOURCES, { targets: slice.map((id) => ({ kind: 'TRANSCRIPTION', id })) });
      expect((await send(ids.slice(0, 6))).body.data!.deleteResources.deleted).toBe(6);
      const refused = await send(ids.slice(6, 11));
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      const [row] = await limited.sql<{ n: number }>("SELECT count(*) AS n FROM resources WHERE id LIKE 'trans_rl%' AND deleted_at IS NOT NULL");
      expect(Number(row!.n)).toBe(6); // never half applied
      expect((await send(ids.slice(6, 10))).body.data!.deleteResources.deleted).toBe(4);
      expect((await send(ids.slice(10, 11))).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
