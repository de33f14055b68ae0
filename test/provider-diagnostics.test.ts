// What the provider said about its own answer, for support: UpstreamDeletion.providerRequestId and
// providerErrorCode, on the outbox row and in the outcome event's details, per answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { randomId, type Runtime } from '../src/runtime.ts';
import { Worker } from '../src/worker/worker.ts';
import { ORG, TEST_CREDENTIALS, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

let now = Date.parse('2026-03-02T14:00:00.000Z');
const runtime: Runtime = { clock: { now: () => new Date(now) }, newId: randomId, random: () => 0.5 };

const UPSTREAM = 'upstream { status reason lastHttpStatus providerRequestId providerErrorCode }';
const DELETE_TRANSCRIPTION = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { ... on TranscriptionDeletion { ${UPSTREAM} } } }`;
const DELETE_TRACK = `mutation($org: ID!, $id: ID!) { deleteTrack(organizationId: $org, trackId: $id) { ... on TrackDeletion { ${UPSTREAM} } } }`;
const DELETE_BATCH_JOB = `mutation($id: ID!) { deleteBatchJob(batchJobId: $id) { ... on BatchJobDeletion { ${UPSTREAM} } } }`;
const DELETE_SESSION = `mutation($id: ID!) { deleteSession(sessionId: $id) { ... on SessionDeletion { ${UPSTREAM} } } }`;
const RESOURCE = `query($kind: ResourceKind!, $id: ID!) { resource(kind: $kind, id: $id) { ${UPSTREAM} deletionReceipt { outcome details } } }`;

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ runtime, worker: false });
});
afterAll(async () => {
  await t?.close();
});

/** The outcome events (UPSTREAM_…) of a resource's receipt, oldest first. */
async function outcomes(kind: string, id: string): Promise<{ outcome: string; details: Record<string, unknown> }[]> {
  const answer = await t.gql(t.keys.admin, RESOURCE, { kind, id });
  return answer.body.data!.resource.deletionReceipt.filter((e: { outcome: string }) => e.outcome.startsWith('UPSTREAM_'));
}

describe('provider diagnostics', () => {
  it("keeps Aitronos' metadata.request_id of a success as providerRequestId, with no error code", async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_diag_ok', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    const answer = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_diag_ok' });
    const [call] = deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_diag_ok');
    expect(call!.requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(answer.body.data!.deleteTranscription.upstream).toEqual({
      status: 'DELETED',
      reason: null,
      lastHttpStatus: 200,
      providerRequestId: call!.requestId,
      providerErrorCode: null,
    });
    const [event] = await outcomes('TRANSCRIPTION', 'trans_diag_ok');
    expect(event).toMatchObject({ outcome: 'UPSTREAM_DELETED', details: { providerRequestId: call!.requestId } });
    expect(event!.details).not.toHaveProperty('providerErrorCode');
  });

  it("keeps Aitronos' error.trace_id and error.code of a 403 (INSUFFICIENT_PERMISSIONS), in the row and the event", async () => {
    await t.register([{ kind: 'TRACK', id: 'mtrack_diag403', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.aitronos.setTrackCreatorMismatch('mtrack_diag403');
    const answer = await t.gql(t.keys.member, DELETE_TRACK, { org: ORG, id: 'mtrack_diag403' });
    const [call] = deletesTo(t.simulators.aitronos, `/v1/music/${ORG}/tracks/mtrack_diag403`);
    expect(answer.body.data!.deleteTrack.upstream).toEqual({
      status: 'FAILED',
      reason: 'FORBIDDEN',
      lastHttpStatus: 403,
      providerRequestId: call!.requestId,
      providerErrorCode: 'INSUFFICIENT_PERMISSIONS',
    });
    expect(await outcomes('TRACK', 'mtrack_diag403')).toEqual([
      expect.objectContaining({
        outcome: 'UPSTREAM_FAILED',
        details: expect.objectContaining({ providerRequestId: call!.requestId, providerErrorCode: 'INSUFFICIENT_PERMISSIONS' }),
      }),
    ]);
  });

  it("keeps Rev AI's problem type (its last segment) and x-request-id header, and a later answer replaces both", async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revdiag', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.revai.setJobState('revdiag', 'in_progress');
    t.simulators.revai.setRequestIdHeader(true);
    const answer = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'revdiag' });
    const [problem] = deletesTo(t.simulators.revai, '/speechtotext/v1/jobs/revdiag');
    expect(answer.body.data!.deleteTranscription.upstream).toEqual({
      status: 'PENDING',
      reason: 'JOB_IN_PROGRESS',
      lastHttpStatus: 409,
      providerRequestId: problem!.requestId,
      providerErrorCode: 'invalid-job-state',
    });

    // The job completes; Rev AI's 204 (now without the header) names no id and no error.
    t.simulators.revai.setRequestIdHeader(false);
    t.simulators.revai.setJobState('revdiag', 'transcribed');
    now += 24 * 3_600_000;
    const worker = new Worker(t.gateway.db, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), 'wdiag');
    expect(await worker.drain()).toBe(1);
    const after = await t.gql(t.keys.admin, RESOURCE, { kind: 'TRANSCRIPTION', id: 'revdiag' });
    expect(after.body.data!.resource.upstream).toEqual({ status: 'DELETED', reason: null, lastHttpStatus: 204, providerRequestId: null, providerErrorCode: null });
    const [scheduled, delivered] = await outcomes('TRANSCRIPTION', 'revdiag');
    expect(scheduled).toMatchObject({ outcome: 'UPSTREAM_RETRY_SCHEDULED', details: { providerRequestId: problem!.requestId, providerErrorCode: 'invalid-job-state' } });
    expect(delivered!.outcome).toBe('UPSTREAM_DELETED');
    expect(delivered!.details).not.toHaveProperty('providerRequestId');
    expect(delivered!.details).not.toHaveProperty('providerErrorCode');
  });

  it("keeps Daily's error code and x-request-id of its own 404, and Scriptix's x-request-id; null where the answer gives none", async () => {
    const job = 'c0ffee00-0000-4000-8000-00000000d1a9';
    await t.register([
      { kind: 'BATCH_JOB', id: job, organizationId: ORG, ownerId: 'bob' },
      { kind: 'SESSION', id: 'sess_diag_on', organizationId: ORG, ownerId: 'bob' },
      { kind: 'SESSION', id: 'sess_diag_off', organizationId: ORG, ownerId: 'bob' },
    ]);
    t.simulators.daily.markMissing(`/v1/batch-processor/${job}`);
    t.simulators.daily.setRequestIdHeader(true);
    const daily = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: job });
    const [dailyCall] = deletesTo(t.simulators.daily, `/v1/batch-processor/${job}`);
    expect(daily.body.data!.deleteBatchJob.upstream).toEqual({
      status: 'DELETED',
      reason: 'ALREADY_ABSENT',
      lastHttpStatus: 404,
      providerRequestId: dailyCall!.requestId,
      providerErrorCode: 'not-found',
    });

    t.simulators.scriptix.setRequestIdHeader(true);
    const on = await t.gql(t.keys.member, DELETE_SESSION, { id: 'sess_diag_on' });
    const [scriptixCall] = deletesTo(t.simulators.scriptix, '/api/v3/speech-to-text/session/sess_diag_on');
    expect(on.body.data!.deleteSession.upstream).toMatchObject({ status: 'DELETED', providerRequestId: scriptixCall!.requestId, providerErrorCode: null });
    t.simulators.scriptix.setRequestIdHeader(false);
    const off = await t.gql(t.keys.member, DELETE_SESSION, { id: 'sess_diag_off' });
    expect(off.body.data!.deleteSession.upstream).toMatchObject({ status: 'DELETED', providerRequestId: null, providerErrorCode: null });
  });

  it('drops a request id or error code that carries the provider credential back, or is not a short printable token', async () => {
    await t.register([
      { kind: 'TRANSCRIPTION', id: 'trans_diag_echo', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRANSCRIPTION', id: 'trans_diag_long', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
    ]);
    const envelope = (trace_id: string, code: string) => ({ success: false, error: { code, status: 401, message: 'Invalid API key', trace_id } });
    t.simulators.aitronos.pushFault({ status: 401, body: envelope(`tr-${TEST_CREDENTIALS.aitronosApiKey}`, `BAD_KEY_${TEST_CREDENTIALS.aitronosApiKey}`), path: '/v1/audio/transcribe/trans_diag_echo' });
    t.simulators.aitronos.pushFault({ status: 401, body: envelope('x'.repeat(500), 'TWO WORDS'), path: '/v1/audio/transcribe/trans_diag_long' });
    for (const id of ['trans_diag_echo', 'trans_diag_long']) {
      const answer = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id });
      expect(answer.body.data!.deleteTranscription.upstream, id).toMatchObject({ status: 'FAILED', reason: 'UNAUTHORIZED', providerRequestId: null, providerErrorCode: null });
      const [event] = await outcomes('TRANSCRIPTION', id);
      expect(JSON.stringify(event)).not.toContain(TEST_CREDENTIALS.aitronosApiKey);
      expect(event!.details).not.toHaveProperty('providerRequestId');
    }
  });
});
