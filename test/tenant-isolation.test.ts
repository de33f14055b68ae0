// Tenant isolation: for every query and mutation, a principal of organisation B gets nothing of
// organisation A — not found, null or an empty page — and never causes a provider call for A's data.
// auditEvents, upstreamDeletions, retryUpstreamDeletion and auditTrailVerification are checked when
// the schema has them (introspected at load), and skipped otherwise.
import { afterAll, describe, expect, it } from 'vitest';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const t: TestGateway = await startTestGateway();
afterAll(async () => {
  await t.close();
});

const introspected = await t.gql(t.keys.admin, '{ q: __type(name: "Query") { fields { name } } m: __type(name: "Mutation") { fields { name } } }');
const fieldNames = new Set(
  [...(introspected.body.data as any).q.fields, ...(introspected.body.data as any).m.fields].map((f: { name: string }) => f.name as string),
);
const lacks = (field: string) => !fieldNames.has(field);

const BATCH_A = '3d0f7c2a-9a41-4f0e-8c55-2f1b7e6a9d10';
/** Organisation A's resources: one of every kind, as the six delete mutations name them. */
const A = {
  aitronos: 'trans_iso_a1',
  revai: 'revjobisoa1',
  session: 'sess_iso_a',
  document: 'doc_iso_a',
  comment: 'cmt_iso_a',
  track: 'mtrack_iso_a',
  batchJob: BATCH_A,
  deleted: 'trans_iso_a_done',
  failed: 'trans_iso_a_failed',
};
const A_IDS = Object.values(A);

