import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_BUCKET, ORG, OTHER_ORG, TEST_CREDENTIALS, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE_BATCH_JOB = `mutation($id: ID!) {
  deleteBatchJob(batchJobId: $id) {
    __typename
    ... on BatchJobDeletion {
      batchJobId deleted deletedAt deletedUpstream alreadyDeleted
      job { id preset status input output error }
      outputObjects { bucket key region format }
      retainedObjects { bucket key region format }
      upstream { kind status attempts reason lastHttpStatus lastError providerResponse }
      auditEvent { outcome action resourceId }
    }
    ... on Error { code message status }
    ... on ValidationError { field }
  }
}`;

/** A second custom bucket, so "only objects in DAILY_CUSTOM_BUCKETS" is tested with a list. */
const ARCHIVE_BUCKET = 'acme-archive';
const DAILY_BUCKET = 'daily-prod-batch';

const jobPath = (id: string) => `/v1/batch-processor/${id}`;

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ env: { DAILY_CUSTOM_BUCKETS: `${CUSTOM_BUCKET}, ${ARCHIVE_BUCKET}` } });
});
afterAll(async () => {
  await t?.close();
});

/** Daily's `output` shape, as an operator registers it in `attributes.output`. */
function registeredOutput(id: string) {
  const object = (bucket: string, path: string, format: string, region = 'eu-central-1') => ({
    format,
    s3Config: { bucket, key: `${bucket}/${id}/${path}`, region },
  });
  return {
    transcription: [
      object(DAILY_BUCKET, 'transcript/output.json', 'json', 'us-west-2'),
      object(CUSTOM_BUCKET, 'transcript/output.vtt', 'vtt'),
      object('someone-elses-bucket', 'transcript/output.txt', 'txt'),
    ],
    summary: object(ARCHIVE_BUCKET, 'summary/output.txt', 'txt'),
  };
}

async function job(id: string, options: { output?: boolean; ownerId?: string; organizationId?: string } = {}): Promise<void> {
  await t.register([
    {
      kind: 'BATCH_JOB',
      id,
      organizationId: options.organizationId ?? ORG,
      ownerId: options.ownerId ?? 'bob',
      ...(options.output ? { attributes: { output: registeredOutput(id) } } : {}),
    },
  ]);
}

