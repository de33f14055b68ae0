// The upstream retry worker against the real simulators, on an injected clock: each test moves time
// itself and drives the worker with tick()/idle()/drain(), so nothing sleeps.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { run } from '../src/db/sql.ts';
import { LEASE_MARGIN_MS } from '../src/outbox/lease.ts';
import { outboxRow } from '../src/outbox/list.ts';
import type { UpstreamDeletionRow } from '../src/outbox/row.ts';
import type { Provider } from '../src/domain.ts';
import { createLogger } from '../src/logging.ts';
import { silentObserver } from '../src/observer.ts';
import { ProviderClient } from '../src/providers/http.ts';
import { randomId, type Runtime } from '../src/runtime.ts';
import { ceilingMs } from '../src/outbox/backoff.ts';
import { Circuits } from '../src/worker/circuit.ts';
import { Worker, type WorkerOptions } from '../src/worker/worker.ts';
import { until } from './support/child.ts';
import { ORG, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

const MAX_ATTEMPTS = 4;
let now = Date.parse('2026-03-02T14:00:00.000Z');
let randoms: number[] = [];
const runtime: Runtime = {
  clock: { now: () => new Date(now) },
  newId: randomId,
  // The next queued value, else 0.5: tests that check backoff queue the jitter they expect.
  random: () => randoms.shift() ?? 0.5,
};
const advance = (ms: number) => (now += ms);

let t: TestGateway;
let leaseMs: number;
const logger = createLogger('silent');

beforeAll(async () => {
  // These tests make rows PENDING through failing inline calls, then drive workers with circuits of
  // their own: the request path's circuit must not hold those calls back here (it never opens). The
  // circuit the request path shares with the worker is tested in circuit.test.ts.
  const circuits = new Circuits(runtime.clock, Number.POSITIVE_INFINITY);
  t = await startTestGateway({ runtime, worker: false, circuits, env: { UPSTREAM_MAX_ATTEMPTS: String(MAX_ATTEMPTS) } });
  leaseMs = t.config.upstreamTimeoutMs + LEASE_MARGIN_MS;
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => {
  randoms = [];
  t.simulators.aitronos.clearFaults();
  t.simulators.daily.clearFaults();
  t.simulators.revai.clearFaults();
});

let workers = 0;
function newWorker(options: WorkerOptions = {}, db = t.gateway.db, client = t.gateway.client): Worker {
  workers += 1;
  return new Worker(db, t.config, runtime, client, silentObserver, logger, `wtest${workers}`, options);
}

const DELETE_TRANSCRIPTION = `mutation($id: ID!) {
  deleteTranscription(transcriptionId: $id) {
    __typename
    ... on TranscriptionDeletion { deletedUpstream upstream { status attempts reason lastHttpStatus lastError nextAttemptAt } }
  }
}`;
const DELETE_BATCH_JOB = `mutation($id: ID!) { deleteBatchJob(batchJobId: $id) { __typename ... on BatchJobDeletion { upstream { status } } } }`;
const RETRY = `mutation($kind: ResourceKind!, $id: ID!) {
  retryUpstreamDeletion(kind: $kind, id: $id) {
    __typename
    ... on UpstreamDeletion { status attempts reason nextAttemptAt }
    ... on Error { code }
  }
}`;

const audioPath = (id: string) => `/v1/audio/transcribe/${id}`;

async function registerAudio(...ids: string[]) {
  await t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' })));
}

async function deleteTranscription(id: string) {
  const answer = await t.gql(t.keys.member, DELETE_TRANSCRIPTION, { id });
  return answer.body.data!.deleteTranscription;
}

async function row(kind: string, id: string): Promise<UpstreamDeletionRow> {
  return (await t.gateway.db.read(outboxRow(kind, id)))!;
}
async function transcription(id: string): Promise<UpstreamDeletionRow> {
  return (await row('TRANSCRIPTION', id));
}

async function events(id: string) {
  const rows = await t.sql<{ outcome: string; actor: string; details: string | null }>('SELECT outcome, actor, details FROM audit_events WHERE resource_id = ? ORDER BY seq', [id]);
  return rows.map((e) => ({ outcome: e.outcome, actor: e.actor, details: e.details === null ? null : (JSON.parse(e.details) as Record<string, unknown>) }));
}

/** Moves the clock to when the row is next due. */
function untilDue(r: UpstreamDeletionRow) {
  now = Date.parse(r.nextAttemptAt!);
}

async function tickAndWait(worker: Worker): Promise<number> {
  const claimed = await worker.tick();
  await worker.idle();
  return claimed;
}

describe('retries', () => {
  it('retries a provider answering 503 three times, with full-jitter backoff, then delivers', async () => {
    (await registerAudio('trans_w503'));
    t.simulators.aitronos.pushFault({ status: 503, times: 3, path: audioPath('trans_w503') });
    // Jitter drawn for the 1st, 2nd and 3rd retry: the delay is random × ceiling, ceiling = 2 s × 2^(n-1).
    const jitter = [0.75, 0, 0.999];
    randoms = [...jitter];
    expect(await deleteTranscription('trans_w503')).toMatchObject({
      deletedUpstream: false,
      upstream: { status: 'PENDING', attempts: 1, reason: 'PROVIDER_UNAVAILABLE', lastHttpStatus: 503 },
    });
    const worker = newWorker();
    const delays: number[] = [];
    for (let retry = 1; retry <= 3; retry += 1) {
      const pending = (await transcription('trans_w503'));
      const delay = Date.parse(pending.nextAttemptAt!) - now;
      delays.push(delay);
      expect(delay).toBe(Math.floor(jitter[retry - 1]! * ceilingMs(retry, 'default')));
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceilingMs(retry, 'default'));
      if (delay > 0) {
        advance(delay - 1);
        expect((await worker.tick())).toBe(0); // not due yet
      }
      untilDue(pending);
      expect(await tickAndWait(worker)).toBe(1);
    }
    expect(delays).toEqual([1500, 0, 7992]);
    expect((await transcription('trans_w503'))).toMatchObject({ status: 'DELETED', attempts: 4, lastHttpStatus: 200, lastError: null });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_w503'))).toHaveLength(4);
    expect((await events('trans_w503')).map((e) => `${e.outcome} ${e.actor}`)).toEqual([
      expect.stringMatching(/^DELETED user:bob/),
      'UPSTREAM_RETRY_SCHEDULED system:gateway',
      'UPSTREAM_RETRY_SCHEDULED system:worker',
      'UPSTREAM_RETRY_SCHEDULED system:worker',
      'UPSTREAM_DELETED system:worker',
    ]);
  });

  it('waits as long as Retry-After asks, in seconds or as an HTTP date, when that is longer than the backoff', async () => {
    now = Math.ceil(now / 1000) * 1000 + 1000; // an HTTP date has whole seconds
    (await registerAudio('trans_wra_s', 'trans_wra_d', 'trans_wra_short'));
    t.simulators.aitronos.pushFault({ status: 429, retryAfter: '120', path: audioPath('trans_wra_s') });
    t.simulators.aitronos.pushFault({ status: 429, retryAfter: new Date(now + 300_000).toUTCString(), path: audioPath('trans_wra_d') });
    t.simulators.aitronos.pushFault({ status: 503, retryAfter: '1', path: audioPath('trans_wra_short') });
    randoms = [0.5, 0.5, 0.9];
    await deleteTranscription('trans_wra_s');
    await deleteTranscription('trans_wra_d');
    await deleteTranscription('trans_wra_short');
    const start = now;
    expect((await transcription('trans_wra_s'))).toMatchObject({ status: 'PENDING', reason: 'RATE_LIMITED', nextAttemptAt: new Date(start + 120_000).toISOString() });
    expect((await transcription('trans_wra_d'))).toMatchObject({ status: 'PENDING', reason: 'RATE_LIMITED', nextAttemptAt: new Date(start + 300_000).toISOString() });
    // Retry-After: 1 is shorter than the 1.8 s drawn from the backoff: the backoff stands.
    expect((await transcription('trans_wra_short'))).toMatchObject({ nextAttemptAt: new Date(start + 1_800).toISOString() });

    const worker = newWorker();
    advance(119_999);
    await tickAndWait(worker); // only trans_wra_short is due
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_wra_s'))).toHaveLength(1);
    advance(1);
    await tickAndWait(worker);
    expect((await transcription('trans_wra_s')).status).toBe('DELETED');
    expect((await transcription('trans_wra_d')).status).toBe('PENDING');
    now = start + 300_000;
    await tickAndWait(worker);
    expect((await transcription('trans_wra_d')).status).toBe('DELETED');
    expect((await transcription('trans_wra_short')).status).toBe('DELETED');
  });

  it('fails on 401 at once; retryUpstreamDeletion re-queues it with a full set of attempts and the worker delivers', async () => {
    (await registerAudio('trans_w401'));
    t.simulators.aitronos.pushFault({
      status: 401,
      body: { success: false, error: { code: 'AUTHENTICATION_REQUIRED', status: 401, message: 'Invalid API key' } },
      path: audioPath('trans_w401'),
    });
    expect(await deleteTranscription('trans_w401')).toMatchObject({ upstream: { status: 'FAILED', reason: 'UNAUTHORIZED', attempts: 1 } });
    const worker = newWorker();
    advance(86_400_000);
    expect(await tickAndWait(worker)).toBe(0);
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_w401'))).toHaveLength(1);

    const requeued = await t.gql(t.keys.admin, RETRY, { kind: 'TRANSCRIPTION', id: 'trans_w401' });
    expect(requeued.body.data!.retryUpstreamDeletion).toEqual({
      __typename: 'UpstreamDeletion',
      status: 'PENDING',
      attempts: 0,
      reason: 'REQUEUED',
      nextAttemptAt: new Date(now).toISOString(),
    });
    expect(await tickAndWait(worker)).toBe(1);
    expect((await transcription('trans_w401'))).toMatchObject({ status: 'DELETED', attempts: 1 });
    expect((await events('trans_w401')).map((e) => `${e.outcome} ${e.actor.split(' ')[0]}`)).toEqual([
      'DELETED user:bob',
      'UPSTREAM_FAILED system:gateway',
      'UPSTREAM_REQUEUED user:alice',
      'UPSTREAM_DELETED system:worker',
    ]);
  });

  it('keeps retrying a Rev AI job in progress beyond UPSTREAM_MAX_ATTEMPTS, on its slower schedule, until it is transcribed', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revwprog', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.revai.setJobState('revwprog', 'in_progress');
    expect(await deleteTranscription('revwprog')).toMatchObject({ upstream: { status: 'PENDING', reason: 'JOB_IN_PROGRESS', lastHttpStatus: 409 } });
    const worker = newWorker();
    for (let retry = 1; retry <= MAX_ATTEMPTS + 2; retry += 1) {
      const pending = (await row('TRANSCRIPTION', 'revwprog'));
      const delay = Date.parse(pending.nextAttemptAt!) - now;
      expect(delay).toBe(Math.floor(0.5 * ceilingMs(retry, 'jobInProgress')));
      untilDue(pending);
      expect(await tickAndWait(worker)).toBe(1);
      expect((await row('TRANSCRIPTION', 'revwprog'))).toMatchObject({ status: 'PENDING', reason: 'JOB_IN_PROGRESS', attempts: retry + 1 });
    }
    t.simulators.revai.setJobState('revwprog', 'transcribed');
    untilDue((await row('TRANSCRIPTION', 'revwprog')));
    await tickAndWait(worker);
    expect((await row('TRANSCRIPTION', 'revwprog'))).toMatchObject({ status: 'DELETED', attempts: MAX_ATTEMPTS + 4, lastHttpStatus: 204 });
  });

  it('gives up on a Rev AI job still in progress after the deadline (7 days by default)', async () => {
    await t.register([{ kind: 'TRANSCRIPTION', id: 'revwstuck', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.revai.setJobState('revwstuck', 'in_progress');
    await deleteTranscription('revwstuck');
    advance(t.config.jobInProgressDeadlineMs);
    await tickAndWait(newWorker());
    expect((await row('TRANSCRIPTION', 'revwstuck'))).toMatchObject({ status: 'FAILED', reason: 'JOB_IN_PROGRESS_DEADLINE', attempts: 2 });

    // An operator re-queues it: a whole new deadline, so a job still in progress keeps it PENDING.
    const requeued = await t.gql(t.keys.admin, RETRY, { kind: 'TRANSCRIPTION', id: 'revwstuck' });
    expect(requeued.body.data!.retryUpstreamDeletion).toMatchObject({ status: 'PENDING' });
    await tickAndWait(newWorker());
    expect((await row('TRANSCRIPTION', 'revwstuck'))).toMatchObject({ status: 'PENDING', reason: 'JOB_IN_PROGRESS' });
    t.simulators.revai.setJobState('revwstuck', 'transcribed');
    untilDue((await row('TRANSCRIPTION', 'revwstuck')));
    await tickAndWait(newWorker());
    expect((await row('TRANSCRIPTION', 'revwstuck'))).toMatchObject({ status: 'DELETED' });
  });

  it('gives up after UPSTREAM_MAX_ATTEMPTS calls, keeping the last error', async () => {
    (await registerAudio('trans_wmax'));
    t.simulators.aitronos.pushFault({ status: 503, times: 10, path: audioPath('trans_wmax') });
    await deleteTranscription('trans_wmax');
    const worker = newWorker();
    for (let i = 0; i < 5; i += 1) {
      advance(3_600_000);
      await tickAndWait(worker);
    }
    expect((await transcription('trans_wmax'))).toMatchObject({
      status: 'FAILED',
      reason: 'MAX_ATTEMPTS_EXCEEDED',
      attempts: MAX_ATTEMPTS,
      lastHttpStatus: 503,
      lastError: 'HTTP 503: Injected fault 503',
      nextAttemptAt: null,
    });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_wmax'))).toHaveLength(MAX_ATTEMPTS);
    expect((await events('trans_wmax')).at(-1)).toMatchObject({
      outcome: 'UPSTREAM_FAILED',
      actor: 'system:worker',
      details: { reason: 'MAX_ATTEMPTS_EXCEEDED', lastReason: 'PROVIDER_UNAVAILABLE', error: 'HTTP 503: Injected fault 503' },
    });
  });

  it('gives up on a row whose every call died with its process: attempts count when claimed', async () => {
    (await registerAudio('trans_wcrash'));
    t.simulators.aitronos.pushFault({ status: 503, path: audioPath('trans_wcrash') });
    await deleteTranscription('trans_wcrash');
    const crashing = newWorker();
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt += 1) {
      advance(3_600_000);
      // Claimed, then the process "dies" before calling: nothing is recorded.
      expect((await crashing.claim('AITRONOS_AUDIO', 10)).map((r) => r.resourceId)).toEqual(['trans_wcrash']);
    }
    advance(3_600_000);
    expect(await tickAndWait(newWorker())).toBe(0);
    expect((await transcription('trans_wcrash'))).toMatchObject({ status: 'FAILED', reason: 'MAX_ATTEMPTS_EXCEEDED', attempts: MAX_ATTEMPTS, lastHttpStatus: 503 });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_wcrash'))).toHaveLength(1);
  });
});

describe('leases', () => {
  it("claims a row again once its crashed holder's lease has expired", async () => {
    (await registerAudio('trans_wlease'));
    t.simulators.aitronos.pushFault({ status: 503, path: audioPath('trans_wlease') });
    await deleteTranscription('trans_wlease');
    advance(3_600_000);
    const crashed = newWorker();
    expect(await crashed.claim('AITRONOS_AUDIO', 10)).toHaveLength(1);
    const survivor = newWorker();
    advance(leaseMs - 1);
    expect(await tickAndWait(survivor)).toBe(0);
    advance(2);
    expect(await tickAndWait(survivor)).toBe(1);
    expect((await transcription('trans_wlease'))).toMatchObject({ status: 'DELETED', attempts: 3, leaseOwner: null });
    expect(deletesTo(t.simulators.aitronos, audioPath('trans_wlease'))).toHaveLength(2);
  });

  it('drops the answer of a worker that lost its lease; the next holder re-delivers and the provider\'s 404 ends it DELETED', async () => {
    (await registerAudio('trans_wholder'));
    t.simulators.aitronos.pushFault({ status: 503, path: audioPath('trans_wholder') });
    await deleteTranscription('trans_wholder');
    advance(3_600_000);
    // The first holder's call is slow; meanwhile its lease expires and another worker takes the row.
    t.simulators.aitronos.pushFault({ latencyMs: 200, path: audioPath('trans_wholder') });
    const slow = newWorker();
    expect(await slow.tick()).toBe(1);
    advance(leaseMs + 1);
    const next = newWorker();
    expect((await next.claim('AITRONOS_AUDIO', 10)).map((r) => r.resourceId)).toEqual(['trans_wholder']);
    await slow.idle();
    // The provider did delete, but the slow worker no longer holds the row: the row is left to its
    // holder, and the trail keeps the provider's confirmation, marked as arriving after the lease.
    expect(t.simulators.aitronos.successfulDeletes().get(audioPath('trans_wholder'))).toBe(1);
    expect((await transcription('trans_wholder'))).toMatchObject({ status: 'PENDING', leaseOwner: next.owner });
    expect((await events('trans_wholder')).filter((e) => e.outcome === 'UPSTREAM_DELETED').map((e) => e.details)).toEqual([
      expect.objectContaining({ leaseLost: true, deleted_upstream: true }),
    ]);
    // The new holder dies too; a third worker re-delivers after its lease.
    advance(leaseMs + 1);
    await tickAndWait(newWorker());
    expect((await transcription('trans_wholder'))).toMatchObject({ status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 });
    expect(t.simulators.aitronos.successfulDeletes().get(audioPath('trans_wholder'))).toBe(1);
    expect((await events('trans_wholder')).filter((e) => e.outcome === 'UPSTREAM_DELETED').map((e) => e.details?.leaseLost ?? false)).toEqual([true, false]);
  });

  it('delivers a deletion whose inline provider call never returned; the provider\'s own 404 ends it DELETED', async () => {
    (await registerAudio('trans_wlost'));
    // The provider takes the DELETE and never answers (the gateway would have died waiting).
    t.simulators.aitronos.pushFault({ hang: true, path: audioPath('trans_wlost') });
    const answer = deleteTranscription('trans_wlost');
    await until(() => deletesTo(t.simulators.aitronos, audioPath('trans_wlost')).length === 1, 5_000, 'the DELETE to reach the provider', 5);
    t.simulators.aitronos.markDeleted(audioPath('trans_wlost'));
    expect((await transcription('trans_wlost'))).toMatchObject({ status: 'PENDING', leaseOwner: expect.stringContaining('/request/') });
    const worker = newWorker();
    expect((await worker.tick())).toBe(0); // the request holds the lease
    advance(leaseMs + 1);
    expect(await tickAndWait(worker)).toBe(1);
    expect((await transcription('trans_wlost'))).toMatchObject({ status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404, attempts: 2 });
    // The request's own call times out later; its lease is gone, so it records nothing and shows the truth.
    expect(await answer).toMatchObject({ deletedUpstream: true, upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT' } });
    expect((await events('trans_wlost')).map((e) => `${e.outcome} ${e.actor.split(' ')[0]}`)).toEqual(['DELETED user:bob', 'UPSTREAM_DELETED system:worker']);
  });

  it('two workers on one database (two connections) call the provider once per row', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `trans_wtwo${i}`);
    (await registerAudio(...ids));
    t.simulators.aitronos.pushFault({ status: 503, times: ids.length, path: '/v1/audio/transcribe/trans_wtwo' });
    for (const id of ids) await deleteTranscription(id);
    // Slow answers keep calls in flight while the other worker looks for due rows.
    t.simulators.aitronos.pushFault({ latencyMs: 20, times: ids.length, path: '/v1/audio/transcribe/trans_wtwo' });
    advance(3_600_000);
    const otherDb = await openDatabase(t.database.target);
    const otherClient = new ProviderClient(t.config, runtime.clock);
    try {
      const first = newWorker({ concurrencyPerProvider: 4 });
      const second = newWorker({ concurrencyPerProvider: 4 }, otherDb, otherClient);
      const claimed = await Promise.all([first.drain(), second.drain()]);
      expect(claimed[0] + claimed[1]).toBe(ids.length);
      expect(Math.min(...claimed)).toBeGreaterThan(0);
    } finally {
      await otherClient.close();
      await otherDb.close();
    }
    for (const id of ids) {
      expect((await transcription(id)).status).toBe('DELETED');
      expect(deletesTo(t.simulators.aitronos, audioPath(id))).toHaveLength(2); // the 503, then one delivery
    }
  });
});

describe('isolation', () => {
  it('keeps delivering at Daily while Aitronos hangs, and stops calling Aitronos once its circuit opens', async () => {
    randoms = Array(40).fill(0); // retries due at once: no clock moves needed until the circuit's cooldown
    const hanging = Array.from({ length: 6 }, (_, i) => `trans_whang${i}`);
    const fast = Array.from({ length: 5 }, (_, i) => `job-wfast${i}`);
    (await registerAudio(...hanging));
    await t.register(fast.map((id) => ({ kind: 'BATCH_JOB', id, organizationId: ORG, ownerId: 'bob' })));
    t.simulators.aitronos.pushFault({ status: 503, times: hanging.length, path: '/v1/audio/transcribe/trans_whang' });
    t.simulators.daily.pushFault({ status: 503, times: 4, path: '/v1/batch-processor/job-wfast' });
    for (const id of hanging) await deleteTranscription(id);
    for (const id of fast.slice(0, 4)) await t.gql(t.keys.member, DELETE_BATCH_JOB, { id });
    t.simulators.aitronos.pushFault({ hang: true, times: Infinity, path: '/v1/audio/transcribe/trans_whang' });

    const worker = newWorker({ concurrencyPerProvider: 4, circuitThreshold: 3, circuitCooldownMs: 60_000 });
    expect((await worker.tick())).toBe(8);
    await worker.idle('DAILY');
    // Daily is done while all four Aitronos calls still hang.
    for (const id of fast.slice(0, 4)) expect((await row('BATCH_JOB', id)).status).toBe('DELETED');
    expect(worker.inFlightFor('AITRONOS_AUDIO')).toBe(4);
    expect((await worker.tick())).toBe(0); // Aitronos has no room; nothing else is due
    await worker.idle();
    expect((await Promise.all(hanging.slice(0, 4).map(transcription))).map((r) => r.reason)).toEqual(Array(4).fill('TIMEOUT'));
    expect(worker.circuit('AITRONOS_AUDIO').state).toBe('open');

    // Open circuit: due Aitronos rows wait without spending attempts; Daily goes on.
    const aitronosCalls = t.simulators.aitronos.requests.length;
    t.simulators.daily.pushFault({ status: 503, path: '/v1/batch-processor/job-wfast' });
    await t.gql(t.keys.member, DELETE_BATCH_JOB, { id: fast[4] });
    expect(await tickAndWait(worker)).toBe(1);
    expect((await row('BATCH_JOB', fast[4]!)).status).toBe('DELETED');
    expect(t.simulators.aitronos.requests.length).toBe(aitronosCalls);

    // Aitronos recovers; after the cooldown one probe goes through, closes the circuit, the rest follow.
    t.simulators.aitronos.clearFaults();
    advance(60_000);
    expect((await worker.tick())).toBe(1);
    await worker.idle();
    expect(worker.circuit('AITRONOS_AUDIO').state).toBe('closed');
    await worker.drain();
    for (const id of hanging) expect((await transcription(id)).status).toBe('DELETED');
  });
});

describe('backlog', () => {
  it('drains 1,000 pending deletions once the provider recovers, calling it once for each', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `trans_wbulk${i}`);
    (await registerAudio(...ids));
    // The state a provider outage leaves: committed deletions, each with its outbox row waiting.
    const at = new Date(now).toISOString();
    await t.gateway.db.write(function* () {
      for (const id of ids) {
        yield* run("UPDATE resources SET deleted_at = ?, deleted_by = 'user:bob', updated_at = ? WHERE kind = 'TRANSCRIPTION' AND id = ?", [at, at, id]);
        yield* run(
          `INSERT INTO upstream_deletions (kind, resource_id, provider, organization_id, status, attempts, reason, last_http_status, next_attempt_at, created_at, updated_at)
           VALUES ('TRANSCRIPTION', ?, ?, ?, 'PENDING', 1, 'PROVIDER_UNAVAILABLE', 503, ?, ?, ?)`,
          [id, 'AITRONOS_AUDIO' satisfies Provider, ORG, at, at, at],
        );
      }
    });
    const worker = newWorker();
    const started = performance.now();
    await worker.drain();
    const elapsed = performance.now() - started;
    console.log(`worker drained 1000 pending deletions in ${Math.round(elapsed)} ms (${Math.round(1000 / (elapsed / 1000))}/s, 16 calls in flight per provider)`);
    const left = await t.sql("SELECT kind, resource_id FROM upstream_deletions WHERE status = 'PENDING'");
    expect(left).toEqual([]);
    const successes = t.simulators.aitronos.successfulDeletes();
    expect(ids.filter((id) => successes.get(audioPath(id)) !== 1)).toEqual([]);
    const calls = new Map<string, number>();
    for (const r of t.simulators.aitronos.requests) if (r.path.startsWith('/v1/audio/transcribe/trans_wbulk')) calls.set(r.path, (calls.get(r.path) ?? 0) + 1);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(calls.size).toBe(1000);
  });
});
