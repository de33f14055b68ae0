// Crash safety, end to end: the real `gateway serve` in a child process, killed under load, restarted.
// Whatever the API accepted must reach the provider exactly once, and the audit trail must prove it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.ts';
import { registerResources, type ResourceInputValue } from '../src/catalog/register.ts';
import { openDatabase, type Database } from '../src/db/open.ts';
import { all } from '../src/db/sql.ts';
import { OUTBOX_COLUMNS, decodeOutbox } from '../src/outbox/row.ts';
import { systemRuntime } from '../src/runtime.ts';
import { startSimulators, type Simulators } from '../src/simulators/launcher.ts';
import { childEnv, killLeftovers, runCli, startChildGateway, startChildWorker, until, type ChildGateway } from './support/child.ts';
import { createTestDatabase, query, type TestDatabase } from './support/database.ts';
import { CUSTOM_BUCKET, ORG, TEST_CREDENTIALS } from './support/harness.ts';

const CONCURRENCY = 16;
const ROUNDS = 5;
const PER_KIND = 1000;

type Kind = 'TRANSCRIPTION' | 'REV_AI' | 'SESSION' | 'BATCH_JOB';

interface Target {
  kind: Kind;
  id: string;
}

const MUTATIONS: Record<Kind, string> = {
  TRANSCRIPTION: 'mutation($id: ID!) { result: deleteTranscription(transcriptionId: $id) { __typename } }',
  REV_AI: 'mutation($id: ID!) { result: deleteTranscription(transcriptionId: $id) { __typename } }',
  SESSION: 'mutation($id: ID!) { result: deleteSession(sessionId: $id) { __typename } }',
  BATCH_JOB: 'mutation($id: ID!) { result: deleteBatchJob(batchJobId: $id) { __typename } }',
};

const key = (t: Target) => `${t.kind}:${t.id}`;
const catalogKind = (t: Target) => (t.kind === 'REV_AI' ? 'TRANSCRIPTION' : t.kind);

function providerPath(t: Target): { sim: keyof Pick<Simulators, 'aitronos' | 'revai' | 'scriptix' | 'daily'>; path: string } {
  switch (t.kind) {
    case 'TRANSCRIPTION':
      return { sim: 'aitronos', path: `/v1/audio/transcribe/${t.id}` };
    case 'REV_AI':
      return { sim: 'revai', path: `/speechtotext/v1/jobs/${t.id}` };
    case 'SESSION':
      return { sim: 'scriptix', path: `/api/v3/speech-to-text/session/${t.id}` };
    case 'BATCH_JOB':
      return { sim: 'daily', path: `/v1/batch-processor/${t.id}` };
  }
}

/** What the load generator learned: answered with a Deletion, or sent without an answer. */
interface Ledger {
  accepted: Set<string>;
  unknown: Map<string, Target>;
  sent: number;
}