describe('deleteBatchJob', () => {
  it("sends one DELETE with the bearer key and returns Daily's job with exactly the custom-bucket objects", async () => {
    const id = '3ab8faa2-8ba2-4ee6-bd15-003a92c18245';
    await job(id);
    const answer = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
    const deletion = answer.body.data!.deleteBatchJob;
    expect(deletion).toMatchObject({
      __typename: 'BatchJobDeletion',
      batchJobId: id,
      deleted: true,
      deletedUpstream: true,
      alreadyDeleted: false,
      job: { id, preset: 'transcript', status: 'finished', error: null, input: { sourceType: 'recordingId' } },
      upstream: { kind: 'BATCH_JOB', status: 'DELETED', attempts: 1, lastHttpStatus: 200, reason: null },
      auditEvent: { outcome: 'DELETED', action: 'batch_job.delete', resourceId: id },
    });
    // Daily deletes what is in its own bucket; the two objects in the customer's bucket are left to the caller.
    expect(deletion.retainedObjects).toEqual([
      { bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/${id}/transcript/output.txt`, region: 'eu-central-1', format: 'txt' },
      { bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/${id}/summary/output.txt`, region: 'eu-central-1', format: 'txt' },
    ]);
    expect(deletion.job.output.transcription).toHaveLength(2);
    const calls = deletesTo(t.simulators.daily, jobPath(id));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${TEST_CREDENTIALS.dailyApiKey}`);
  });

  it("lists every output object Daily's answer names, in its own bucket and in custom ones, and retains only the custom ones", async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000010';
    await job(id);
    const deletion = (await t.gql(t.keys.member, DELETE_BATCH_JOB, { id })).body.data!.deleteBatchJob;
    const daily = { bucket: DAILY_BUCKET, key: `${DAILY_BUCKET}/${id}/transcript/output.json`, region: 'us-west-2', format: 'json' };
    const transcript = { bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/${id}/transcript/output.txt`, region: 'eu-central-1', format: 'txt' };
    const summary = { bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/${id}/summary/output.txt`, region: 'eu-central-1', format: 'txt' };
    expect(deletion.outputObjects).toEqual([daily, transcript, summary]);
    expect(deletion.retainedObjects).toEqual([transcript, summary]);
  });

  it("while PENDING lists every object of the catalog's registered output, retained or not", async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000011';
    await job(id, { output: true });
    t.simulators.daily.pushFault({ status: 503, path: jobPath(id) });
    const deletion = (await t.gql(t.keys.member, DELETE_BATCH_JOB, { id })).body.data!.deleteBatchJob;
    expect(deletion.upstream.status).toBe('PENDING');
    expect(deletion.outputObjects.map((o: { bucket: string; key: string }) => o.key)).toEqual([
      `${DAILY_BUCKET}/${id}/transcript/output.json`,
      `${CUSTOM_BUCKET}/${id}/transcript/output.vtt`,
      `someone-elses-bucket/${id}/transcript/output.txt`,
      `${ARCHIVE_BUCKET}/${id}/summary/output.txt`,
    ]);
    expect(deletion.retainedObjects.map((o: { bucket: string }) => o.bucket)).toEqual([CUSTOM_BUCKET, ARCHIVE_BUCKET]);
  });

  it("prefers Daily's answer to the catalog's registered output once Daily has answered", async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000001';
    await job(id, { output: true });
    const answer = await t.gql(t.keys.admin, DELETE_BATCH_JOB, { id });
    expect(answer.body.data!.deleteBatchJob.retainedObjects.map((o: { key: string }) => o.key)).toEqual([
      `${CUSTOM_BUCKET}/${id}/transcript/output.txt`,
      `${CUSTOM_BUCKET}/${id}/summary/output.txt`,
    ]);
  });

  it('replays with alreadyDeleted, the same job and retained objects, and no second provider call', async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000002';
    await job(id);
    const first = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
    const again = await t.gql(t.keys.member2, DELETE_BATCH_JOB, { id });
    const { job: firstJob, retainedObjects, deletedAt } = first.body.data!.deleteBatchJob;
    expect(again.body.data!.deleteBatchJob).toMatchObject({
      alreadyDeleted: true,
      deletedUpstream: true,
      deletedAt,
      job: firstJob,
      retainedObjects,
      auditEvent: { outcome: 'ALREADY_DELETED' },
    });
    expect(deletesTo(t.simulators.daily, jobPath(id))).toHaveLength(1);
  });

  it('while PENDING (503): job is null and retainedObjects come from the catalog, custom buckets only', async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000003';
    await job(id, { output: true });
    t.simulators.daily.pushFault({ status: 503, path: jobPath(id) });
    const answer = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
    expect(answer.body.data!.deleteBatchJob).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      job: null,
      upstream: { status: 'PENDING', reason: 'PROVIDER_UNAVAILABLE', lastHttpStatus: 503 },
    });
    expect(answer.body.data!.deleteBatchJob.retainedObjects).toEqual([
      { bucket: CUSTOM_BUCKET, key: `${CUSTOM_BUCKET}/${id}/transcript/output.vtt`, region: 'eu-central-1', format: 'vtt' },
      { bucket: ARCHIVE_BUCKET, key: `${ARCHIVE_BUCKET}/${id}/summary/output.txt`, region: 'eu-central-1', format: 'txt' },
    ]);
  });

  it('while PENDING with no registered output: job null and no retained objects', async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000004';
    await job(id);
    t.simulators.daily.pushFault({ status: 503, path: jobPath(id) });
    const answer = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
    expect(answer.body.data!.deleteBatchJob).toMatchObject({ deletedUpstream: false, job: null, outputObjects: [], retainedObjects: [] });
  });

  it("counts Daily's own 404 (a JSON error) as deleted, but an empty 404 as FAILED UNRECOGNIZED_RESPONSE", async () => {
    const gone = 'a1b2c3d4-0000-4000-8000-000000000005';
    const proxy = 'a1b2c3d4-0000-4000-8000-000000000006';
    await job(gone, { output: true });
    await job(proxy);
    t.simulators.daily.markMissing(jobPath(gone));
    const first = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: gone });
    expect(first.body.data!.deleteBatchJob).toMatchObject({
      deletedUpstream: true,
      job: null,
      upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 },
    });
    // Daily had nothing to answer with: what the catalog knows still tells the caller what to clean up.
    expect(first.body.data!.deleteBatchJob.retainedObjects.map((o: { bucket: string }) => o.bucket)).toEqual([CUSTOM_BUCKET, ARCHIVE_BUCKET]);

    t.simulators.daily.pushFault({ status: 404, body: '', contentType: 'text/plain', path: jobPath(proxy) });
    const second = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: proxy });
    expect(second.body.data!.deleteBatchJob).toMatchObject({
      deletedUpstream: false,
      job: null,
      upstream: { status: 'FAILED', reason: 'UNRECOGNIZED_RESPONSE', lastHttpStatus: 404 },
    });
  });

  it('fails a job whose 200 body reports an error text, never DELETED, keeping the job body and the text as lastError', async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000012';
    await job(id);
    t.simulators.daily.setJobError(id, { error: 'Failed to delete transcriptions', status: 'finished' });
    const deletion = (await t.gql(t.keys.member, DELETE_BATCH_JOB, { id })).body.data!.deleteBatchJob;
    expect(deletion).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      job: { id, status: 'finished', error: 'Failed to delete transcriptions' },
      upstream: {
        status: 'FAILED',
        reason: 'PROVIDER_REPORTED_ERROR',
        lastHttpStatus: 200,
        lastError: 'HTTP 200: Failed to delete transcriptions',
        providerResponse: { job: { id, error: 'Failed to delete transcriptions' } },
      },
    });
    // What existed is still listed, so the caller knows what Daily may have left behind.
    expect(deletion.outputObjects).toHaveLength(3);
    const receipt = await t.gql(t.keys.member, `query($id: ID!) { resource(kind: BATCH_JOB, id: $id) { deletionReceipt { outcome details } } }`, { id });
    expect(receipt.body.data!.resource.deletionReceipt.at(-1)).toMatchObject({
      outcome: 'UPSTREAM_FAILED',
      details: { reason: 'PROVIDER_REPORTED_ERROR', error: 'HTTP 200: Failed to delete transcriptions', job: { id, status: 'finished' } },
    });
  });

  it('fails a job whose 200 body says status "error" with no text, never DELETED, keeping the job body', async () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000013';
    await job(id);
    t.simulators.daily.setJobError(id, { error: null, status: 'error' });
    const deletion = (await t.gql(t.keys.member, DELETE_BATCH_JOB, { id })).body.data!.deleteBatchJob;
    expect(deletion).toMatchObject({
      deletedUpstream: false,
      job: { id, status: 'error', error: null },
      upstream: {
        status: 'FAILED',
        reason: 'PROVIDER_REPORTED_ERROR',
        lastHttpStatus: 200,
        lastError: 'HTTP 200: Daily answered the job with status "error"',
        providerResponse: { job: { id, status: 'error' } },
      },
    });
  });

  it("answers NotFoundError for another organisation's job, PermissionDeniedError for a viewer, and calls nobody", async () => {
    const theirs = 'a1b2c3d4-0000-4000-8000-000000000007';
    const ours = 'a1b2c3d4-0000-4000-8000-000000000008';
    await job(theirs, { organizationId: OTHER_ORG, ownerId: 'oscar' });
    await job(ours);
    const notFound = await t.gql(t.keys.admin, DELETE_BATCH_JOB, { id: theirs });
    expect(notFound.body.data!.deleteBatchJob).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404 });
    const viewer = await t.gql(t.keys.viewer, DELETE_BATCH_JOB, { id: ours });
    expect(viewer.body.data!.deleteBatchJob).toMatchObject({ __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS', status: 403 });
    expect(deletesTo(t.simulators.daily, jobPath(theirs))).toHaveLength(0);
    expect(deletesTo(t.simulators.daily, jobPath(ours))).toHaveLength(0);
  });

  it('rejects a malformed batchJobId with ValidationError before any provider call', async () => {
    const before = t.simulators.daily.requests.length;
    const answer = await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: '../recordings' });
    expect(answer.body.data!.deleteBatchJob).toMatchObject({ __typename: 'ValidationError', field: 'batchJobId' });
    expect(t.simulators.daily.requests.length).toBe(before);
  });
});
