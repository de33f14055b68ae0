// The audit trail through the real gateway: every outcome of a mixed workload (worker included) is
// one chained event, the chain verifies, organisations read only their own events page by page with
// a bounded number of SQL statements, receipts prove a deletion, and no secret is ever stored.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventHash } from '../src/audit/chain.ts';
import { AUDIT_OUTCOMES } from '../src/domain.ts';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { randomId, type Runtime } from '../src/runtime.ts';
import { Worker } from '../src/worker/worker.ts';
import { tableNames, tamper, verifyEveryLog } from './support/database.ts';
import { ORG, OTHER_ORG, TEST_CREDENTIALS, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE_TRANSCRIPTION = `mutation($id: ID!) {
  deleteTranscription(transcriptionId: $id) {
    __typename
    ... on TranscriptionDeletion { deletedUpstream alreadyDeleted upstream { status } auditEvent { id outcome hash } }
    ... on Error { code }
  }
}`;
const DELETE_SESSION = `mutation($id: ID!) { deleteSession(sessionId: $id) { __typename ... on SessionDeletion { documentsDeleted } } }`;
const DELETE_TRACK = `mutation($org: ID!, $id: ID!) { deleteTrack(organizationId: $org, trackId: $id) { __typename } }`;
const DELETE_BATCH_JOB = `mutation($id: ID!) { deleteBatchJob(batchJobId: $id) { __typename } }`;
const RETRY = `mutation($kind: ResourceKind!, $id: ID!) { retryUpstreamDeletion(kind: $kind, id: $id) { __typename ... on UpstreamDeletion { status } } }`;
const AUDIT_EVENTS = `query($first: Int, $after: String, $resourceId: ID, $outcome: AuditOutcome) {
  auditEvents(first: $first, after: $after, resourceId: $resourceId, outcome: $outcome) {
    edges { cursor node { id organizationId resourceId outcome actor hash } }
    pageInfo { hasNextPage endCursor }
  }
}`;
interface AuditPage {
  edges: { cursor: string; node: { id: string; organizationId: string; resourceId: string | null; outcome: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const VERIFICATION = `{ auditTrailVerification { valid eventsChecked firstInvalidEventId } }`;
const EVENT_FIELDS = 'id at actor organizationId action resourceKind resourceId provider outcome requestId traceId upstreamHttpStatus details previousHash hash';

let t: TestGateway;
let now = Date.parse('2026-03-02T14:00:00.000Z');
const runtime: Runtime = { clock: { now: () => new Date(now) }, newId: randomId, random: () => 0.5 };
let statements: { sql: string; params: unknown[] }[] | null = null;
let worker: Worker;

beforeAll(async () => {
  t = await startTestGateway({ runtime, onQuery: (sql, params) => statements?.push({ sql, params }) });
  worker = new Worker(t.gateway.db, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), 'wk_audit_test');
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
});
// Each test starts a fresh minute: the per-key rate limit reads the same clock.
beforeEach(() => {
  now += 60 * 60_000;
});

async function transcription(id: string, organizationId = ORG) {
  await t.register([{ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId, ownerId: 'bob' }]);
}

async function deleteTranscription(key: string, id: string) {
  const answer = await t.gql(key, DELETE_TRANSCRIPTION, { id });
  expect(answer.body.errors).toBeUndefined();
  return answer.body.data!.deleteTranscription;
}

/** The audit rows as stored, oldest first. */
function storedEvents(where = '1 = 1', ...params: unknown[]): Promise<{ seq: number; id: string; organization_id: string | null; outcome: string; actor: string }[]> {
  return t.sql(`SELECT seq, id, organization_id, outcome, actor FROM audit_events WHERE ${where} ORDER BY seq`, params);
}

async function allPages(key: string, variables: Record<string, unknown>) {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const answer = await t.gql<{ auditEvents: AuditPage }>(key, AUDIT_EVENTS, { ...variables, after });
    expect(answer.body.errors).toBeUndefined();
    const page: AuditPage = answer.body.data!.auditEvents;
    ids.push(...page.edges.map((e) => e.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
}

describe('a mixed workload', () => {
  it('writes one chained event per decision and outcome, the worker included, and the chain verifies', async () => {
    await transcription('trans_mix_ok');
    await transcription('trans_mix_retry');
    await transcription('trans_mix_fail');
    await transcription('trans_mix_viewer');
    await t.register([
      { kind: 'SESSION', id: 'mix_session', organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: 'mix_doc', sessionId: 'mix_session', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRACK', id: 'mtrack_mix', organizationId: ORG, ownerId: 'bob' },
      { kind: 'BATCH_JOB', id: '0c4a6a8e-3f5d-4a43-9a1e-6f1f4f7a1c2d', organizationId: ORG, ownerId: 'bob' },
    ]);
    const before = (await storedEvents()).length;

    expect(await deleteTranscription(t.keys.member, 'trans_mix_ok')).toMatchObject({ deletedUpstream: true, auditEvent: { outcome: 'DELETED' } });
    expect(await deleteTranscription(t.keys.member, 'trans_mix_ok')).toMatchObject({ alreadyDeleted: true, auditEvent: { outcome: 'ALREADY_DELETED' } });
    expect(await deleteTranscription(t.keys.member, 'trans_mix_nowhere')).toMatchObject({ __typename: 'NotFoundError' });
    expect(await deleteTranscription(t.keys.viewer, 'trans_mix_viewer')).toMatchObject({ __typename: 'PermissionDeniedError' });
    expect(await deleteTranscription(t.keys.member, 'trans mix/../x')).toMatchObject({ __typename: 'ValidationError' });
    expect((await t.gql(t.keys.member, DELETE_SESSION, { id: 'mix_session' })).body.data!.deleteSession).toMatchObject({ documentsDeleted: 1 });
    expect((await t.gql(t.keys.member, DELETE_TRACK, { org: ORG, id: 'mtrack_mix' })).body.data!.deleteTrack.__typename).toBe('TrackDeletion');
    expect((await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: '0c4a6a8e-3f5d-4a43-9a1e-6f1f4f7a1c2d' })).body.data!.deleteBatchJob.__typename).toBe('BatchJobDeletion');

    // 503 for the request's own call and for the worker's first retry: two UPSTREAM_RETRY_SCHEDULED.
    t.simulators.aitronos.pushFault({ status: 503, times: 2, path: '/v1/audio/transcribe/trans_mix_retry' });
    expect(await deleteTranscription(t.keys.member, 'trans_mix_retry')).toMatchObject({ upstream: { status: 'PENDING' } });
    t.simulators.aitronos.pushFault({
      status: 401,
      body: { success: false, error: { code: 'AUTHENTICATION_REQUIRED', status: 401, message: 'invalid key' } },
      path: '/v1/audio/transcribe/trans_mix_fail',
    });
    expect(await deleteTranscription(t.keys.member, 'trans_mix_fail')).toMatchObject({ upstream: { status: 'FAILED' } });

    now += 60 * 60_000;
    await worker.drain();
    now += 60 * 60_000;
    await worker.drain();
    const retried = await t.gql(t.keys.admin, RETRY, { kind: 'TRANSCRIPTION', id: 'trans_mix_fail' });
    expect(retried.body.data!.retryUpstreamDeletion).toMatchObject({ __typename: 'UpstreamDeletion', status: 'PENDING' });
    await worker.drain();

    const events = (await storedEvents()).slice(before);
    const outcomes = async (id: string) =>
      (await t.sql<{ outcome: string; actor: string }>('SELECT outcome, actor FROM audit_events WHERE resource_id = ? ORDER BY seq', [id])).map(
        (row) => `${row.outcome} by ${row.actor.split(' ')[0]}`,
      );
    expect(await outcomes('trans_mix_ok')).toEqual(['DELETED by user:bob', 'UPSTREAM_DELETED by system:gateway', 'ALREADY_DELETED by user:bob']);
    expect(await outcomes('trans_mix_retry')).toEqual([
      'DELETED by user:bob',
      'UPSTREAM_RETRY_SCHEDULED by system:gateway',
      'UPSTREAM_RETRY_SCHEDULED by system:worker',
      'UPSTREAM_DELETED by system:worker',
    ]);
    expect(await outcomes('trans_mix_fail')).toEqual([
      'DELETED by user:bob',
      'UPSTREAM_FAILED by system:gateway',
      'UPSTREAM_REQUEUED by user:alice',
      'UPSTREAM_DELETED by system:worker',
    ]);
    expect(await outcomes('trans_mix_nowhere')).toEqual(['NOT_FOUND by user:bob']);
    expect(await outcomes('trans_mix_viewer')).toEqual(['PERMISSION_DENIED by user:victor']);
    // Every outcome of a deletion's life (the log split happens once, at migration, not here; an
    // erasure request's own outcomes are test/erasure.test.ts's).
    const elsewhere = ['AUDIT_LOGS_SPLIT', 'ERASURE_REQUESTED', 'ERASURE_COMPLETED'];
    expect(new Set(events.map((e) => e.outcome))).toEqual(new Set(AUDIT_OUTCOMES.filter((outcome) => !elsewhere.includes(outcome))));
    // The invalid id is audited without being stored as a resource id.
    expect(events.filter((e) => e.outcome === 'VALIDATION_FAILED')).toHaveLength(1);

    expect(await verifyEveryLog(t.gateway.db)).toMatchObject({ valid: true, eventsChecked: (await storedEvents()).length });
    // An admin's verification walks only the organisation's own log, and counts only its events.
    const verification = await t.gql(t.keys.admin, VERIFICATION);
    expect(verification.body.data!.auditTrailVerification).toEqual({
      valid: true,
      eventsChecked: (await storedEvents('organization_id = ?', ORG)).length,
      firstInvalidEventId: null,
    });
  });

  it('never stores or logs an API key or a provider credential, in any column of any table', async () => {
    await transcription('trans_secret_1');
    await transcription('trans_secret_2');
    t.simulators.aitronos.pushFault({ status: 401, body: { success: false, error: { code: 'UNAUTHORIZED', status: 401, message: 'bad key' } }, path: '/v1/audio/transcribe/trans_secret_2' });
    await deleteTranscription(t.keys.admin, 'trans_secret_1');
    await deleteTranscription(t.keys.admin, 'trans_secret_2');
    await deleteTranscription(t.keys.otherMember, 'trans_secret_1');
    const secrets = [...Object.values(t.keys), ...Object.values(TEST_CREDENTIALS)];
    let cells = 0;
    for (const name of await tableNames(t.gateway.db)) {
      for (const row of await t.sql(`SELECT * FROM "${name}"`)) {
        for (const value of Object.values(row)) {
          cells += 1;
          const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
          for (const secret of secrets) expect(text, `${name} holds a secret`).not.toContain(secret);
        }
      }
    }
    expect(cells).toBeGreaterThan(100);
    for (const line of t.logs) for (const secret of secrets) expect(line).not.toContain(secret);
  });
});

describe('auditEvents', () => {
  it('pages newest first with opaque cursors, stable while new events arrive', async () => {
    for (let i = 0; i < 6; i += 1) transcription(`trans_page_${i}`);
    for (let i = 0; i < 3; i += 1) await deleteTranscription(t.keys.member, `trans_page_${i}`);
    const existing = (await storedEvents('organization_id = ?', ORG)).map((e) => e.id).reverse();

    const ids: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const answer = await t.gql<{ auditEvents: AuditPage }>(t.keys.viewer, AUDIT_EVENTS, { first: 4, after });
      const page: AuditPage = answer.body.data!.auditEvents;
      expect(page.edges.length).toBeLessThanOrEqual(4);
      ids.push(...page.edges.map((e) => e.node.id));
      pages += 1;
      // New events arrive between pages: they are newer than the first page, so no later page shows them.
      if (pages <= 3) await deleteTranscription(t.keys.member, `trans_page_${pages + 2}`);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(ids).toEqual(existing);
    expect(pages).toBe(Math.ceil(existing.length / 4));
    // The newest page now starts with the events written while paging.
    const newest = await t.gql(t.keys.viewer, AUDIT_EVENTS, { first: 1 });
    expect(newest.body.data!.auditEvents.edges[0].node.id).toBe((await storedEvents('organization_id = ?', ORG)).at(-1)!.id);
  });

  it('filters by resource and by outcome', async () => {
    await transcription('trans_filter');
    await deleteTranscription(t.keys.member, 'trans_filter');
    await deleteTranscription(t.keys.member, 'trans_filter');
    const about = await allPages(t.keys.member, { resourceId: 'trans_filter', first: 2 });
    expect(about).toEqual((await storedEvents('resource_id = ?', 'trans_filter')).map((e) => e.id).reverse());
    expect(about).toHaveLength(3);
    const replays = await allPages(t.keys.member, { outcome: 'ALREADY_DELETED', first: 100 });
    expect(replays).toEqual((await storedEvents('organization_id = ? AND outcome = ?', ORG, 'ALREADY_DELETED')).map((e) => e.id).reverse());
  });

  it("shows each organisation only its own events, and refuses another organisation's cursor", async () => {
    await transcription('trans_scoped');
    await deleteTranscription(t.keys.member, 'trans_scoped');
    await deleteTranscription(t.keys.otherMember, 'trans_scoped');

    const theirs = await allPages(t.keys.otherMember, { first: 100 });
    expect(theirs).toEqual((await storedEvents('organization_id = ?', OTHER_ORG)).map((e) => e.id).reverse());
    expect(theirs.length).toBeGreaterThan(0);
    const ours = await allPages(t.keys.viewer, { first: 100 });
    expect(ours.filter((id) => theirs.includes(id))).toEqual([]);
    // B's attempt on A's transcription is B's event; filtering by A's id shows B nothing of A's.
    const bAbout = await t.gql(t.keys.otherMember, AUDIT_EVENTS, { resourceId: 'trans_scoped', first: 100 });
    expect(bAbout.body.data!.auditEvents.edges.map((e: { node: { organizationId: string; outcome: string } }) => [e.node.organizationId, e.node.outcome])).toEqual([[OTHER_ORG, 'NOT_FOUND']]);

    const aPage = await t.gql(t.keys.member, AUDIT_EVENTS, { first: 1 });
    const aCursor = aPage.body.data!.auditEvents.pageInfo.endCursor as string;
    const stolen = await t.gql(t.keys.otherMember, AUDIT_EVENTS, { first: 100, after: aCursor });
    expect(stolen.body.data ?? null).toBeNull();
    expect(stolen.body.errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_ERROR' });
    // Rewriting the organisation inside the cursor only narrows to the caller's own rows.
    const decoded = JSON.parse(Buffer.from(aCursor, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...decoded, o: OTHER_ORG })).toString('base64url');
    const forgedPage = await t.gql(t.keys.otherMember, AUDIT_EVENTS, { first: 100, after: forged });
    for (const edge of forgedPage.body.data!.auditEvents.edges) expect(edge.node.organizationId).toBe(OTHER_ORG);
    const garbage = await t.gql(t.keys.member, AUDIT_EVENTS, { after: 'not-a-cursor' });
    expect(garbage.body.errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_ERROR' });
    const tooMany = await t.gql(t.keys.member, AUDIT_EVENTS, { first: 101 });
    expect(tooMany.body.errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('resolves AuditEvent.resource only within the caller organisation', async () => {
    await transcription('trans_linked');
    await deleteTranscription(t.keys.member, 'trans_linked');
    await deleteTranscription(t.keys.otherMember, 'trans_linked');
    const query = `query($id: ID) { auditEvents(resourceId: $id, first: 10) { edges { node { outcome resource { id organizationId deletedAt } } } } }`;
    const ours = await t.gql(t.keys.viewer, query, { id: 'trans_linked' });
    const nodes = ours.body.data!.auditEvents.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toEqual([
      { outcome: 'UPSTREAM_DELETED', resource: { id: 'trans_linked', organizationId: ORG, deletedAt: expect.any(String) } },
      { outcome: 'DELETED', resource: { id: 'trans_linked', organizationId: ORG, deletedAt: expect.any(String) } },
    ]);
    const theirs = await t.gql(t.keys.otherMember, query, { id: 'trans_linked' });
    expect(theirs.body.data!.auditEvents.edges).toEqual([{ node: { outcome: 'NOT_FOUND', resource: null } }]);
  });

  it('reads a page of 100 events with their resources in a bounded number of SQL statements', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `trans_bulk_${i}`);
    await t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }) as const));
    await t.register([
      { kind: 'SESSION', id: 'bulk_session', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRACK', id: 'mtrack_bulk', organizationId: ORG, ownerId: 'bob' },
    ]);
    for (let i = 0; i < ids.length; i += 12) await Promise.all(ids.slice(i, i + 12).map((id) => deleteTranscription(t.keys.member, id)));
    await t.gql(t.keys.member, DELETE_SESSION, { id: 'bulk_session' });
    await t.gql(t.keys.member, DELETE_TRACK, { org: ORG, id: 'mtrack_bulk' });

    const query = `{ auditEvents(first: 100) {
      edges { cursor node { ${EVENT_FIELDS} resource { kind id deletedAt upstream { status } deletionReceipt { id } } } }
      pageInfo { hasNextPage endCursor } } }`;
    statements = [];
    const answer = await t.gql(t.keys.viewer, query);
    const issued = statements;
    statements = null;
    const edges = answer.body.data!.auditEvents.edges as { node: { resource: { kind: string } | null } }[];
    expect(edges).toHaveLength(100);
    expect(new Set(edges.map((e) => e.node.resource?.kind))).toEqual(new Set(['TRANSCRIPTION', 'SESSION', 'TRACK']));
    const next = await t.gql(t.keys.viewer, AUDIT_EVENTS, { first: 100, after: answer.body.data!.auditEvents.pageInfo.endCursor });
    expect(next.body.data!.auditEvents.edges.length).toBeGreaterThan(0);
    // The key, the page, then one batch per loader (catalog rows, outbox rows, receipts): never one per event.
    const pageQueries = issued.filter(({ sql }) => /from audit_events/i.test(sql) && !/resource_id in \(/i.test(sql));
    expect(pageQueries).toHaveLength(1);
    expect(issued.filter(({ sql }) => /from resources/i.test(sql))).toHaveLength(1);
    expect(issued.length).toBeLessThanOrEqual(5);
    // Keyset on an index, in index order: no OFFSET, no sort of the organisation's whole trail.
    const { sql, params } = pageQueries[0]!;
    expect(sql).not.toMatch(/offset/i);
    if (t.database.backend === 'sqlite') {
      const plan = (await t.sql<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)).map((step) => step.detail).join('\n');
      expect(plan).toMatch(/USING INDEX audit_events_org_seq/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
    console.log(`SQL statements for a page of 100 events with resource, upstream and receipt: ${issued.length}`);
  });
});

describe('deletion receipts', () => {
  it('hold the request event and the provider outcome, in order, each hash recomputable from its previousHash', async () => {
    await transcription('trans_receipt');
    await deleteTranscription(t.keys.otherMember, 'trans_receipt');
    const deletion = await deleteTranscription(t.keys.member, 'trans_receipt');
    const answer = await t.gql(t.keys.viewer, `{ resource(kind: TRANSCRIPTION, id: "trans_receipt") { deletionReceipt { ${EVENT_FIELDS} } } }`);
    const receipt = answer.body.data!.resource.deletionReceipt as Record<string, unknown>[];
    // Only this organisation's events: B's failed attempt on the same id belongs to B's trail.
    expect(receipt.map((e) => [e.outcome, e.actor, e.organizationId])).toEqual([
      ['DELETED', expect.stringMatching(/^user:bob key:key_/), ORG],
      ['UPSTREAM_DELETED', 'system:gateway', ORG],
    ]);
    expect(receipt[0]!.id).toBe(deletion.auditEvent.id);
    for (const event of receipt) {
      expect(eventHash(event.previousHash as string | null, event as never)).toBe(event.hash);
    }
  });
});

describe('auditTrailVerification', () => {
  it('is for admins only: anyone else gets a top-level INSUFFICIENT_PERMISSIONS', async () => {
    for (const key of [t.keys.member, t.keys.viewer, t.keys.otherMember]) {
      const answer = await t.gql(key, VERIFICATION);
      expect(answer.status).toBe(200);
      expect(answer.body.data ?? null).toBeNull();
      expect(answer.body.errors![0]!.extensions).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS' });
    }
    const type = await t.gql(t.keys.admin, `{ __type(name: "AuditTrailVerification") { fields { name } } }`);
    expect(type.body.data!.__type.fields.map((f: { name: string }) => f.name).sort()).toEqual(['checkpointsChecked', 'eventsChecked', 'firstInvalidEventId', 'valid']);
  });

  it("names the first event of the organisation's log that does not verify once the database was tampered with", async () => {
    await transcription('trans_tampered');
    await deleteTranscription(t.keys.member, 'trans_tampered');
    const target = (await storedEvents("resource_id = 'trans_tampered' AND outcome = 'DELETED'"))[0]!;
    const total = (await storedEvents('organization_id = ?', ORG)).length;
    await tamper(t.gateway.db, [["UPDATE audit_events SET actor = 'user:mallory key:key_x' WHERE seq = ?", [target.seq]]]);
    const answer = await t.gql(t.keys.admin, VERIFICATION);
    expect(answer.body.data!.auditTrailVerification).toEqual({
      valid: false,
      eventsChecked: (await storedEvents('organization_id = ? AND seq <= ?', ORG, target.seq)).length,
      firstInvalidEventId: target.id,
    });
    expect((await storedEvents('organization_id = ? AND seq <= ?', ORG, target.seq)).length).toBeLessThan(total);
    // Another organisation's log is its own: it still verifies, and counts only its events.
    const theirs = await t.gql(t.keys.otherAdmin, VERIFICATION);
    expect(theirs.body.data!.auditTrailVerification).toEqual({
      valid: true,
      eventsChecked: (await storedEvents('organization_id = ?', OTHER_ORG)).length,
      firstInvalidEventId: null,
    });
  });
});
