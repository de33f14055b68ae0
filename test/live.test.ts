// Live status over GraphQL over SSE, end to end: the real server, a real SSE client (graphql-sse),
// outcomes recorded by this process, by a separate `gateway worker` process, and by hand in the
// database. Runs on both backends: SQLite's feed tails the audit log, PostgreSQL's LISTENs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.ts';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { randomId, systemClock, type Runtime } from '../src/runtime.ts';
import { sandboxQuery } from '../src/sandbox.ts';
import { EXAMPLE_QUERY } from '../src/server.ts';
import { Worker } from '../src/worker/worker.ts';
import { childEnv, killLeftovers, startChildWorker, until } from './support/child.ts';
import { BACKEND } from './support/database.ts';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';
import { nextEvents, subscribe, subscribeRaw, type Stream } from './support/sse.ts';

// No jitter: a retry is due the moment it is scheduled, so a worker delivers it on its next look.
const runtime: Runtime = { clock: systemClock, newId: randomId, random: () => 0 };

const WATCH = `subscription Watch($kind: ResourceKind!, $id: ID!) {
  upstreamDeletionChanged(kind: $kind, id: $id) { kind resourceId provider status attempts reason lastHttpStatus nextAttemptAt completedAt }
}`;
const APP = 'https://app.example.com';
const DELETE_TRANSCRIPTION = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on TranscriptionDeletion { upstream { status } } } }`;

type Upstream = { kind: string; resourceId: string; status: string; attempts: number; reason: string | null; lastHttpStatus: number | null };

let t: TestGateway;
let serial = 0;

beforeAll(async () => {
  t = await startTestGateway({ runtime, worker: false, env: { CORS_ORIGINS: APP } });
});
afterAll(async () => {
  killLeftovers();
  await t?.close();
});

/** A fresh Aitronos transcription of org_a (or another organisation). */
async function transcription(organizationId = ORG): Promise<string> {
  serial += 1;
  const id = `trans_live${serial}_${Math.random().toString(36).slice(2, 8)}`;
  await t.register([{ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId, ownerId: 'bob' }]);
  return id;
}

function watch(key: string, kind: string, id: string): Stream<{ upstreamDeletionChanged: Upstream }> {
  return subscribe(t.url, key, WATCH, { kind, id });
}

const statuses = (results: { data?: { upstreamDeletionChanged: Upstream } | null }[]) => results.map((r) => r.data?.upstreamDeletionChanged.status);

function newWorker(): Worker {
  return new Worker(t.gateway.db, t.config, runtime, t.gateway.client, silentObserver, createLogger('silent'), `live-${randomId('w')}`);
}

describe('upstreamDeletionChanged', () => {
  it('says nothing before the delete, then PENDING while the provider fails, then DELETED once a worker delivers, and completes', async () => {
    const id = await transcription();
    const stream = watch(t.keys.member, 'TRANSCRIPTION', id);
    t.simulators.aitronos.pushFault({ status: 503, times: 1, path: `/v1/audio/transcribe/${id}` });
    const deleted = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id });
    expect(deleted.body.data!.deleteTranscription.upstream.status).toBe('PENDING');

    // The first thing the stream says is the deletion under way: nothing was sent before it began.
    const first = (await stream.nth(0)).data!.upstreamDeletionChanged;
    expect(first).toMatchObject({ kind: 'TRANSCRIPTION', resourceId: id, provider: 'AITRONOS_AUDIO', status: 'PENDING', attempts: 1 });
    await newWorker().drain();

    const results = await stream.ended;
    expect(statuses(results).at(-1)).toBe('DELETED');
    expect(new Set(statuses(results).slice(0, -1))).toEqual(new Set(['PENDING']));
    // The 503 the provider answered shows on the way, and the worker's call made a second attempt.
    expect(results.map((r) => r.data!.upstreamDeletionChanged)).toContainEqual(expect.objectContaining({ status: 'PENDING', lastHttpStatus: 503 }));
    expect(results.at(-1)!.data!.upstreamDeletionChanged).toMatchObject({ status: 'DELETED', attempts: 2, lastHttpStatus: 200 });
    // Only changes are sent: no two consecutive results are the same.
    for (let i = 1; i < results.length; i += 1) expect(results[i]).not.toEqual(results[i - 1]);
  });

  it('sends an already deleted resource once, and completes', async () => {
    const id = await transcription();
    expect((await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id })).body.data!.deleteTranscription.upstream.status).toBe('DELETED');
    const results = await watch(t.keys.viewer, 'TRANSCRIPTION', id).ended;
    expect(statuses(results)).toEqual(['DELETED']);
  });

  it("answers another organisation's resource exactly as a missing one: NOT_FOUND on an accepted stream", async () => {
    const theirs = await transcription(OTHER_ORG);
    const elsewhere = await subscribeRaw(t.url, t.keys.admin, WATCH, { kind: 'TRANSCRIPTION', id: theirs });
    const missing = await subscribeRaw(t.url, t.keys.admin, WATCH, { kind: 'TRANSCRIPTION', id: theirs.replace('trans_', 'trans_none') });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(elsewhere.body).toMatch(/event: complete\n/);
    const [event] = nextEvents(elsewhere.body);
    expect(event!.errors).toEqual([expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })]);
    expect(nextEvents(elsewhere.body)).toHaveLength(1);
    // Byte for byte the same answer: nothing tells that the id exists in another organisation.
    expect(missing.status).toBe(elsewhere.status);
    expect(missing.body).toBe(elsewhere.body);

    // Through the client: one result carrying the error, then complete.
    const results = await watch(t.keys.member, 'TRANSCRIPTION', theirs).ended;
    expect(results).toEqual([expect.objectContaining({ errors: [expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })] })]);
  });
});

describe("GraphiQL's ready subscriptions", () => {
  it('run as shipped (within every abuse limit): the example page and the sandbox each watch a deletion to DELETED', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_replace_me', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    const example = subscribe(t.url, t.keys.admin, EXAMPLE_QUERY, {}, 'WatchDeletion');
    const id = await transcription();
    const sandbox = subscribe(t.url, t.keys.admin, sandboxQuery({ aitronosTranscription: id }), {}, 'WatchDemoTranscription');
    await until(() => t.gateway.feed.streams === 2, 5_000, 'both streams registered');
    for (const transcriptionId of ['trans_replace_me', id]) await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id: transcriptionId });
    for (const stream of [example, sandbox]) {
      const results = await stream.ended;
      expect(results.every((r) => r.errors === undefined)).toBe(true);
      expect(results.at(-1)!.data!.upstreamDeletionChanged).toMatchObject({ status: 'DELETED' });
    }
  });
});

describe('streams follow changes wherever they are recorded', () => {
  it('reaches a stream on the server with the outcome a separate `gateway worker` process records', async () => {
    const id = await transcription();
    const stream = watch(t.keys.admin, 'TRANSCRIPTION', id);
    t.simulators.aitronos.pushFault({ status: 503, times: 1, path: `/v1/audio/transcribe/${id}` });
    await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id });
    expect((await stream.nth(0)).data!.upstreamDeletionChanged.status).toBe('PENDING');

    const worker = startChildWorker(childEnv(t.database.env, t.simulators));
    try {
      const results = await stream.ended;
      expect(results.at(-1)!.data!.upstreamDeletionChanged).toMatchObject({ status: 'DELETED', attempts: 2 });
      // Recorded by the other process: this one runs no worker.
      const [event] = await t.sql<{ actor: string }>("SELECT actor FROM audit_events WHERE resource_id = ? AND outcome = 'UPSTREAM_DELETED'", [id]);
      expect(event!.actor).toBe('system:worker');
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });

  it('follows a document and a comment deleted with their session to the session\'s DELETED', async () => {
    serial += 1;
    const session = `sess_live${serial}`;
    const document = `doc_live${serial}`;
    const comment = `cmt_live${serial}`;
    await t.register([
      { kind: 'SESSION', id: session, organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: document, sessionId: session, organizationId: ORG, ownerId: 'bob' },
      { kind: 'COMMENT', id: comment, sessionId: session, documentId: document, organizationId: ORG, ownerId: 'carol' },
    ]);
    const onDocument = watch(t.keys.viewer, 'DOCUMENT', document);
    const onComment = watch(t.keys.member2, 'COMMENT', comment);
    await until(() => t.gateway.feed.streams >= 2, 5_000, 'both streams registered');
    const answer = await t.gql(t.keys.member, `mutation($id: ID!) { deleteSession(sessionId: $id) { __typename ... on SessionDeletion { documentsDeleted upstream { status } } } }`, { id: session });
    expect(answer.body.data!.deleteSession).toMatchObject({ __typename: 'SessionDeletion', documentsDeleted: 1, upstream: { status: 'DELETED' } });
    for (const stream of [onDocument, onComment]) {
      const results = await stream.ended;
      // The session's row carries them (one provider call deletes the whole session), as Resource.upstream shows.
      expect(results.at(-1)!.data!.upstreamDeletionChanged).toMatchObject({ kind: 'SESSION', resourceId: session, status: 'DELETED' });
    }
  });

  it.skipIf(BACKEND !== 'postgres')('reads every stream again after the LISTEN connection is lost, so a change it never heard of still arrives', async () => {
    const id = await transcription();
    const stream = watch(t.keys.member, 'TRANSCRIPTION', id);
    t.simulators.aitronos.pushFault({ status: 503, times: 1, path: `/v1/audio/transcribe/${id}` });
    await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id });
    expect((await stream.nth(0)).data!.upstreamDeletionChanged.status).toBe('PENDING');
    // A change with no event, hence no NOTIFY: only the re-read after a reconnect can find it.
    await t.sqlRun("UPDATE upstream_deletions SET status = 'DELETED', completed_at = ?, lease_owner = NULL, lease_until = NULL WHERE kind = 'TRANSCRIPTION' AND resource_id = ?", [
      new Date().toISOString(),
      id,
    ]);
    const terminated = await t.sql<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN sdg_audit_events'",
    );
    expect(terminated).toEqual([{ ok: true }]);
    const results = await stream.ended;
    expect(results.at(-1)!.data!.upstreamDeletionChanged.status).toBe('DELETED');
  });

  it('measures the delay from a recorded outcome to its event over 100 deliveries', async () => {
    const ids = await Promise.all(Array.from({ length: 100 }, () => transcription()));
    const streams = ids.map((id) => watch(t.keys.member2, 'TRANSCRIPTION', id));
    await until(() => t.gateway.feed.streams === 100, 10_000, '100 streams registered');
    for (const id of ids) expect((await t.gql(t.keys.member2, DELETE_TRANSCRIPTION, { id })).body.data!.deleteTranscription.upstream.status).toBe('DELETED');
    const outcomes = new Map(
      (await t.sql<{ id: string; at: string }>(`SELECT resource_id AS id, at FROM audit_events WHERE outcome = 'UPSTREAM_DELETED' AND resource_id IN (${ids.map(() => '?').join(', ')})`, ids)).map((row) => [row.id, Date.parse(row.at)]),
    );
    const delays: number[] = [];
    for (const [i, stream] of streams.entries()) {
      const results = await stream.ended;
      expect(results.at(-1)!.data!.upstreamDeletionChanged.status).toBe('DELETED');
      delays.push(stream.receivedAt.at(-1)! - outcomes.get(ids[i]!)!);
    }
    delays.sort((a, b) => a - b);
    const median = (delays[49]! + delays[50]!) / 2;
    console.info(`[${BACKEND}] recorded outcome → event, 100 deliveries: median ${median} ms, max ${delays.at(-1)} ms (min ${delays[0]} ms)`);
  });
});

describe('limits and access', () => {
  it('refuses the 101st open stream of a key with 429 RATE_LIMITED and Retry-After; a closed stream frees its place', async () => {
    const id = await transcription(OTHER_ORG);
    const streams = Array.from({ length: 100 }, () => watch(t.keys.otherMember, 'TRANSCRIPTION', id));
    await until(() => t.gateway.feed.streams === 100, 10_000, '100 streams registered');

    const refused = await subscribeRaw(t.url, t.keys.otherMember, WATCH, { kind: 'TRANSCRIPTION', id });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(nextEvents(refused.body)).toEqual([{ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'RATE_LIMITED' }) })] }]);

    // The limit is per key: another key of the organisation still subscribes.
    const other = watch(t.keys.otherAdmin, 'TRANSCRIPTION', id);
    await until(() => t.gateway.feed.streams === 101, 5_000, "the other key's stream registered");
    other.close();
    // A client that goes away frees its place (nothing leaks): the key may open one again.
    streams.pop()!.close();
    await until(() => t.gateway.feed.streams === 99, 5_000, 'two closed streams released');
    const again = watch(t.keys.otherMember, 'TRANSCRIPTION', id);
    await until(() => t.gateway.feed.streams === 100, 5_000, 'the replacement stream registered');

    for (const stream of [...streams, again]) stream.close();
    await until(() => t.gateway.feed.streams === 0, 5_000, 'every stream released');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_subscription_streams 0$/m);
  });

  it("ends a revoked key's open streams with AUTHENTICATION_REQUIRED", async () => {
    const id = await transcription();
    const { key, row } = await createKey(t.gateway.db, runtime, { organizationId: ORG, userId: 'rita', role: 'viewer' });
    const stream = watch(key, 'TRANSCRIPTION', id);
    await until(() => t.gateway.feed.streams === 1, 5_000, 'the stream registered');
    // Revoked from outside the server, as `gateway keys revoke` in another process would.
    await t.sqlRun('UPDATE api_keys SET revoked_at = ? WHERE id = ?', [new Date().toISOString(), row.id]);
    const results = await stream.ended;
    expect(results).toEqual([{ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'AUTHENTICATION_REQUIRED' }) })] }]);
    expect(t.gateway.feed.streams).toBe(0);
    expect((await subscribeRaw(t.url, key, WATCH, { kind: 'TRANSCRIPTION', id })).status).toBe(401);
  });

  it('needs a key like every operation: none → 401 before any stream', async () => {
    const id = await transcription();
    const answer = await subscribeRaw(t.url, null, WATCH, { kind: 'TRANSCRIPTION', id });
    expect(answer.status).toBe(401);
    expect(nextEvents(answer.body)[0]!.errors![0]!.extensions).toMatchObject({ code: 'AUTHENTICATION_REQUIRED' });
  });

  it('serves a browser origin as every request (CORS), and the GET a browser GraphiQL sends passes CSRF prevention', async () => {
    const id = await transcription();
    await t.gql(t.keys.admin, DELETE_TRANSCRIPTION, { id });
    const preflight = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP);
    const params = new URLSearchParams({ query: WATCH, variables: JSON.stringify({ kind: 'TRANSCRIPTION', id }) });
    const get = await fetch(`${t.url}/graphql?${params}`, { headers: { origin: APP, accept: 'text/event-stream', authorization: `Bearer ${t.keys.admin}` } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe(APP);
    const body = await get.text();
    expect(nextEvents(body).map((r) => (r.data as { upstreamDeletionChanged: Upstream }).upstreamDeletionChanged.status)).toEqual(['DELETED']);
    // Without a key header (an EventSource, a cross-site page): refused before anything runs.
    const bare = await fetch(`${t.url}/graphql?${params}`, { headers: { origin: 'https://evil.example', accept: 'text/event-stream' } });
    expect(bare.status).toBe(403);
  });
});

describe('shutdown', () => {
  it('ends open streams at once, so the server stops without waiting for its forced close', async () => {
    // Were the stream left open, close() would wait UPSTREAM_TIMEOUT_MS + 2 s (62 s) and the test time out.
    const g = await startTestGateway({ worker: false, env: { UPSTREAM_TIMEOUT_MS: '60000' } });
    let closed = false;
    try {
      await g.register([{ kind: 'TRANSCRIPTION', id: 'trans_shutdown', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
      const stream = subscribe(g.url, g.keys.member, WATCH, { kind: 'TRANSCRIPTION', id: 'trans_shutdown' });
      await until(() => g.gateway.feed.streams === 1, 5_000, 'the stream registered');
      await g.close();
      closed = true;
      // Cut without `complete`: a GraphQL over SSE client takes it as an interruption and may subscribe again.
      await expect(stream.ended).rejects.toThrow(/closed|terminated|socket/i);
      expect(g.gateway.feed.streams).toBe(0);
    } finally {
      if (!closed) await g.close();
    }
  });
});
