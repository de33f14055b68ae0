// The chain stays linear under load: concurrent delete requests through the gateway while a second
// process (as `gateway worker` would be) appends events to the same database file in its own
// BEGIN IMMEDIATE transactions. Afterwards no two events claim the same predecessor and the whole
// chain verifies. Also prints the append rate of the request workload.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyAuditTrail } from '../src/audit/verify.ts';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = 240;
const CONCURRENCY = 16;

// The second process: appends UPSTREAM_RETRY_SCHEDULED events as the worker does, one transaction
// each, with a pause between, until told to stop; then reports how many it wrote.
const APPENDER = `
import { appendAuditEvent } from ${JSON.stringify(`${ROOT}/src/audit/append.ts`)};
import { openDatabase, immediate, closeDatabase } from ${JSON.stringify(`${ROOT}/src/db/open.ts`)};
import { systemRuntime } from ${JSON.stringify(`${ROOT}/src/runtime.ts`)};
import { createInterface } from 'node:readline';
const db = openDatabase(process.env.DATABASE_PATH);
let stop = false;
const lines = createInterface({ input: process.stdin });
const go = new Promise((resolve) => lines.on('line', (line) => { if (line === 'go') resolve(); if (line === 'stop') stop = true; }));
console.log('ready');
await go;
let written = 0;
while (!stop) {
  immediate(db, () => appendAuditEvent(db, systemRuntime, {
    actor: 'system:worker', organizationId: ${JSON.stringify(ORG)}, action: 'upstream.delete', resourceKind: 'TRANSCRIPTION',
    resourceId: 'trans_elsewhere_' + written, provider: 'AITRONOS_AUDIO', outcome: 'UPSTREAM_RETRY_SCHEDULED',
    upstreamHttpStatus: 503, details: { attempt: 2, reason: 'PROVIDER_UNAVAILABLE', process: 'appender' },
  }));
  written += 1;
  await new Promise((resolve) => setTimeout(resolve, 2));
}
closeDatabase(db);
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

it('keeps one linear chain with concurrent requests and a second process appending', async () => {
  const ids = Array.from({ length: REQUESTS }, (_, i) => `trans_load_${i}`);
  t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }) as const));
  const before = count();

  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', APPENDER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_PATH: t.dbPath },
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
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const answer = await t.gql(t.keys.member, `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { deletedUpstream } } }`, { id });
        answers.push(answer.body.data?.deleteTranscription?.deletedUpstream === true ? 'deleted' : JSON.stringify(answer.body));
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  child.stdin.write('stop\n');
  const written = Number((await waitFor('written ')).split(' ')[1]);

  expect(answers).toEqual(Array(REQUESTS).fill('deleted'));
  expect(written).toBeGreaterThan(0);
  const db = t.gateway.db.$client;
  const requestEvents = db.prepare("SELECT count(*) AS n FROM audit_events WHERE resource_id LIKE 'trans_load_%'").get() as { n: number };
  expect(requestEvents.n).toBe(2 * REQUESTS);
  expect(count()).toBe(before + 2 * REQUESTS + written);

  // The two writers really interleaved: some of the other process's events sit between the requests'.
  const span = db.prepare("SELECT min(seq) AS first, max(seq) AS last FROM audit_events WHERE resource_id LIKE 'trans_load_%'").get() as { first: number; last: number };
  const between = db.prepare("SELECT count(*) AS n FROM audit_events WHERE resource_id LIKE 'trans_elsewhere_%' AND seq > ? AND seq < ?").get(span.first, span.last) as { n: number };
  expect(between.n).toBeGreaterThan(0);

  // Linear: every event but the first names a distinct predecessor, and the whole chain verifies.
  expect(db.prepare('SELECT previous_hash, count(*) AS n FROM audit_events GROUP BY previous_hash HAVING n > 1').all()).toEqual([]);
  expect(db.prepare('SELECT count(*) AS n FROM audit_events WHERE previous_hash IS NULL').get()).toEqual({ n: 1 });
  expect(verifyAuditTrail(t.gateway.db)).toEqual({ valid: true, eventsChecked: count(), firstInvalidEventId: null, problem: null });

  const perSecond = Math.round((2 * REQUESTS) / (elapsedMs / 1000));
  console.log(
    `${REQUESTS} deletes at concurrency ${CONCURRENCY} in ${Math.round(elapsedMs)} ms: ${2 * REQUESTS} request-path audit events (${perSecond}/s), ` +
      `plus ${written} from the second process`,
  );
});

function count(): number {
  return (t.gateway.db.$client.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
}
