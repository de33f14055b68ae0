// `npm run bench:erasure`: one data-subject erasure of 10,000 resources at all five providers, with
// the simulators, against the compiled `gateway serve` (its worker delivering): how long the
// eraseSubject mutation takes to answer (goal: under 2 s), how long until the request is COMPLETED,
// how long its receipt takes to build, the gateway's peak RSS (VmHWM), and that no provider resource was deleted twice. On a SQLite file,
// and on PostgreSQL too when BENCH_DATABASE_URL (or TEST_DATABASE_URL) names a server.
//   The subject's 10,000: 3,000 Aitronos transcriptions, 1,000 Rev AI jobs, 2,000 tracks, 2,000
//   Daily batch jobs, 500 Scriptix sessions each with a document and a comment (one call each) and
//   500 documents in another user's session (one call each): 9,000 provider calls.
import { join } from 'node:path';
import type { DatabaseTarget } from '../src/config.ts';
import type { ResourceInputValue } from '../src/catalog/register.ts';
import { benchmark, buildGateway, createPostgresDatabase, ORG, post, prepareResources, rssMiB, startGateway, startSimulators, stop, work } from './support.ts';

const SUBJECT = 'bench-subject';
const SCALE = Number(process.env.BENCH_ERASURE_SCALE ?? 1);

function subjectResources(): { resources: ResourceInputValue[]; calls: number; total: number } {
  const n = (count: number) => Math.round(count * SCALE);
  const theirs = { organizationId: ORG, ownerId: SUBJECT };
  const resources: ResourceInputValue[] = [{ kind: 'SESSION', id: 'sess-bench-other', organizationId: ORG, ownerId: 'bench' }];
  for (let i = 0; i < n(3000); i += 1) resources.push({ kind: 'TRANSCRIPTION', id: `trans_era${i}`, provider: 'AITRONOS_AUDIO', ...theirs });
  for (let i = 0; i < n(1000); i += 1) resources.push({ kind: 'TRANSCRIPTION', id: `revera${i}`, provider: 'REV_AI', ...theirs });
  for (let i = 0; i < n(2000); i += 1) resources.push({ kind: 'TRACK', id: `mtrack_era${i}`, ...theirs });
  for (let i = 0; i < n(2000); i += 1) resources.push({ kind: 'BATCH_JOB', id: `job-era${i}`, ...theirs });
  for (let i = 0; i < n(500); i += 1) {
    resources.push({ kind: 'SESSION', id: `sess-era${i}`, ...theirs });
    resources.push({ kind: 'DOCUMENT', id: `doc-era${i}`, sessionId: `sess-era${i}`, ...theirs });
    resources.push({ kind: 'COMMENT', id: `cmt-era${i}`, sessionId: `sess-era${i}`, documentId: `doc-era${i}`, ...theirs });
    resources.push({ kind: 'DOCUMENT', id: `doc-else${i}`, sessionId: 'sess-bench-other', ...theirs });
  }
  const total = resources.length - 1;
  const calls = n(3000) + n(1000) + n(2000) + n(2000) + 2 * n(500);
  return { resources, calls, total };
}

const ERASE = `mutation($subject: ID!) { eraseSubject(input: { subjectId: $subject }) {
  __typename ... on ErasureRequest { id status totals { resources pending } } ... on Error { code message } } }`;
const STATUS = 'query($id: ID!) { erasureRequest(id: $id) { status totals { resources deleted pending failed } } }';

async function run(label: string, target: DatabaseTarget, simulators: Awaited<ReturnType<typeof startSimulators>>) {
  const { resources, calls, total } = subjectResources();
  for (const url of Object.values(simulators.urls)) await fetch(`${url}/__sim/reset`, { method: 'POST' });
  const key = await prepareResources(target, resources);
  const { child, url } = await startGateway(target, simulators.urls);
  try {
    const started = performance.now();
    const answer = (await post(url, key, ERASE, { subject: SUBJECT })).eraseSubject;
    const answeredMs = performance.now() - started;
    if (answer.__typename !== 'ErasureRequest' || answer.totals.resources !== total) throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
    let state = answer;
    while (state.status === 'RUNNING') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = (await post(url, key, STATUS, { id: answer.id })).erasureRequest;
      if (performance.now() - started > 600_000) throw new Error(`not completed after 10 minutes: ${JSON.stringify(state)}`);
    }
    const completedMs = performance.now() - started;
    const receiptStarted = performance.now();
    const { receipt } = (await post(url, key, 'query($id: ID!) { erasureRequest(id: $id) { receipt } }', { id: answer.id })).erasureRequest;
    const receiptMs = performance.now() - receiptStarted;
    const peakRssMb = rssMiB(child.pid, 'VmHWM');
    // Successful deletes per resource path, per simulator (Aitronos serves audio and music).
    const counts: number[] = [];
    for (const simulatorUrl of new Set(Object.values(simulators.urls))) {
      const deletes = (await (await fetch(`${simulatorUrl}/__sim/deletes`)).json()) as Record<string, number>;
      counts.push(...Object.values(deletes));
    }
    return {
      backend: label,
      resources: total,
      status: state.status,
      mutationAnsweredMs: Math.round(answeredMs),
      completedMs: Math.round(completedMs),
      receipt: { ms: Math.round(receiptMs), events: receipt.events.length, items: receipt.erasureRequest.items.length, mb: +(JSON.stringify(receipt).length / 1e6).toFixed(1) },
      providerCalls: { expected: calls, resourcesDeletedAtProviders: counts.length, duplicates: counts.filter((n) => n > 1).length },
      gatewayPeakRssMb: Math.round(peakRssMb),
    };
  } finally {
    await stop(child);
  }
}

async function main() {
  buildGateway();
  const simulators = await startSimulators();
  const results = [await run('sqlite', { path: join(work, 'erasure.db') }, simulators)];
  const server = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (server) results.push(await run('postgres', { url: await createPostgresDatabase(server, 'erasure'), poolSize: 10 }, simulators));
  await stop(simulators.child);
  console.log(JSON.stringify({ goalMutationMs: 2000, results }, null, 2));
  const failed = results.filter((r) => r.status !== 'COMPLETED' || r.providerCalls.duplicates > 0 || r.providerCalls.resourcesDeletedAtProviders !== r.providerCalls.expected);
  if (failed.length > 0) throw new Error(`erasure bench failed: ${JSON.stringify(failed)}`);
}

await benchmark(main);
