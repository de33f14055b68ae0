// The operator surface: upstreamDeletions (admin, keyset-paged, scoped to the caller's organisation)
// and retryUpstreamDeletion (admin, re-queues a FAILED upstream deletion).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_ORG, ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const LIST = `query($status: UpstreamStatus, $provider: Provider, $first: Int, $after: String) {
  upstreamDeletions(status: $status, provider: $provider, first: $first, after: $after) {
    edges { cursor node { kind resourceId provider status attempts reason lastHttpStatus } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const RETRY = `mutation($kind: ResourceKind!, $id: ID!) {
  retryUpstreamDeletion(kind: $kind, id: $id) {
    __typename
    ... on UpstreamDeletion { kind resourceId status attempts reason nextAttemptAt }
    ... on Error { code message }
    ... on ValidationError { field }
  }
}`;
const DELETE_TRANSCRIPTION = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }`;
const DELETE_BATCH_JOB = `mutation($id: ID!) { deleteBatchJob(batchJobId: $id) { __typename } }`;
const DELETE_SESSION = `mutation($id: ID!) { deleteSession(sessionId: $id) { __typename } }`;

interface Node {
  kind: string;
  resourceId: string;
  provider: string;
  status: string;
}

let t: TestGateway;
const statements: string[] = [];
const failed = Array.from({ length: 6 }, (_, i) => `trans_ofail${i}`);
const pending = Array.from({ length: 7 }, (_, i) => `trans_opend${i}`);
const deleted = Array.from({ length: 12 }, (_, i) => `trans_odone${i}`);
const jobs = ['job-o1', 'job-o2', 'job-o3'];
const theirs = ['trans_theirs1', 'trans_theirs2', 'trans_theirs3'];

const audio = (organizationId: string, ownerId: string) => (id: string) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId, ownerId });

beforeAll(async () => {
  t = await startTestGateway({ onQuery: (sql) => statements.push(sql) });
  await t.register([...failed, ...pending, ...deleted, 'trans_onever'].map(audio(ORG, 'bob')));
  await t.register(jobs.map((id) => ({ kind: 'BATCH_JOB', id, organizationId: ORG, ownerId: 'bob' })));
  await t.register([
    { kind: 'SESSION', id: 'sess_o1', organizationId: ORG, ownerId: 'bob' },
    { kind: 'DOCUMENT', id: 'doc_o1', sessionId: 'sess_o1', organizationId: ORG, ownerId: 'bob' },
  ]);
  await t.register(theirs.map(audio(OTHER_ORG, 'oscar')));
  const unauthorized = { status: 401, body: { success: false, error: { code: 'AUTHENTICATION_REQUIRED', status: 401, message: 'Invalid API key' } } };
  for (const id of failed) t.simulators.aitronos.pushFault({ ...unauthorized, path: `/v1/audio/transcribe/${id}` });
  for (const id of pending) t.simulators.aitronos.pushFault({ status: 503, path: `/v1/audio/transcribe/${id}` });
  t.simulators.scriptix.pushFault({ status: 403, body: { error: 'forbidden' }, path: '/api/v3/speech-to-text/session/sess_o1' });
  // A success after each 503 keeps Aitronos' circuit closed (five retryable failures in a row open it).
  const order = [...failed, ...pending.flatMap((id, i) => [id, deleted[i]!]), ...deleted.slice(pending.length)];
  for (const id of order) await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id });
  for (const id of jobs) await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
  await t.gql(t.keys.admin, DELETE_SESSION, { id: 'sess_o1' });
  for (const id of theirs) await t.gql(t.keys.otherMember, DELETE_TRANSCRIPTION, { id });
});
afterAll(async () => {
  await t?.close();
});

async function list(key: string, variables: Record<string, unknown> = {}) {
  const answer = await t.gql(key, LIST, variables);
  return { ...answer, page: answer.body.data?.upstreamDeletions as { edges: { cursor: string; node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
}

describe('upstreamDeletions', () => {
  it.each(['member', 'viewer'] as const)('refuses a %s with a top-level INSUFFICIENT_PERMISSIONS error, HTTP 200', async (role) => {
    const answer = await list(t.keys[role]);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toBeNull();
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_PERMISSIONS');
  });

  it("lists the organisation's upstream deletions, newest first, and nothing of another organisation", async () => {
    const { page } = await list(t.keys.admin, { first: 100 });
    const ids = page.edges.map((e) => e.node.resourceId);
    expect(new Set(ids)).toEqual(new Set([...failed, ...pending, ...deleted, ...jobs, 'sess_o1']));
    expect(page.pageInfo.hasNextPage).toBe(false);
    const other = await list(t.keys.otherAdmin, { first: 100 });
    expect(other.page.edges.map((e) => e.node.resourceId).sort()).toEqual([...theirs].sort());
    // Newest first: the last deletions made come first.
    expect(ids.indexOf('sess_o1')).toBeLessThan(ids.indexOf('trans_ofail0'));
  });

  it('filters by status and provider', async () => {
    const failedRows = (await list(t.keys.admin, { status: 'FAILED' })).page.edges.map((e) => e.node);
    expect(failedRows.map((n) => n.resourceId).sort()).toEqual([...failed, 'sess_o1'].sort());
    expect(failedRows.find((n) => n.resourceId === 'trans_ofail0')).toMatchObject({ status: 'FAILED', reason: 'UNAUTHORIZED', lastHttpStatus: 401 });
    const pendingAudio = (await list(t.keys.admin, { status: 'PENDING', provider: 'AITRONOS_AUDIO' })).page.edges.map((e) => e.node.resourceId);
    expect(pendingAudio.sort()).toEqual([...pending].sort());
    const daily = (await list(t.keys.admin, { provider: 'DAILY' })).page.edges.map((e) => e.node);
    expect(daily.map((n) => `${n.resourceId} ${n.status}`).sort()).toEqual(jobs.map((id) => `${id} DELETED`));
  });

  it('pages by keyset: every row once, in order, with no OFFSET in the SQL', async () => {
    const all = (await list(t.keys.admin, { first: 100 })).page.edges.map((e) => e.node.resourceId);
    statements.length = 0;
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { page } = await list(t.keys.admin, { first: 7, after });
      pages += 1;
      seen.push(...page.edges.map((e) => e.node.resourceId));
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 7));
    const listing = statements.filter((s) => /from upstream_deletions /i.test(s) && /limit/i.test(s));
    expect(listing.length).toBeGreaterThanOrEqual(pages);
    expect(listing.filter((s) => /offset/i.test(s))).toEqual([]);
  });

  it('defaults to 20 a page', async () => {
    const { page } = await list(t.keys.admin);
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });

  it.each([0, -1, 101])('refuses first: %i with VALIDATION_ERROR', async (first) => {
    const answer = await list(t.keys.admin, { first });
    expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'first' });
  });

  it("refuses a cursor that is not one, or is another organisation's, and shows none of its rows", async () => {
    const theirCursor = (await list(t.keys.otherAdmin, { first: 1 })).page.pageInfo.endCursor!;
    for (const after of [theirCursor, 'not-a-cursor', Buffer.from('{"l":"upstreamDeletions","o":"org_a","k":{}}').toString('base64url')]) {
      const answer = await list(t.keys.admin, { after });
      expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'after' });
      expect(JSON.stringify(answer.body)).not.toContain('trans_theirs');
    }
  });
});

describe('retryUpstreamDeletion', () => {
  it('re-queues a FAILED upstream deletion with a full set of attempts, audited as UPSTREAM_REQUEUED by the admin', async () => {
    const answer = await t.gql(t.keys.admin, RETRY, { kind: 'TRANSCRIPTION', id: 'trans_ofail0' });
    expect(answer.body.data!.retryUpstreamDeletion).toMatchObject({
      __typename: 'UpstreamDeletion',
      kind: 'TRANSCRIPTION',
      resourceId: 'trans_ofail0',
      status: 'PENDING',
      attempts: 0,
      reason: 'REQUEUED',
    });
    const receipt = await t.gql(t.keys.admin, `{ resource(kind: TRANSCRIPTION, id: "trans_ofail0") { upstream { status } deletionReceipt { outcome actor details } } }`);
    const resource = receipt.body.data!.resource;
    expect(resource.upstream.status).toBe('PENDING');
    expect(resource.deletionReceipt.at(-1)).toMatchObject({
      outcome: 'UPSTREAM_REQUEUED',
      actor: expect.stringMatching(/^user:alice key:key_/),
      details: { previous: { reason: 'UNAUTHORIZED', attempts: 1, lastHttpStatus: 401 } },
    });
    // Now PENDING: a second retry is refused.
    const again = await t.gql(t.keys.admin, RETRY, { kind: 'TRANSCRIPTION', id: 'trans_ofail0' });
    expect(again.body.data!.retryUpstreamDeletion).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_ERROR', field: 'id' });
  });

  it("retries a document's deletion through its session's, which carried it", async () => {
    const answer = await t.gql(t.keys.admin, RETRY, { kind: 'DOCUMENT', id: 'doc_o1' });
    expect(answer.body.data!.retryUpstreamDeletion).toMatchObject({ __typename: 'UpstreamDeletion', kind: 'SESSION', resourceId: 'sess_o1', status: 'PENDING' });
  });

  it('answers PermissionDeniedError to a member, NotFoundError for another organisation, ValidationError when not FAILED', async () => {
    const cases: [string, string, string, Record<string, unknown>][] = [
      [t.keys.member, 'TRANSCRIPTION', 'trans_ofail1', { __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS' }],
      [t.keys.viewer, 'TRANSCRIPTION', 'trans_ofail1', { __typename: 'PermissionDeniedError' }],
      [t.keys.admin, 'TRANSCRIPTION', 'trans_theirs1', { __typename: 'NotFoundError', code: 'NOT_FOUND' }],
      [t.keys.admin, 'TRANSCRIPTION', 'trans_nosuch', { __typename: 'NotFoundError' }],
      [t.keys.admin, 'TRANSCRIPTION', 'trans_odone0', { __typename: 'ValidationError', field: 'id' }],
      [t.keys.admin, 'TRANSCRIPTION', 'trans_opend0', { __typename: 'ValidationError', field: 'id' }],
      [t.keys.admin, 'TRANSCRIPTION', 'trans_onever', { __typename: 'ValidationError', field: 'id' }],
      [t.keys.admin, 'TRANSCRIPTION', '../etc', { __typename: 'ValidationError', field: 'id' }],
    ];
    for (const [key, kind, id, expected] of cases) {
      const answer = await t.gql(key, RETRY, { kind, id });
      expect(answer.body.data!.retryUpstreamDeletion, `${kind} ${id}`).toMatchObject(expected);
    }
    // None of them changed anything.
    const { page } = await list(t.keys.admin, { status: 'FAILED', first: 100 });
    expect(page.edges.map((e) => e.node.resourceId)).toContain('trans_ofail1');
    const theirs1 = (await list(t.keys.otherAdmin, { first: 100 })).page.edges.find((e) => e.node.resourceId === 'trans_theirs1');
    expect(theirs1?.node.status).toBe('DELETED');
  });
});
