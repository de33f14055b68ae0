// Edge cases of PRODUCT.md found in review: each is a promise a user or an auditor relies on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

describe('authentication comes before everything else', () => {
  it('answers a keyless operation that would not even validate with 401 AUTHENTICATION_REQUIRED', async () => {
    const answer = await t.gql(null, '{ noSuchField }');
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'AUTHENTICATION_REQUIRED' });
  });

  it('answers an unknown key with 401 before validation, and still serves keyless introspection', async () => {
    const unknown = await t.gql(`sdg_${'x'.repeat(43)}`, '{ noSuchField }');
    expect(unknown.status).toBe(401);
    const introspection = await t.gql(null, '{ __schema { queryType { name } } }');
    expect(introspection.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    // The refusal is not cached for the next caller with a key.
    const keyed = await t.gql(t.keys.member, '{ viewer { userId } }');
    const keyless = await t.gql(null, '{ viewer { userId } }');
    const keyedAgain = await t.gql(t.keys.member, '{ viewer { userId } }');
    expect([keyed.body.data, keyless.status, keyedAgain.body.data]).toEqual([{ viewer: { userId: 'bob' } }, 401, { viewer: { userId: 'bob' } }]);
  });
});

describe('deletion receipts', () => {
  it("gives a document deleted with its session the session's deletion and provider confirmation", async () => {
    await t.register([
      { kind: 'SESSION', id: 'sess_receipt', organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: 'doc_receipt', sessionId: 'sess_receipt', organizationId: ORG, ownerId: 'bob' },
      { kind: 'COMMENT', id: 'cmt_receipt', sessionId: 'sess_receipt', documentId: 'doc_receipt', organizationId: ORG, ownerId: 'bob' },
    ]);
    await t.gql(t.keys.member, 'mutation { deleteSession(sessionId: "sess_receipt") { __typename } }');
    const answer = await t.gql(
      t.keys.viewer,
      `{ comment: resource(kind: COMMENT, id: "cmt_receipt") { deletedAt deletionReceipt { resourceKind resourceId outcome details hash previousHash } } }`,
    );
    const receipt = answer.body.data!.comment.deletionReceipt as { resourceKind: string; resourceId: string; outcome: string; details: Record<string, unknown> }[];
    expect(receipt.map((e) => [e.resourceKind, e.resourceId, e.outcome])).toEqual([
      ['SESSION', 'sess_receipt', 'DELETED'],
      ['SESSION', 'sess_receipt', 'UPSTREAM_DELETED'],
    ]);
    expect(receipt[0]!.details).toMatchObject({ documentsDeleted: 1, commentsDeleted: 1 });
  });
});

describe('the append-only trail never keeps a secret', () => {
  it('masks an API key pasted into an id argument, whether the id is malformed or merely unknown', async () => {
    const pasted = t.keys.admin;
    await t.gql(t.keys.member, 'mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }', { id: pasted });
    await t.gql(t.keys.member, 'mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }', { id: `Bearer ${pasted}` });
    const raw = await t.sql('SELECT * FROM audit_events');
    const text = JSON.stringify(raw);
    expect(text).not.toContain(pasted);
    expect(text).not.toContain(pasted.slice(4));
    expect(raw.filter((row) => row.outcome === 'NOT_FOUND' || row.outcome === 'VALIDATION_FAILED').length).toBeGreaterThanOrEqual(2);
  });
});

describe('Rev AI jobs still in progress', () => {
  it("waits at least as long as Rev AI's Retry-After asks before the next attempt", async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revslow', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.revai.setJobState('revslow', 'in_progress');
    t.simulators.revai.pushFault({ latencyMs: 0, retryAfter: '600', path: '/speechtotext/v1/jobs/revslow' });
    const before = Date.now();
    const answer = await t.gql(
      t.keys.member,
      'mutation { deleteTranscription(transcriptionId: "revslow") { ... on TranscriptionDeletion { upstream { status reason nextAttemptAt } } } }',
    );
    const upstream = answer.body.data!.deleteTranscription.upstream;
    expect(upstream).toMatchObject({ status: 'PENDING', reason: 'JOB_IN_PROGRESS' });
    expect(Date.parse(upstream.nextAttemptAt) - before).toBeGreaterThanOrEqual(600_000 - 1_000);
  });
});

describe('organisation ids of API keys', () => {
  it('refuses an organisation id that could never register or delete anything (the id rule of the catalog)', async () => {
    const { validateNewKey, KeyInputError } = await import('../src/auth/keys.ts');
    expect(() => validateNewKey({ organizationId: 'acme.com', userId: 'alice', role: 'admin' })).toThrow(KeyInputError);
    expect(validateNewKey({ organizationId: 'org_acme-1', userId: 'alice@acme.com', role: 'ADMIN' })).toEqual({
      organizationId: 'org_acme-1',
      userId: 'alice@acme.com',
      role: 'admin',
    });
  });
});
