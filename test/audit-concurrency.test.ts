// Each organisation's log stays one line under load: concurrent delete requests through the gateway
// while a second process (as `gateway worker` would be) appends events to the same database, to the
// same organisation's log and to another's, in transactions of its own, and signs checkpoints of
// both logs now and then, as clients of the gateway keep asking for checkpoints too. Afterwards every
// log is numbered without a gap, no two events of a log claim the same predecessor, every log
// verifies, and each checkpoint is consistent with the one before it (a consistency proof between
// them verifies). Runs on SQLite and, with TEST_BACKEND=postgres, on PostgreSQL. Prints the append rate.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyConsistency } from '../src/audit/merkle.ts';
import { verifyCheckpoint } from '../src/audit/note.ts';
import { consistencyProofAt } from '../src/audit/proofs.ts';
import { verifyEveryLog } from './support/database.ts';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = 240;
const CONCURRENCY = 16;

// The second process: appends UPSTREAM_RETRY_SCHEDULED events as the worker does, one transaction
// each, with a pause between, until told to stop; then reports how many it wrote.
const APPENDER = `
import { appendEvent } from ${JSON.stringify(`${ROOT}/src/audit/append.ts`)};
import { currentCheckpoint } from ${JSON.stringify(`${ROOT}/src/audit/checkpoint.ts`)};
import { loadSigningKey } from ${JSON.stringify(`${ROOT}/src/audit/signing-key.ts`)};
import { openDatabase } from ${JSON.stringify(`${ROOT}/src/db/open.ts`)};
import { loadConfig } from ${JSON.stringify(`${ROOT}/src/config.ts`)};
import { systemRuntime } from ${JSON.stringify(`${ROOT}/src/runtime.ts`)};
import { createInterface } from 'node:readline';
const config = loadConfig(process.env);
const db = await openDatabase(config.database);
const { signing } = loadSigningKey(config.audit, false);
let stop = false;
const lines = createInterface({ input: process.stdin });
const go = new Promise((resolve) => lines.on('line', (line) => { if (line === 'go') resolve(); if (line === 'stop') stop = true; }));
console.log('ready');
await go;
let written = 0;
while (!stop) {
  await db.write(() => appendEvent(systemRuntime, {
    actor: 'system:worker', organizationId: written % 3 === 2 ? ${JSON.stringify(OTHER_ORG)} : ${JSON.stringify(ORG)},
    action: 'upstream.delete', resourceKind: 'TRANSCRIPTION',
    resourceId: 'trans_elsewhere_' + written, provider: 'AITRONOS_AUDIO', outcome: 'UPSTREAM_RETRY_SCHEDULED',
    upstreamHttpStatus: 503, details: { attempt: 2, reason: 'PROVIDER_UNAVAILABLE', process: 'appender' },
  }));
  written += 1;
  if (written % 10 === 0) {
    await Promise.all([${JSON.stringify(ORG)}, ${JSON.stringify(OTHER_ORG)}].map((log) => currentCheckpoint(db, signing, log, new Date())));
  }
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await db.close();
console.log('written ' + written);
lines.close();
`;

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
});
afterAll(async () => {
  await t?.close();
});