/** CONCURRENCY clients take targets off the queue until `stop()`; a request with no answer is "unknown". */
function load(gateway: ChildGateway, apiKey: string, queue: Target[], ledger: Ledger) {
  let stopped = false;
  const client = async () => {
    while (!stopped) {
      const target = queue.shift();
      if (!target) return;
      ledger.sent += 1;
      try {
        const response = await fetch(`${gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
          body: JSON.stringify({ query: MUTATIONS[target.kind], variables: { id: target.id } }),
        });
        const body = (await response.json()) as { data?: { result?: { __typename: string } } };
        const typename = body.data?.result?.__typename ?? '';
        if (!typename.endsWith('Deletion')) throw new Error(`unexpected answer ${JSON.stringify(body)}`);
        ledger.accepted.add(key(target));
        ledger.unknown.delete(key(target));
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('unexpected answer')) throw error;
        // Killed mid-request: it may or may not have been committed. Asked again after the restart.
        ledger.unknown.set(key(target), target);
      }
    }
  };
  const clients = Array.from({ length: CONCURRENCY }, client);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(clients);
    },
    done: Promise.all(clients),
  };
}

let simulators: Simulators;
let database: TestDatabase;
let db: Database;
let apiKey: string;

async function targetsFor(prefix: string): Promise<Target[]> {
  const targets: Target[] = [];
  const inputs: ResourceInputValue[] = [];
  for (let i = 0; i < PER_KIND; i += 1) {
    for (const kind of ['TRANSCRIPTION', 'REV_AI', 'SESSION', 'BATCH_JOB'] as const) {
      const id = { TRANSCRIPTION: `trans_${prefix}${i}`, REV_AI: `rev${prefix}${i}`, SESSION: `sess${prefix}${i}`, BATCH_JOB: `job-${prefix}${i}` }[kind];
      targets.push({ kind, id });
      inputs.push({
        kind: kind === 'REV_AI' ? 'TRANSCRIPTION' : kind,
        id,
        ...(kind === 'REV_AI' ? { provider: 'REV_AI' } : kind === 'TRANSCRIPTION' ? { provider: 'AITRONOS_AUDIO' } : {}),
        organizationId: ORG,
        ownerId: 'alice',
      });
    }
  }
  for (let i = 0; i < inputs.length; i += 1000) {
    const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'crash-test', now: new Date() }, inputs.slice(i, i + 1000));
    if ('__typename' in result) throw new Error(result.message);
  }
  return targets;
}

async function pendingCount(): Promise<number> {
  const [row] = await query<{ n: number }>(db, "SELECT count(*) AS n FROM upstream_deletions WHERE status = 'PENDING'");
  return Number(row!.n);
}

/** Every committed deletion DELETED here and at its provider, one 2xx each, one UPSTREAM_DELETED event each. */
async function checkDelivered(ledger: Ledger, targets: Target[]) {
  const byKey = new Map(targets.map((t) => [key(t), t]));
  const rows = (await db.read(all(`SELECT ${OUTBOX_COLUMNS} FROM upstream_deletions`))).map(decodeOutbox);
  const rowOf = new Map(rows.map((r) => [`${r.kind}:${r.resourceId}`, r]));
  const notDeleted = rows.filter((r) => r.status !== 'DELETED');
  expect(notDeleted).toEqual([]);

  const successes = new Map<string, number>();
  for (const name of ['aitronos', 'revai', 'scriptix', 'daily'] as const) {
    for (const [path, count] of simulators[name].successfulDeletes()) successes.set(`${name}${path}`, count);
  }
  const lost: string[] = [];
  for (const accepted of ledger.accepted) {
    const target = byKey.get(accepted)!;
    const row = rowOf.get(`${catalogKind(target)}:${target.id}`);
    const { sim, path } = providerPath(target);
    if (row?.status !== 'DELETED' || !successes.has(`${sim}${path}`)) lost.push(accepted);
  }
  const duplicates = [...successes].filter(([, count]) => count > 1);
  // Calls the provider answered for good (2xx, or once deleted its 404 — Scriptix: 400 "already
  // removed"), retries of a 503 aside. A second one is only ever the re-delivery of a call cut off
  // by a crash: the provider says it is gone already, and the row ends ALREADY_ABSENT.
  const calls = new Map<string, number>();
  for (const name of ['aitronos', 'revai', 'scriptix', 'daily'] as const) {
    for (const request of simulators[name].requests) {
      const final = (request.status >= 200 && request.status < 300) || request.status === 404 || (name === 'scriptix' && request.status === 400);
      if (request.method === 'DELETE' && final) calls.set(`${name}${request.path}`, (calls.get(`${name}${request.path}`) ?? 0) + 1);
    }
  }

  // Every committed local deletion has its outbox row (one transaction), and it was delivered.
  const [deletedLocally] = await query<{ n: number }>(db, 'SELECT count(*) AS n FROM resources WHERE deleted_at IS NOT NULL');
  expect(Number(deletedLocally!.n)).toBe(rows.length);
  const byRow = new Map(targets.map((t) => [`${catalogKind(t)}:${t.id}`, t]));
  for (const row of rows) {
    const { sim, path } = providerPath(byRow.get(`${row.kind}:${row.resourceId}`)!);
    if (!successes.has(`${sim}${path}`)) lost.push(`${row.kind}:${row.resourceId} (committed)`);
  }

  const events = await query<{ kind: string; id: string; n: number }>(
    db,
    "SELECT resource_kind AS kind, resource_id AS id, count(*) AS n FROM audit_events WHERE outcome = 'UPSTREAM_DELETED' GROUP BY resource_kind, resource_id",
  );
  const eventCount = new Map(events.map((e) => [`${e.kind}:${e.id}`, Number(e.n)]));
  const wrongEvents = rows.filter((r) => eventCount.get(`${r.kind}:${r.resourceId}`) !== 1).map((r) => `${r.kind}:${r.resourceId}`);
  const redelivered = rows.filter((r) => r.reason === 'ALREADY_ABSENT').length;
  const unexplained: string[] = [];
  let extraCalls = 0;
  for (const row of rows) {
    const { sim, path } = providerPath(byRow.get(`${row.kind}:${row.resourceId}`)!);
    const n = calls.get(`${sim}${path}`) ?? 0;
    extraCalls += Math.max(0, n - 1);
    if (n > 1 && row.reason !== 'ALREADY_ABSENT') unexplained.push(`${row.kind}:${row.resourceId} called ${n} times`);
  }
  return { lost, duplicates, wrongEvents, committed: rows.length, redelivered, extraCalls, unexplained };
}

beforeAll(async () => {
  simulators = await startSimulators({ credentials: TEST_CREDENTIALS, dailyCustomBucket: CUSTOM_BUCKET });
  database = await createTestDatabase();
  db = await openDatabase(database.target);
  apiKey = (await createKey(db, systemRuntime, { organizationId: ORG, userId: 'alice', role: 'admin' })).key;
});

afterAll(async () => {
  killLeftovers();
  await db?.close();
  await simulators?.stop();
  await database?.dispose();
});

const env = () => childEnv(database.env, simulators, { RATE_LIMIT_PER_MINUTE: '1000000' });

describe('a gateway killed at random moments under load', () => {
  it('delivers every accepted deletion exactly once after restarts, and the audit trail verifies', async () => {
    const targets = await targetsFor('k');
    const queue = [...targets];
    const ledger: Ledger = { accepted: new Set(), unknown: new Map(), sent: 0 };
    const kills: number[] = [];

    for (let round = 0; round < ROUNDS; round += 1) {
      const gateway = await startChildGateway(env());
      const run = load(gateway, apiKey, queue, ledger);
      // Killed after 0.2–1.2 s of load: mid-request, mid-transaction, mid-provider call, whatever it was doing.
      const after = 200 + Math.floor(Math.random() * 1000);
      await Promise.race([new Promise((r) => setTimeout(r, after)), run.done]);
      const stopped = run.stop();
      gateway.child.kill('SIGKILL');
      kills.push(after);
      expect((await gateway.exited).signal).toBe('SIGKILL');
      await stopped;
    }

    // Restart, this time with the retries in two `gateway worker` processes beside the server; ask
    // again what had no answer (it answers alreadyDeleted if it was committed), then drain.
    const gateway = await startChildGateway({ ...env(), WORKER_IN_SERVE: '0' });
    const workers = [startChildWorker(env()), startChildWorker(env())];
    const retry = [...ledger.unknown.values()];
    const unknownBeforeRetry = retry.length;
    await load(gateway, apiKey, retry, ledger).done;
    expect(ledger.unknown.size).toBe(0);
    // Leases of the killed processes expire (UPSTREAM_TIMEOUT_MS + 10 s), then the workers deliver.
    await until(async () => (await pendingCount()) === 0, 45_000, 'the workers to drain the outbox');
    for (const proc of [gateway, ...workers]) proc.child.kill('SIGTERM');
    for (const proc of [gateway, ...workers]) expect(await proc.exited, proc.stderr()).toEqual({ code: 0, signal: null });

    const result = await checkDelivered(ledger, targets);
    const verify = await runCli(['audit', 'verify'], env());
    console.log(
      `crash test: ${ROUNDS} SIGKILL rounds (after ${kills.join(', ')} ms of load), ${ledger.sent} requests, ` +
        `${ledger.accepted.size} deletions accepted, ${result.committed} committed, ${unknownBeforeRetry} unanswered before restart, ` +
        `${result.redelivered} re-delivered after a crash (provider's own 404; ${result.extraCalls} second calls in all), lost ${result.lost.length}, duplicates ${result.duplicates.length}; ${verify.stdout.trim()}`,
    );
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toEqual([]);
    expect(result.wrongEvents).toEqual([]);
    expect(result.unexplained).toEqual([]);
    expect(ledger.accepted.size).toBeGreaterThan(ROUNDS * 10);
    expect(verify.code).toBe(0);
  }, 120_000);
});

describe('a gateway stopped with SIGTERM under load', () => {
  it('exits 0, releases its leases, and loses nothing', async () => {
    const targets = await targetsFor('t');
    const queue = [...targets];
    const ledger: Ledger = { accepted: new Set(), unknown: new Map(), sent: 0 };
    // Some deletions wait for a retry and some provider calls are slow when the signal comes. Five 503s
    // in a row open Scriptix' circuit (then later Scriptix deletes wait, CIRCUIT_OPEN, for the worker
    // after the cooldown); no more, so whatever is left of them cannot keep the restarted worker's
    // circuit open past the drain deadline.
    simulators.scriptix.pushFault({ status: 503, times: 5 });
    simulators.daily.pushFault({ latencyMs: 600, times: 40 });

    const gateway = await startChildGateway(env());
    const run = load(gateway, apiKey, queue, ledger);
    await new Promise((r) => setTimeout(r, 700));
    gateway.child.kill('SIGTERM');
    const exit = await gateway.exited;
    await run.stop();
    expect(exit, gateway.stderr()).toEqual({ code: 0, signal: null });
    const leased = await query(db, "SELECT kind, resource_id FROM upstream_deletions WHERE status = 'PENDING' AND lease_owner IS NOT NULL");
    expect(leased).toEqual([]);
    const pendingAtExit = await pendingCount();

    const restarted = await startChildGateway(env());
    await load(restarted, apiKey, [...ledger.unknown.values()], ledger).done;
    await until(async () => (await pendingCount()) === 0, 30_000, 'the worker to drain the outbox');
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited).code).toBe(0);

    const result = await checkDelivered(ledger, [...targets, ...targetsOfEarlierTest()]);
    console.log(
      `SIGTERM test: ${ledger.accepted.size} deletions accepted, ${pendingAtExit} pending (none leased) at exit, lost ${result.lost.length}, duplicates ${result.duplicates.length}`,
    );
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toEqual([]);
    expect(result.wrongEvents).toEqual([]);
    expect(result.unexplained).toEqual([]);
  }, 90_000);
});

/** The first test's targets, still in the same database: checkDelivered looks at every outbox row. */
function targetsOfEarlierTest(): Target[] {
  const targets: Target[] = [];
  for (let i = 0; i < PER_KIND; i += 1) {
    targets.push(
      { kind: 'TRANSCRIPTION', id: `trans_k${i}` },
      { kind: 'REV_AI', id: `revk${i}` },
      { kind: 'SESSION', id: `sessk${i}` },
      { kind: 'BATCH_JOB', id: `job-k${i}` },
    );
  }
  return targets;
}
