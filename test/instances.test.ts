// Several instances on one database, as they are deployed: two `gateway serve` processes (no worker
// inside) and one `gateway worker`, all real child processes on one database (PostgreSQL in the
// postgres project, a SQLite file in the sqlite one), against the simulators. Deletes of the same ids
// race through both servers; then the provider fails, a server is killed while it holds leases, and
// everything must still end DELETED exactly once with every organisation's log intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.ts';
import { registerResources } from '../src/catalog/register.ts';
import { openDatabase, type Database } from '../src/db/open.ts';
import { systemRuntime } from '../src/runtime.ts';
import { startSimulators, type Simulators } from '../src/simulators/launcher.ts';
import { childEnv, killLeftovers, startChildGateway, startChildWorker, until, type ChildGateway } from './support/child.ts';
import { BACKEND, createTestDatabase, query, verifyEveryLog, type TestDatabase } from './support/database.ts';
import { CUSTOM_BUCKET, ORG, OTHER_ORG, TEST_CREDENTIALS } from './support/harness.ts';

const RACED = 200;
const FAILING = 120;
const DELETE = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { alreadyDeleted upstream { status } } } }`;

let simulators: Simulators;
let database: TestDatabase;
let db: Database;
const keys: Record<string, string> = {};

const audio = (id: string) => `/v1/audio/transcribe/${id}`;
// A generous provider timeout: on a loaded two-core machine a 1 s timeout can expire on a call the
// simulator did answer, and the retry that follows is a second call by design, not a race.
const env = (extra: Record<string, string> = {}) =>
  childEnv(database.env, simulators, { RATE_LIMIT_PER_MINUTE: '1000000', WORKER_IN_SERVE: '0', UPSTREAM_TIMEOUT_MS: '4000', ...extra });

async function remove(server: ChildGateway, key: string, id: string): Promise<{ typename: string; alreadyDeleted?: boolean } | null> {
  try {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: DELETE, variables: { id } }),
    });
    const body = (await response.json()) as { data?: { deleteTranscription?: { __typename: string; alreadyDeleted?: boolean } } };
    const result = body.data?.deleteTranscription;
    if (!result) throw new Error(`unexpected answer ${JSON.stringify(body)}; the server said: ${(server.stderr() + server.stdout()).split('\n').filter((l) => /"level":(50|60)|rror/.test(l)).slice(-5).join('\n')}`);
    return { typename: result.__typename, ...(result.alreadyDeleted === undefined ? {} : { alreadyDeleted: result.alreadyDeleted }) };
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('unexpected answer')) throw error;
    return null; // the server was killed mid-request
  }
}

async function pending(): Promise<number> {
  const [row] = await query<{ n: number }>(db, "SELECT count(*) AS n FROM upstream_deletions WHERE status = 'PENDING'");
  return Number(row!.n);
}

beforeAll(async () => {
  simulators = await startSimulators({ credentials: TEST_CREDENTIALS, dailyCustomBucket: CUSTOM_BUCKET });
  database = await createTestDatabase();
  db = await openDatabase(database.target);
  keys.a = (await createKey(db, systemRuntime, { organizationId: ORG, userId: 'alice', role: 'admin' })).key;
  keys.b = (await createKey(db, systemRuntime, { organizationId: OTHER_ORG, userId: 'olga', role: 'admin' })).key;
  const resources = [
    ...Array.from({ length: RACED }, (_, i) => ({ id: `trans_race${i}`, organizationId: i % 2 ? OTHER_ORG : ORG })),
    ...Array.from({ length: FAILING }, (_, i) => ({ id: `trans_fail${i}`, organizationId: i % 2 ? OTHER_ORG : ORG })),
  ].map((r) => ({ kind: 'TRANSCRIPTION', provider: 'AITRONOS_AUDIO', ownerId: 'bob', ...r }));
  const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'instances', now: new Date() }, resources);
  if ('__typename' in result) throw new Error(result.message);
});

afterAll(async () => {
  killLeftovers();
  await db?.close();
  await simulators?.stop();
  await database?.dispose();
});

describe(`two servers and a worker on one ${BACKEND} database`, () => {
  it('call the provider once per deletion, survive a killed server holding leases, and keep every log one line', async () => {
    let servers = await Promise.all([startChildGateway(env()), startChildGateway(env())]);
    const worker = startChildWorker(env());
    const keyOf = (i: number) => (i % 2 ? keys.b! : keys.a!);

    // 1. The same ids through both servers at once: one deletion each, one provider call each.
    const raced = await Promise.all(
      Array.from({ length: RACED }, async (_, i) => {
        const id = `trans_race${i}`;
        return Promise.all(servers.map((server) => remove(server, keyOf(i), id)));
      }),
    );
    for (const pair of raced) {
      expect(pair.map((answer) => answer?.typename)).toEqual(['TranscriptionDeletion', 'TranscriptionDeletion']);
      // Exactly one of the two did it; the other saw it done.
      expect(pair.filter((answer) => answer?.alreadyDeleted === false)).toHaveLength(1);
    }
    const racedCalls = Array.from({ length: RACED }, (_, i) => simulators.aitronos.requests.filter((r) => r.method === 'DELETE' && r.path === audio(`trans_race${i}`)).length);
    const twice = racedCalls.flatMap((n, i) => (n !== 1 ? [`trans_race${i}`] : []));
    const why = twice.length ? JSON.stringify(await query(db, 'SELECT resource_id, actor, outcome, details FROM audit_events WHERE resource_id = ? ORDER BY seq', [twice[0]])) : '';
    expect(twice, why).toEqual([]);

    // 2. The provider fails, then answers slowly: the failed ones are left PENDING for the worker,
    //    and server 0 is killed while its own inline calls still hold their rows' leases.
    // Four 503s: retries for the worker, fewer than the five in a row that open a process's circuit
    // (an open circuit would answer CIRCUIT_OPEN without calling, and hold no lease to kill).
    simulators.aitronos.pushFault({ status: 503, times: 4, path: '/v1/audio/transcribe/trans_fail' });
    const accepted = new Set<string>();
    const unanswered: number[] = [];
    const first = await Promise.all(
      Array.from({ length: FAILING / 2 }, async (_, i) => ({ i, answer: await remove(servers[i % 2]!, keyOf(i), `trans_fail${i}`) })),
    );
    for (const { i, answer } of first) (answer ? accepted.add(`trans_fail${i}`) : unanswered.push(i));
    simulators.aitronos.pushFault({ latencyMs: 800, times: FAILING, path: '/v1/audio/transcribe/trans_fail' });
    const rounds: string[] = [];
    for (let round = 0; round < 2; round += 1) {
      const victim = round % 2;
      const slice = Array.from({ length: FAILING / 4 }, (_, k) => FAILING / 2 + round * (FAILING / 4) + k);
      const inFlight = slice.map(async (i) => ({ i, answer: await remove(servers[i % 2]!, keyOf(i), `trans_fail${i}`) }));
      // Let the requests commit and start their provider calls, then kill mid-call.
      await until(async () => Number((await query<{ n: number }>(db, "SELECT count(*) AS n FROM upstream_deletions WHERE lease_owner LIKE '%/request/%'"))[0]!.n) > 0, 10_000, 'requests holding leases');
      const leased = Number((await query<{ n: number }>(db, "SELECT count(*) AS n FROM upstream_deletions WHERE lease_owner LIKE '%/request/%'"))[0]!.n);
      servers[victim]!.child.kill('SIGKILL');
      expect((await servers[victim]!.exited).signal).toBe('SIGKILL');
      rounds.push(`round ${round + 1}: server ${victim} killed with ${leased} request leases held`);
      for (const { i, answer } of await Promise.all(inFlight)) (answer ? accepted.add(`trans_fail${i}`) : unanswered.push(i));
            servers[victim] = await startChildGateway(env());
    }
    simulators.aitronos.clearFaults();
    // What had no answer is asked again (alreadyDeleted if it was committed before the kill).
    for (const i of unanswered) {
      const answer = await remove(servers[0]!, keyOf(i), `trans_fail${i}`);
      expect(answer?.typename).toBe('TranscriptionDeletion');
      accepted.add(`trans_fail${i}`);
    }
    expect(accepted.size).toBe(FAILING);

    // 3. The worker delivers the rest once the killed server's leases expire.
    await until(async () => (await pending()) === 0, 60_000, 'the worker to deliver every pending deletion');
    const rows = await query<{ resourceId: string; status: string; reason: string | null }>(
      db,
      'SELECT resource_id AS "resourceId", status, reason FROM upstream_deletions',
    );
    expect(rows).toHaveLength(RACED + FAILING);
    expect(rows.filter((row) => row.status !== 'DELETED')).toEqual([]);
    const successes = simulators.aitronos.successfulDeletes();
    const lost = rows.filter((row) => !successes.has(audio(row.resourceId))).map((row) => row.resourceId);
    const duplicates = [...successes].filter(([, n]) => n > 1).map(([path]) => path);
    // A second call happens only as the re-delivery of a call a kill cut off: the provider already
    // deleted, answers its own 404, and the row ends ALREADY_ABSENT — never a second 2xx.
    const calls = rows.map((row) => simulators.aitronos.requests.filter((r) => r.method === 'DELETE' && r.path === audio(row.resourceId) && r.status !== 503).length);
    const redelivered = rows.filter((row) => row.reason === 'ALREADY_ABSENT').length;
    expect(lost).toEqual([]);
    expect(duplicates).toEqual([]);

    const verification = await verifyEveryLog(db);
    expect(verification).toMatchObject({ valid: true, problems: [] });
    const events = await query<{ logId: string; n: number; last: number }>(db, 'SELECT log_id AS "logId", count(*) AS n, max(log_index) AS last FROM audit_events GROUP BY log_id');
    for (const log of events) expect(Number(log.last)).toBe(Number(log.n) - 1);

    for (const proc of [...servers, worker]) proc.child.kill('SIGTERM');
    for (const proc of [...servers, worker]) expect(await proc.exited, proc.stderr()).toEqual({ code: 0, signal: null });
    console.log(
      `instances test (${BACKEND}): 2 servers + 1 worker; ${RACED} ids deleted through both servers at once → ${racedCalls.reduce((a, b) => a + b, 0)} provider calls; ` +
        `${FAILING} deletions under 503s and slow answers, ${rounds.join(', ')}; ${unanswered.length} unanswered and asked again; ` +
        `${calls.reduce((a, b) => a + b, 0)} provider calls answered (not 503) for ${rows.length} rows, ${redelivered} re-delivered after a kill (provider's own 404); ` +
        `lost ${lost.length}, duplicates ${duplicates.length}; ${verification.eventsChecked} audit events in ${events.length} logs verified`,
    );
  }, 150_000);
});
