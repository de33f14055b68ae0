// One circuit per provider per process, shared by the request path and the worker: while a provider's
// circuit is open a new delete answers at once (PENDING CIRCUIT_OPEN) without calling it, the other
// providers go on, and the worker delivers once the provider is back. Injected clock: nothing sleeps.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { randomId, type Runtime } from '../src/runtime.ts';
import { Worker } from '../src/worker/worker.ts';
import { ORG, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

let now = Date.parse('2026-03-02T14:00:00.000Z');
// Full jitter drawn at 0.5: the first retry is due 1 s later (half of the 2 s ceiling).
const runtime: Runtime = { clock: { now: () => new Date(now) }, newId: randomId, random: () => 0.5 };
/** The defaults: the circuit opens after 5 retryable failures in a row and probes after 15 s. */
const COOLDOWN_MS = 15_000;

const UPSTREAM = 'upstream { status reason attempts lastHttpStatus nextAttemptAt }';
const DELETE_TRANSCRIPTION = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { ... on TranscriptionDeletion { deletedUpstream ${UPSTREAM} } } }`;
const DELETE_BATCH_JOB = `mutation($id: ID!) { deleteBatchJob(batchJobId: $id) { ... on BatchJobDeletion { deletedUpstream ${UPSTREAM} } } }`;
const DELETE_TRACK = `mutation($id: ID!) { deleteTrack(organizationId: "${ORG}", trackId: $id) { ... on TrackDeletion { deletedUpstream ${UPSTREAM} } } }`;
const RECEIPT = `query($id: ID!) { resource(kind: TRANSCRIPTION, id: $id) { ${UPSTREAM} deletionReceipt { outcome actor details } } }`;

let t: TestGateway;
let worker: Worker;

beforeAll(async () => {
  t = await startTestGateway({ runtime, worker: false });
  worker = new Worker(t.gateway.db, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), 'wcircuit', {
    circuits: t.gateway.circuits,
  });
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => {
  for (const simulator of [t.simulators.aitronos, t.simulators.revai, t.simulators.daily]) simulator.clearFaults();
});

const audioPath = (id: string) => `/v1/audio/transcribe/${id}`;

async function transcriptions(provider: 'AITRONOS_AUDIO' | 'REV_AI', ...ids: string[]) {
  await t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider, organizationId: ORG, ownerId: 'bob' })));
}

async function deleteTranscription(id: string) {
  return (await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id })).body.data!.deleteTranscription;
}

describe('a provider circuit shared by the request path and the worker', () => {
  it('answers PENDING CIRCUIT_OPEN at once without calling a provider that failed five times in a row, leaves the others alone, and the worker delivers after recovery', async () => {
    const failing = Array.from({ length: 5 }, (_, i) => `trans_cfail${i}`);
    await transcriptions('AITRONOS_AUDIO', ...failing, 'trans_cheld', 'trans_cafter');
    await t.register([
      { kind: 'BATCH_JOB', id: 'job-circuit-daily', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRACK', id: 'mtrack_circuit', organizationId: ORG, ownerId: 'bob' },
    ]);
    t.simulators.aitronos.pushFault({ status: 503, times: failing.length, path: '/v1/audio/transcribe/trans_cfail' });
    for (const id of failing) expect((await deleteTranscription(id)).upstream).toMatchObject({ status: 'PENDING', reason: 'PROVIDER_UNAVAILABLE', attempts: 1 });
    expect(t.gateway.circuits.of('AITRONOS_AUDIO').state).toBe('open');

    // Were Aitronos called now, it would never answer and the delete would wait out the whole timeout.
    t.simulators.aitronos.pushFault({ hang: true, times: Infinity, path: '/v1/audio/transcribe/' });
    const held = await deleteTranscription('trans_cheld');
    expect(held).toEqual({
      deletedUpstream: false,
      upstream: { status: 'PENDING', reason: 'CIRCUIT_OPEN', attempts: 0, lastHttpStatus: null, nextAttemptAt: new Date(now + COOLDOWN_MS).toISOString() },
    });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_cheld'))).toHaveLength(0);

    // Other providers (Aitronos music included: another API, another circuit) are called as usual.
    expect(await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: 'job-circuit-daily' })).toMatchObject({
      body: { data: { deleteBatchJob: { deletedUpstream: true, upstream: { status: 'DELETED', attempts: 1 } } } },
    });
    expect(await t.gql(t.keys.member, DELETE_TRACK, { id: 'mtrack_circuit' })).toMatchObject({
      body: { data: { deleteTrack: { deletedUpstream: true, upstream: { status: 'DELETED', attempts: 1 } } } },
    });

    // The worker holds back too while the circuit is open, though the failed rows are due.
    now += 1_000;
    expect(await worker.tick()).toBe(0);

    // Aitronos recovers; after the cooldown one probe goes through, closes the circuit, the rest follow.
    t.simulators.aitronos.clearFaults();
    now += COOLDOWN_MS;
    expect(await worker.tick()).toBe(1);
    await worker.idle();
    expect(t.gateway.circuits.of('AITRONOS_AUDIO').state).toBe('closed');
    await worker.drain();
    for (const id of [...failing, 'trans_cheld']) {
      const { upstream } = (await t.gql(t.keys.member, RECEIPT, { id })).body.data!.resource;
      expect(upstream.status, id).toBe('DELETED');
    }
    // The held deletion: no call at the gateway, one by the worker, and the trail says why it waited.
    const receipt = (await t.gql(t.keys.member, RECEIPT, { id: 'trans_cheld' })).body.data!.resource;
    expect(receipt.upstream).toMatchObject({ attempts: 1, lastHttpStatus: 200 });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_cheld'))).toHaveLength(1);
    expect(receipt.deletionReceipt.map((e: { outcome: string; actor: string }) => `${e.outcome} ${e.actor.split(' ')[0]}`)).toEqual([
      'DELETED user:bob',
      'UPSTREAM_RETRY_SCHEDULED system:gateway',
      'UPSTREAM_DELETED system:worker',
    ]);
    expect(receipt.deletionReceipt[1].details).toMatchObject({ reason: 'CIRCUIT_OPEN', attempt: 0 });

    // Closed again: the next delete calls Aitronos inline.
    expect((await deleteTranscription('trans_cafter')).upstream).toMatchObject({ status: 'DELETED', attempts: 1 });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_cafter'))).toHaveLength(1);
  });

  it("holds back the request path once the worker's failures open the circuit: failures count across both", async () => {
    const ids = ['job-cshared0', 'job-cshared1', 'job-cshared2'];
    await t.register([...ids, 'job-cshared-held'].map((id) => ({ kind: 'BATCH_JOB', id, organizationId: ORG, ownerId: 'bob' })));
    t.simulators.daily.pushFault({ status: 503, times: Infinity, path: '/v1/batch-processor/job-cshared' });
    // Three failures inline (the circuit stays closed), three more by the worker: it opens.
    for (const id of ids) await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
    expect(t.gateway.circuits.of('DAILY').state).toBe('closed');
    now += 1_000;
    expect(await worker.tick()).toBe(3);
    await worker.idle();
    expect(t.gateway.circuits.of('DAILY').state).toBe('open');

    const calls = t.simulators.daily.requests.length;
    const held = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: 'job-cshared-held' });
    expect(held.body.data!.deleteBatchJob.upstream).toMatchObject({ status: 'PENDING', reason: 'CIRCUIT_OPEN', attempts: 0 });
    expect(t.simulators.daily.requests.length).toBe(calls);
  });

  it('lets the first delete after the cooldown through as the probe when no worker probes first, and its answer closes the circuit', async () => {
    const failing = Array.from({ length: 5 }, (_, i) => `revcfail${i}`);
    await transcriptions('REV_AI', ...failing, 'revcheld', 'revcprobe');
    t.simulators.revai.pushFault({ status: 503, times: failing.length, path: '/speechtotext/v1/jobs/revcfail' });
    for (const id of failing) await deleteTranscription(id);
    expect((await deleteTranscription('revcheld')).upstream).toMatchObject({ status: 'PENDING', reason: 'CIRCUIT_OPEN', attempts: 0 });
    expect(deletesTo(t.simulators.revai, '/speechtotext/v1/jobs/revcheld')).toHaveLength(0);

    now += COOLDOWN_MS;
    expect(t.gateway.circuits.of('REV_AI').state).toBe('half-open');
    expect((await deleteTranscription('revcprobe')).upstream).toMatchObject({ status: 'DELETED', attempts: 1, lastHttpStatus: 204 });
    expect(deletesTo(t.simulators.revai, '/speechtotext/v1/jobs/revcprobe')).toHaveLength(1);
    expect(t.gateway.circuits.of('REV_AI').state).toBe('closed');
  });
});