await t.register([
  { kind: 'TRANSCRIPTION', id: A.aitronos, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
  { kind: 'TRANSCRIPTION', id: A.revai, provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' },
  { kind: 'SESSION', id: A.session, organizationId: ORG, ownerId: 'bob' },
  { kind: 'DOCUMENT', id: A.document, sessionId: A.session, organizationId: ORG, ownerId: 'bob' },
  { kind: 'COMMENT', id: A.comment, sessionId: A.session, documentId: A.document, organizationId: ORG, ownerId: 'bob' },
  { kind: 'TRACK', id: A.track, organizationId: ORG, ownerId: 'alice' },
  { kind: 'BATCH_JOB', id: A.batchJob, organizationId: ORG, ownerId: 'bob' },
  { kind: 'TRANSCRIPTION', id: A.deleted, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
  { kind: 'TRANSCRIPTION', id: A.failed, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
  { kind: 'TRANSCRIPTION', id: 'trans_iso_b1', provider: 'AITRONOS_AUDIO', organizationId: OTHER_ORG, ownerId: 'oscar' },
  { kind: 'SESSION', id: 'sess_iso_b', organizationId: OTHER_ORG, ownerId: 'oscar' },
]);

// Organisation A leaves a trail: a completed deletion and a FAILED one (audit events, outbox rows).
const DELETE_TRANSCRIPTION = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Error { code message systemMessage details } } }`;
await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: A.deleted });
t.simulators.aitronos.pushFault({ status: 403, body: { success: false, error: { code: 'FORBIDDEN', status: 403, message: 'no' } }, path: `/v1/audio/transcribe/${A.failed}` });
await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id: A.failed });
// And B has a trail of its own, so its pages are not empty by accident.
await t.gql(t.keys.otherMember, DELETE_TRANSCRIPTION, { id: 'trans_iso_b1' });

const B_KEYS = { admin: t.keys.otherAdmin, member: t.keys.otherMember };
const providerCalls = () => t.simulators.aitronos.requests.length + t.simulators.revai.requests.length + t.simulators.scriptix.requests.length + t.simulators.daily.requests.length;

/** Nothing in an answer names organisation A or its users. */
function expectNothingOfA(answer: unknown) {
  const text = JSON.stringify(answer);
  expect(text).not.toContain(ORG);
  for (const user of ['"alice"', '"bob"', 'user:alice', 'user:bob']) expect(text).not.toContain(user);
}

async function stillLiveForA(kind: string, id: string) {
  const seen = await t.gql(t.keys.admin, `query($kind: ResourceKind!, $id: ID!) { resource(kind: $kind, id: $id) { deletedAt organizationId } }`, { kind, id });
  return seen.body.data!.resource;
}

describe.each(Object.entries(B_KEYS))("organisation B's %s reads nothing of A", (_role, key) => {
  it('viewer names B', async () => {
    const answer = await t.gql(key, '{ viewer { organizationId userId } }');
    expect(answer.body.data!.viewer.organizationId).toBe(OTHER_ORG);
  });

  it.each([
    ['TRANSCRIPTION', A.aitronos],
    ['TRANSCRIPTION', A.revai],
    ['TRANSCRIPTION', A.deleted],
    ['SESSION', A.session],
    ['DOCUMENT', A.document],
    ['COMMENT', A.comment],
    ['TRACK', A.track],
    ['BATCH_JOB', A.batchJob],
  ])('resource(%s, %s) is null', async (kind, id) => {
    const answer = await t.gql(key, `query($kind: ResourceKind!, $id: ID!) { resource(kind: $kind, id: $id) { id organizationId deletedAt upstream { status } deletionReceipt { id } } }`, { kind, id });
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!.resource).toBeNull();
  });

  it.skipIf(lacks('auditEvents'))("auditEvents pages hold only B's events, whatever the filter", async () => {
    const query = `query($after: String, $resourceId: ID, $outcome: AuditOutcome) {
      auditEvents(first: 100, after: $after, resourceId: $resourceId, outcome: $outcome) {
        edges { cursor node { id organizationId actor resourceId outcome resource { id organizationId } } }
        pageInfo { hasNextPage endCursor }
      }
    }`;
    const all = await t.gql(key, query);
    expect(all.body.errors).toBeUndefined();
    const nodes = all.body.data!.auditEvents.edges.map((e: any) => e.node);
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of nodes) {
      expect(node.organizationId).toBe(OTHER_ORG);
      expect(node.actor).not.toMatch(/user:(alice|bob|carol|victor)\b/);
      if (node.resource) expect(node.resource.organizationId).toBe(OTHER_ORG);
    }
    expectNothingOfA(all.body);
    for (const id of [A.deleted, A.failed]) {
      const filtered = await t.gql(key, query, { resourceId: id, outcome: 'DELETED' });
      expect(filtered.body.data?.auditEvents.edges ?? []).toEqual([]);
    }
    const upstream = await t.gql(key, query, { outcome: 'UPSTREAM_FAILED' });
    expect(upstream.body.data!.auditEvents.edges).toEqual([]);
  });

  it.skipIf(lacks('auditEvents'))("A's cursor gives B an empty page or a refusal, never A's rows", async () => {
    const ofA = await t.gql(t.keys.admin, '{ auditEvents(first: 1) { pageInfo { endCursor } } }');
    const cursor = ofA.body.data!.auditEvents.pageInfo.endCursor as string;
    expect(cursor).toEqual(expect.any(String));
    const answer = await t.gql(key, 'query($after: String) { auditEvents(first: 100, after: $after) { edges { node { organizationId actor } } } }', { after: cursor });
    expect(answer.status).toBeLessThan(500);
    for (const edge of answer.body.data?.auditEvents.edges ?? []) expect(edge.node.organizationId).toBe(OTHER_ORG);
    expectNothingOfA(answer.body);
  });
});

describe("organisation B's admin sees none of A's operations", () => {
  it.skipIf(lacks('upstreamDeletions'))("upstreamDeletions lists only B's, by any status or provider, and A's cursor gives nothing of A", async () => {
    const query = `query($status: UpstreamStatus, $provider: Provider, $after: String) {
      upstreamDeletions(first: 100, status: $status, provider: $provider, after: $after) {
        edges { node { kind resourceId provider status } } pageInfo { endCursor }
      }
    }`;
    const all = await t.gql(t.keys.otherAdmin, query);
    expect(all.body.errors).toBeUndefined();
    const ids = all.body.data!.upstreamDeletions.edges.map((e: any) => e.node.resourceId);
    expect(ids).toContain('trans_iso_b1');
    for (const id of A_IDS) expect(ids).not.toContain(id);
    for (const variables of [{ status: 'FAILED' }, { status: 'DELETED', provider: 'AITRONOS_AUDIO' }, { status: 'PENDING' }]) {
      const filtered = await t.gql(t.keys.otherAdmin, query, variables);
      for (const edge of filtered.body.data!.upstreamDeletions.edges) expect(A_IDS).not.toContain(edge.node.resourceId);
    }
    const ofA = await t.gql(t.keys.admin, '{ upstreamDeletions(first: 1) { pageInfo { endCursor } } }');
    const cursor = ofA.body.data!.upstreamDeletions.pageInfo.endCursor as string;
    const withCursor = await t.gql(t.keys.otherAdmin, query, { after: cursor });
    expect(withCursor.status).toBeLessThan(500);
    for (const edge of withCursor.body.data?.upstreamDeletions.edges ?? []) expect(A_IDS).not.toContain(edge.node.resourceId);
  });

  it.skipIf(lacks('auditTrailVerification'))('auditTrailVerification reveals counts only', async () => {
    const type = await t.gql(t.keys.otherAdmin, '{ __type(name: "AuditTrailVerification") { fields { name } } }');
    const fields = (type.body.data as any).__type.fields.map((f: { name: string }) => f.name).sort();
    expect(fields).toEqual(['checkpointsChecked', 'eventsChecked', 'firstInvalidEventId', 'valid']);
    // A's checkpoints are A's: B's verification counts only its own.
    expect((await t.gql(t.keys.viewer, '{ auditCheckpoint { treeSize } }')).body.data!.auditCheckpoint.treeSize).toBeGreaterThan(0);
    const answer = await t.gql(t.keys.otherAdmin, '{ auditTrailVerification { valid eventsChecked firstInvalidEventId checkpointsChecked } }');
    const own = await t.sql('SELECT tree_size FROM audit_checkpoints WHERE log_id = ?', [OTHER_ORG]);
    expect(answer.body.data!.auditTrailVerification).toMatchObject({ valid: true, firstInvalidEventId: null, checkpointsChecked: own.length });
  });
});

describe("organisation B's mutations on A's resources answer NotFoundError and call no provider", () => {
  const cases: [string, string, Record<string, string>, [string, string]][] = [
    ['deleteTranscription (Aitronos)', 'deleteTranscription(transcriptionId: $a)', { a: A.aitronos }, ['TRANSCRIPTION', A.aitronos]],
    ['deleteTranscription (Rev AI)', 'deleteTranscription(transcriptionId: $a)', { a: A.revai }, ['TRANSCRIPTION', A.revai]],
    ['deleteSession', 'deleteSession(sessionId: $a)', { a: A.session }, ['SESSION', A.session]],
    ['deleteDocument', 'deleteDocument(sessionId: $a, documentId: $b)', { a: A.session, b: A.document }, ['DOCUMENT', A.document]],
    ["deleteDocument under B's own session", 'deleteDocument(sessionId: $a, documentId: $b)', { a: 'sess_iso_b', b: A.document }, ['DOCUMENT', A.document]],
    ['deleteComment', 'deleteComment(sessionId: $a, documentId: $b, commentId: $c)', { a: A.session, b: A.document, c: A.comment }, ['COMMENT', A.comment]],
    ["deleteTrack naming A's organisation", 'deleteTrack(organizationId: $a, trackId: $b)', { a: ORG, b: A.track }, ['TRACK', A.track]],
    ["deleteTrack naming B's organisation", 'deleteTrack(organizationId: $a, trackId: $b)', { a: OTHER_ORG, b: A.track }, ['TRACK', A.track]],
    ['deleteBatchJob', 'deleteBatchJob(batchJobId: $a)', { a: A.batchJob }, ['BATCH_JOB', A.batchJob]],
  ];

  it.each(cases.flatMap(([name, call, vars, target]) => Object.entries(B_KEYS).map(([role, key]) => [`${name} by ${role}`, call, vars, target, key] as const)))(
    '%s',
    async (_name, call, vars, [kind, id], key) => {
      const declared = Object.keys(vars).map((v) => `$${v}: ID!`).join(', ');
      const before = providerCalls();
      const answer = await t.gql(key, `mutation(${declared}) { result: ${call} { __typename ... on Error { code message systemMessage status } } }`, vars);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data!.result).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404 });
      expectNothingOfA(answer.body);
      expect(providerCalls()).toBe(before);
      expect(await stillLiveForA(kind, id)).toEqual({ deletedAt: null, organizationId: ORG });
    },
  );

  it("answers exactly as for an id that exists nowhere (A's resource is not revealed)", async () => {
    const mine = await t.gql(t.keys.otherAdmin, DELETE_TRANSCRIPTION, { id: A.aitronos });
    const nowhere = await t.gql(t.keys.otherAdmin, DELETE_TRANSCRIPTION, { id: 'trans_iso_nowhere' });
    const strip = (value: any) => JSON.parse(JSON.stringify(value).replaceAll(A.aitronos, 'ID').replaceAll('trans_iso_nowhere', 'ID'));
    expect(strip(mine.body.data!.deleteTranscription)).toEqual(strip(nowhere.body.data!.deleteTranscription));
  });

  it("registerResources cannot take over A's id, nor register into A", async () => {
    const REGISTER = `mutation($resources: [ResourceInput!]!) { registerResources(resources: $resources) { __typename ... on Error { code message systemMessage details } ... on ValidationError { field } } }`;
    const takeover = await t.gql(t.keys.otherAdmin, REGISTER, {
      resources: [{ kind: 'TRANSCRIPTION', provider: 'AITRONOS_AUDIO', id: A.aitronos, organizationId: OTHER_ORG, ownerId: 'oscar' }],
    });
    expect(takeover.body.data!.registerResources).toMatchObject({ __typename: 'ValidationError', field: 'id' });
    expectNothingOfA(takeover.body);
    const into = await t.gql(t.keys.otherAdmin, REGISTER, {
      resources: [{ kind: 'TRANSCRIPTION', provider: 'AITRONOS_AUDIO', id: 'trans_iso_planted', organizationId: ORG, ownerId: 'oscar' }],
    });
    expect(into.body.data!.registerResources).toMatchObject({ __typename: 'PermissionDeniedError' });
    expect(await stillLiveForA('TRANSCRIPTION', A.aitronos)).toEqual({ deletedAt: null, organizationId: ORG });
    expect(await stillLiveForA('TRANSCRIPTION', 'trans_iso_planted')).toBeNull();
    const owner = await t.gql(t.keys.admin, `{ resource(kind: TRANSCRIPTION, id: "${A.aitronos}") { ownerId } }`);
    expect(owner.body.data!.resource.ownerId).toBe('bob');
  });

  it.skipIf(lacks('retryUpstreamDeletion'))("retryUpstreamDeletion of A's FAILED deletion is NotFoundError and re-queues nothing", async () => {
    const RETRY = `mutation($id: ID!) { retryUpstreamDeletion(kind: TRANSCRIPTION, id: $id) { __typename ... on Error { code } ... on UpstreamDeletion { status } } }`;
    const before = providerCalls();
    const answer = await t.gql(t.keys.otherAdmin, RETRY, { id: A.failed });
    expect(answer.body.data!.retryUpstreamDeletion).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expectNothingOfA(answer.body);
    expect(providerCalls()).toBe(before);
    const state = await t.gql(t.keys.admin, `{ resource(kind: TRANSCRIPTION, id: "${A.failed}") { upstream { status } } }`);
    expect(state.body.data!.resource.upstream.status).toBe('FAILED');
  });
});
