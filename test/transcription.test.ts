import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG, TEST_CREDENTIALS, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE_TRANSCRIPTION = `mutation($id: ID!) {
  deleteTranscription(transcriptionId: $id) {
    __typename
    ... on TranscriptionDeletion {
      transcriptionId provider deleted deletedAt deletedUpstream alreadyDeleted
      upstream { status attempts reason lastHttpStatus providerResponse }
      auditEvent { id outcome actor hash }
      metadata { requestId processingTimeMs }
    }
    ... on Error { code message status traceId }
    ... on ValidationError { field }
  }
}`;

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

describe('deleteTranscription at Aitronos audio', () => {
  it('calls the provider once with the bearer credential, then replays without a second call', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_first1', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    const first = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_first1' });
    const deletion = first.body.data!.deleteTranscription;
    expect(deletion).toMatchObject({
      __typename: 'TranscriptionDeletion',
      transcriptionId: 'trans_first1',
      provider: 'AITRONOS_AUDIO',
      deleted: true,
      deletedUpstream: true,
      alreadyDeleted: false,
      upstream: { status: 'DELETED', attempts: 1, lastHttpStatus: 200, providerResponse: { deleted_upstream: true } },
      auditEvent: { outcome: 'DELETED', actor: expect.stringContaining('user:bob') },
    });
    expect(first.headers.get('x-request-id')).toBe(deletion.metadata.requestId);
    const calls = deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_first1');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${TEST_CREDENTIALS.aitronosApiKey}`);

    const again = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_first1' });
    expect(again.body.data!.deleteTranscription).toMatchObject({ alreadyDeleted: true, deletedAt: deletion.deletedAt, deletedUpstream: true });
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_first1')).toHaveLength(1);
  });

  it('makes exactly one provider call for 20 concurrent deletes of one resource', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_race', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_race' })));
    expect(answers.map((a) => a.body.data!.deleteTranscription.__typename)).toEqual(Array(20).fill('TranscriptionDeletion'));
    expect(answers.filter((a) => !a.body.data!.deleteTranscription.alreadyDeleted)).toHaveLength(1);
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_race')).toHaveLength(1);
  });

  it("answers NotFoundError for another organisation's transcription and calls nobody", async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_theirs', provider: 'AITRONOS_AUDIO', organizationId: 'org_b', ownerId: 'olga' }]);
    const answer = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'trans_theirs' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404 });
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_theirs')).toHaveLength(0);
  });

  it('refuses a viewer with PermissionDeniedError', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_viewed', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'victor' }]);
    const answer = await t.gql(t.keys.viewer, DELETE_TRANSCRIPTION, { id: 'trans_viewed' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS' });
    expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_viewed')).toHaveLength(0);
  });

  it.each(['../x', 'a/b', 'a?b', '%2F', 'x'.repeat(500), '', 'trans_a b'])('rejects the id %j before any provider call', async (id) => {
    const before = t.simulators.aitronos.requests.length + t.simulators.revai.requests.length;
    const answer = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_ERROR', field: 'transcriptionId' });
    expect(t.simulators.aitronos.requests.length + t.simulators.revai.requests.length).toBe(before);
  });

  it('keeps the deletion PENDING when the provider answers 503, and when it does not answer in time', async () => {
    await t.register([
      { kind: 'TRANSCRIPTION', id: 'trans_busy', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRANSCRIPTION', id: 'trans_slow', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
    ]);
    t.simulators.aitronos.pushFault({ status: 503, path: '/v1/audio/transcribe/trans_busy' });
    const busy = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_busy' });
    expect(busy.body.data!.deleteTranscription).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      upstream: { status: 'PENDING', lastHttpStatus: 503, reason: 'PROVIDER_UNAVAILABLE' },
    });
    t.simulators.aitronos.pushFault({ hang: true, path: '/v1/audio/transcribe/trans_slow' });
    const slow = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_slow' });
    expect(slow.body.data!.deleteTranscription).toMatchObject({ deleted: true, deletedUpstream: false, upstream: { status: 'PENDING', reason: 'TIMEOUT' } });
  });

  it('fails the upstream deletion on 401 (retrying cannot help)', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_denied', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.aitronos.pushFault({
      status: 401,
      body: { success: false, error: { code: 'AUTHENTICATION_REQUIRED', status: 401, message: 'no' } },
      path: '/v1/audio/transcribe/trans_denied',
    });
    const answer = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_denied' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ deletedUpstream: false, upstream: { status: 'FAILED', reason: 'UNAUTHORIZED', lastHttpStatus: 401 } });
  });

  it("records Aitronos' deleted_upstream: false as DELETED with reason PROVIDER_UPSTREAM_PENDING", async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_subproc', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.aitronos.setDeletedUpstream(false);
    try {
      const answer = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: 'trans_subproc' });
      expect(answer.body.data!.deleteTranscription).toMatchObject({
        deletedUpstream: true,
        upstream: { status: 'DELETED', reason: 'PROVIDER_UPSTREAM_PENDING', providerResponse: { deleted_upstream: false } },
      });
    } finally {
      t.simulators.aitronos.setDeletedUpstream(true);
    }
  });
});

