// `npm run bench:bulk`: deleteResources against single mutations, on this machine, in one run.
//   1. 10,000 deletions through single deleteTranscription mutations, then another 10,000 through
//      deleteResources in calls of 500 — each against a fresh gateway process, at the same
//      concurrency (BENCH_CONCURRENCY, 4): wall time, deletions/s, peak RSS (VmHWM) of the gateway.
//   2. One 1000-target call with one provider hung (half its targets at Aitronos, which never
//      answers): how long until it answers, against UPSTREAM_TIMEOUT_MS + 1 s.
// The simulators run in a process of their own; each gateway is the compiled `gateway serve`, as
// production runs it, on a temp SQLite file.
import { join } from 'node:path';
import type { ResourceInputValue } from '../src/catalog/register.ts';
import { benchmark, buildGateway, ORG, post, prepareResources, rssMiB, startGateway, startSimulators, stop, transcriptionIds, transcriptions, work } from './support.ts';

const TOTAL = Number(process.env.BENCH_BULK ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const PER_CALL = 500;
const TIMEOUT_MS = 2000;

const SINGLE = 'mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { deletedUpstream } } }';
const MANY = 'mutation($targets: [DeleteTarget!]!) { deleteResources(targets: $targets) { __typename ... on DeleteResourcesPayload { deleted rejected } } }';

async function inParallel<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

async function phase(simulatorUrls: Record<string, string>, name: string, prefix: string, drive: (url: string, key: string, ids: string[]) => Promise<void>) {
  const target = { path: join(work, `${name}.db`) };
  const ids = transcriptionIds(prefix, TOTAL);
  const key = await prepareResources(target, transcriptions(ids));
  const { child, url } = await startGateway(target, simulatorUrls, { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) });
  const started = performance.now();
  await drive(url, key, ids);
  const seconds = (performance.now() - started) / 1000;
  const rss = rssMiB(child.pid, 'VmHWM');
  await stop(child);
  return { seconds, perSecond: TOTAL / seconds, peakRssMb: rss };
}

async function main() {
  buildGateway();
  const simulators = await startSimulators();
  const single = await phase(simulators.urls, 'single', 's', async (url, key, ids) => {
    await inParallel(ids, async (id) => {
      const data = await post(url, key, SINGLE, { id });
      if (data.deleteTranscription.__typename !== 'TranscriptionDeletion') throw new Error(JSON.stringify(data));
    });
  });
  const bulk = await phase(simulators.urls, 'bulk', 'b', async (url, key, ids) => {
    const calls = Array.from({ length: Math.ceil(ids.length / PER_CALL) }, (_, i) => ids.slice(i * PER_CALL, (i + 1) * PER_CALL));
    await inParallel(calls, async (slice) => {
      const data = await post(url, key, MANY, { targets: slice.map((id) => ({ kind: 'TRANSCRIPTION', id })) });
      if (data.deleteResources.deleted !== slice.length) throw new Error(JSON.stringify(data));
    });
  });

  // 2. 1000 targets, half at a provider that hangs.
  const hungTarget = { path: join(work, 'hung.db') };
  const hungResources: ResourceInputValue[] = [
    ...transcriptions(transcriptionIds('h', 500)),
    ...Array.from({ length: 500 }, (_, i): ResourceInputValue => ({ kind: 'BATCH_JOB', id: `job-h${i}`, organizationId: ORG, ownerId: 'bench' })),
  ];
  const hungKey = await prepareResources(hungTarget, hungResources);
  const hungGateway = await startGateway(hungTarget, simulators.urls, { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) });
  await simulators.control('faults', 'POST', { hang: true, times: null, path: '/v1/audio/transcribe/' });
  const hungStarted = performance.now();
  const hung = await post(hungGateway.url, hungKey, MANY, { targets: hungResources.map((r) => ({ kind: r.kind, id: r.id })) });
  const hungMs = performance.now() - hungStarted;
  await simulators.control('faults', 'DELETE');
  await stop(hungGateway.child);
  await stop(simulators.child);

  const table = {
    deletions: TOTAL,
    concurrency: CONCURRENCY,
    single: { seconds: +single.seconds.toFixed(2), perSecond: Math.round(single.perSecond), peakRssMb: Math.round(single.peakRssMb) },
    bulk: { callsOf: PER_CALL, seconds: +bulk.seconds.toFixed(2), perSecond: Math.round(bulk.perSecond), peakRssMb: Math.round(bulk.peakRssMb) },
    speedup: +(single.seconds / bulk.seconds).toFixed(2),
    hungProvider: { targets: 1000, atHungProvider: 500, answeredMs: Math.round(hungMs), boundMs: TIMEOUT_MS + 1000, deleted: hung.deleteResources.deleted },
  };
  console.log(JSON.stringify(table, null, 2));
}

await benchmark(main);