it("keeps each organisation's log one line with concurrent requests and a second process appending", async () => {
  const ids = Array.from({ length: REQUESTS }, (_, i) => `trans_load_${i}`);
  await t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }) as const));
  const before = await count();

  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', APPENDER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...t.database.env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const output = createInterface({ input: child.stdout });
  const lines: string[] = [];
  const waitFor = (prefix: string) =>
    new Promise<string>((resolvePromise, reject) => {
      const found = lines.find((line) => line.startsWith(prefix));
      if (found) return resolvePromise(found);
      const onLine = (line: string) => {
        if (!line.startsWith(prefix)) return;
        output.off('line', onLine);
        resolvePromise(line);
      };
      output.on('line', onLine);
      child.once('exit', (code) => reject(new Error(`appender exited (${code}) before printing "${prefix}"`)));
    });
  output.on('line', (line) => lines.push(line));
  await waitFor('ready');
  child.stdin.write('go\n');

  const started = performance.now();
  let next = 0;
  const answers: string[] = [];
  // Clients of both organisations asking for checkpoints all along: none may fail on a checkpoint
  // another request or the other process signed at the same size.
  let loading = true;
  const checkpointAnswers: string[] = [];
  const pollers = [t.keys.viewer, t.keys.member, t.keys.otherMember, t.keys.admin].map(async (key) => {
    while (loading) {
      const answer = await t.gql(key, '{ auditCheckpoint { treeSize } }');
      checkpointAnswers.push(answer.status === 200 && typeof answer.body.data?.auditCheckpoint?.treeSize === 'number' ? 'ok' : JSON.stringify(answer.body));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const answer = await t.gql(t.keys.member, `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { deletedUpstream } } }`, { id });
        answers.push(answer.body.data?.deleteTranscription?.deletedUpstream === true ? 'deleted' : JSON.stringify(answer.body));
      }
    }),
  );
  loading = false;
  await Promise.all(pollers);
  const elapsedMs = performance.now() - started;
  child.stdin.write('stop\n');
  const written = Number((await waitFor('written ')).split(' ')[1]);

  expect(answers).toEqual(Array(REQUESTS).fill('deleted'));
  expect(written).toBeGreaterThan(0);
  const [requestEvents] = await t.sql<{ n: number }>("SELECT count(*) AS n FROM audit_events WHERE resource_id LIKE 'trans_load_%'");
  expect(Number(requestEvents!.n)).toBe(2 * REQUESTS);
  expect(await count()).toBe(before + 2 * REQUESTS + written);

  // The two writers really interleaved: some of the other process's events sit between the requests'.
  const [span] = await t.sql<{ first: number; last: number }>(
    "SELECT min(seq) AS first, max(seq) AS last FROM audit_events WHERE resource_id LIKE 'trans_load_%'",
  );
  const [between] = await t.sql<{ n: number }>("SELECT count(*) AS n FROM audit_events WHERE resource_id LIKE 'trans_elsewhere_%' AND seq > ? AND seq < ?", [
    span!.first,
    span!.last,
  ]);
  expect(Number(between!.n)).toBeGreaterThan(0);

  // One line per log: indexes 0 … n-1 with no gap, one genesis, every event a distinct predecessor.
  const logs = await t.sql<{ logId: string; n: number; first: number; last: number; genesis: number; links: number }>(
    `SELECT log_id AS "logId", count(*) AS n, min(log_index) AS first, max(log_index) AS last,
       sum(CASE WHEN previous_hash IS NULL THEN 1 ELSE 0 END) AS genesis, count(DISTINCT previous_hash) AS links
     FROM audit_events GROUP BY log_id ORDER BY log_id`,
  );
  expect(logs.map((log) => log.logId)).toEqual([ORG, OTHER_ORG]);
  for (const log of logs) {
    expect({ first: Number(log.first), last: Number(log.last), genesis: Number(log.genesis), links: Number(log.links) }).toEqual({
      first: 0,
      last: Number(log.n) - 1,
      genesis: 1,
      links: Number(log.n) - 1,
    });
  }
  expect(await verifyEveryLog(t.gateway.db)).toEqual({ valid: true, eventsChecked: await count(), problems: [] });

  // Checkpoints: both writers signed many, none failed, and every one verifies and extends the one before.
  expect(checkpointAnswers.length).toBeGreaterThan(0);
  expect(checkpointAnswers.filter((answer) => answer !== 'ok')).toEqual([]);
  for (const logId of [ORG, OTHER_ORG]) {
    const checkpoints = await t.sql<{ size: number; root: string; note: string }>(
      'SELECT tree_size AS size, root_hash AS root, signed_note AS note FROM audit_checkpoints WHERE log_id = ? ORDER BY tree_size',
      [logId],
    );
    expect(checkpoints.length).toBeGreaterThan(2);
    for (const checkpoint of checkpoints) {
      const verified = verifyCheckpoint(checkpoint.note, t.gateway.signing.key.verifierKey);
      expect(verified.ok && verified.checkpoint.size).toBe(Number(checkpoint.size));
    }
    for (let i = 1; i < checkpoints.length; i += 1) {
      const [older, newer] = [checkpoints[i - 1]!, checkpoints[i]!];
      const proof = await t.gateway.db.read(consistencyProofAt(logId, Number(older.size), Number(newer.size)));
      const consistent = verifyConsistency(Number(older.size), Number(newer.size), proof, Buffer.from(older.root, 'hex'), Buffer.from(newer.root, 'hex'));
      expect(consistent, `${logId}: ${older.size} → ${newer.size}`).toBe(true);
    }
  }

  const perSecond = Math.round((2 * REQUESTS) / (elapsedMs / 1000));
  console.log(
    `${REQUESTS} deletes at concurrency ${CONCURRENCY} in ${Math.round(elapsedMs)} ms: ${2 * REQUESTS} request-path audit events (${perSecond}/s), ` +
      `plus ${written} from the second process; ${checkpointAnswers.length} auditCheckpoint answers meanwhile`,
  );
});

async function count(): Promise<number> {
  const [row] = await t.sql<{ n: number }>('SELECT count(*) AS n FROM audit_events');
  return Number(row!.n);
}