describe('deleteTranscription at Rev AI', () => {
  it('sends DELETE /speechtotext/v1/jobs/{id} with the bearer token and reads 204 as deleted', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revjob1', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    const answer = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'revjob1' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ provider: 'REV_AI', deletedUpstream: true, upstream: { status: 'DELETED', lastHttpStatus: 204 } });
    const calls = deletesTo(t.simulators.revai, '/speechtotext/v1/jobs/revjob1');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${TEST_CREDENTIALS.revaiAccessToken}`);
  });

  it('keeps a job that is still in progress PENDING with reason JOB_IN_PROGRESS', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revbusy1', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.revai.setJobState('revbusy1', 'in_progress');
    const answer = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'revbusy1' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      upstream: { status: 'PENDING', reason: 'JOB_IN_PROGRESS', lastHttpStatus: 409 },
    });
  });

  it("counts Rev AI's own 404 as deleted, but a route miss as FAILED UNRECOGNIZED_RESPONSE", async () => {
    await t.register([
      { kind: 'TRANSCRIPTION', id: 'revgone', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRANSCRIPTION', id: 'revproxy', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' },
    ]);
    t.simulators.revai.markMissing('/speechtotext/v1/jobs/revgone');
    const gone = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'revgone' });
    expect(gone.body.data!.deleteTranscription).toMatchObject({ deletedUpstream: true, upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 } });
    t.simulators.revai.pushFault({ status: 404, body: '<html>Not Found</html>', contentType: 'text/html', path: '/speechtotext/v1/jobs/revproxy' });
    const proxy = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'revproxy' });
    expect(proxy.body.data!.deleteTranscription).toMatchObject({ deletedUpstream: false, upstream: { status: 'FAILED', reason: 'UNRECOGNIZED_RESPONSE' } });
  });
});

describe('answers that are not the provider speaking', () => {
  it('reads an HTML page answering 200 for Rev AI as FAILED UNRECOGNIZED_RESPONSE, never as deleted', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revhtml', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.revai.pushFault({ status: 200, body: '<html>Welcome to nginx</html>', contentType: 'text/html', path: '/speechtotext/v1/jobs/revhtml' });
    const answer = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'revhtml' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ deletedUpstream: false, upstream: { status: 'FAILED', reason: 'UNRECOGNIZED_RESPONSE' } });
  });

  it('reads an HTML page answering 200 for Aitronos audio as FAILED UNRECOGNIZED_RESPONSE', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_html', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.aitronos.pushFault({ status: 200, body: '<html>ok</html>', contentType: 'text/html', path: '/v1/audio/transcribe/trans_html' });
    const answer = await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: 'trans_html' });
    expect(answer.body.data!.deleteTranscription).toMatchObject({ deletedUpstream: false, upstream: { status: 'FAILED', reason: 'UNRECOGNIZED_RESPONSE' } });
  });
});
