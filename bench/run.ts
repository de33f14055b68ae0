// `npm run bench`: measures the gateway against its floor, in one run, on this machine.
// Every server runs in its own process (simulators, bare handler, gateway); the load generator
// (autocannon) runs here. Results: a table on stdout and bench/results/latest.json (git-ignored).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { verifyAllLogs } from '../src/audit/verify.ts';
import { openDatabase } from '../src/db/open.ts';
import { all } from '../src/db/sql.ts';
import {
  benchmark,
  buildGateway,
  deleteTranscriptionBody as gatewayBody,
  firstLine,
  fmt,
  load,
  median,
  node,
  prepareDatabase,
  requireNoFailures,
  ROOT,
  rssMiB,
  startGateway,
  startSimulators,
  stop,
  transcriptionIds as ids,
  work,
  type LoadResult,
} from './support.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BULK = Number(process.env.BENCH_BULK ?? 10_000);

const floorBody = (id: string) => JSON.stringify({ id });

async function main() {
  buildGateway();
  const { child: sims, urls: simulatorUrls, control: simControl } = await startSimulators();

  const plan = [
    { connections: 1, requests: 1000 },
    { connections: 32, requests: 4000 },
  ];
  const perTarget = 500 + plan.reduce((sum, p) => sum + p.requests * ROUNDS, 0);

  // 1. Floor vs gateway.
  const floorDb = join(work, 'floor.db');
  const floorIds = ids('f', perTarget);
  await prepareDatabase({ path: floorDb }, floorIds);
  const floor = node(['bench/floor.ts', floorDb, simulatorUrls.aitronos!, 'bench-aitronos-key'], {});
  const floorUrl = await firstLine(floor);
  const gatewayDb = join(work, 'gateway.db');
  const gatewayIds = ids('g', perTarget);
  const gatewayKey = await prepareDatabase({ path: gatewayDb }, gatewayIds);
  const gateway = await startGateway({ path: gatewayDb }, simulatorUrls);
  const floorTarget = [{ url: `${floorUrl}/delete`, headers: {} }];
  const gatewayTarget = [{ url: `${gateway.url}/graphql`, headers: { authorization: `Bearer ${gatewayKey}` } }];

  const comparisons: Record<string, unknown>[] = [];
  let cursor = { floor: 0, gateway: 0 };
  const take = (which: 'floor' | 'gateway', n: number) => {
    const list = which === 'floor' ? floorIds : gatewayIds;
    const slice = list.slice(cursor[which], cursor[which] + n);
    cursor[which] += n;
    return slice;
  };
  // Warm both up (JIT, connections, statement caches).
  requireNoFailures('warm-up', [await load(floorTarget, 8, floorBody, take('floor', 500)), await load(gatewayTarget, 8, gatewayBody, take('gateway', 500))]);
  for (const { connections, requests } of plan) {
    const floorRuns: LoadResult[] = [];
    const gatewayRuns: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      floorRuns.push(await load(floorTarget, connections, floorBody, take('floor', requests)));
      gatewayRuns.push(await load(gatewayTarget, connections, gatewayBody, take('gateway', requests)));
    }
    requireNoFailures(`floor and gateway at concurrency ${connections}`, [...floorRuns, ...gatewayRuns]);
    const f = { rps: median(floorRuns.map((r) => r.rps)), p50: median(floorRuns.map((r) => r.p50)), p99: median(floorRuns.map((r) => r.p99)) };
    const g = { rps: median(gatewayRuns.map((r) => r.rps)), p50: median(gatewayRuns.map((r) => r.p50)), p99: median(gatewayRuns.map((r) => r.p99)) };
    comparisons.push({
      connections,
      requestsPerRound: requests,
      rounds: ROUNDS,
      floor: f,
      gateway: g,
      throughputRatio: g.rps / f.rps,
      addedP50Ms: g.p50 - f.p50,
      addedP99Ms: g.p99 - f.p99,
    });
  }
  await stop(gateway.child);
  await stop(floor);

  // 2. Bulk: 10,000 deletions at concurrency 32, no loss, no duplicate provider call.
  await simControl('reset', 'POST');
  const bulkDb = join(work, 'bulk.db');
  const bulkIds = ids('b', BULK);
  const bulkKey = await prepareDatabase({ path: bulkDb }, bulkIds);
  const bulkGateway = await startGateway({ path: bulkDb }, simulatorUrls);
  const startedRss = rssMiB(bulkGateway.child.pid, 'VmRSS');
  const bulkRun = await load([{ url: `${bulkGateway.url}/graphql`, headers: { authorization: `Bearer ${bulkKey}` } }], 32, gatewayBody, bulkIds);
  // VmHWM: the serving process's peak resident set over its whole life, read before it exits.
  const peakRss = rssMiB(bulkGateway.child.pid, 'VmHWM');
  await stop(bulkGateway.child);
  requireNoFailures('bulk', [bulkRun]);
  const deletes = (await (await simControl('deletes', 'GET')).json()) as Record<string, number>;
  const bulkPaths = bulkIds.map((id) => `/v1/audio/transcribe/${id}`);
  const providerDeletes = bulkPaths.reduce((sum, path) => sum + (deletes[path] ?? 0), 0);
  const duplicates = bulkPaths.filter((path) => (deletes[path] ?? 0) > 1).length;
  const bulkDbHandle = await openDatabase({ path: bulkDb });
  const auditRows = Number((await bulkDbHandle.read(all<{ n: number }>('SELECT count(*) AS n FROM audit_events')))[0]!.n);
  const verifyStarted = performance.now();
  const logs = await verifyAllLogs(bulkDbHandle);
  const verification = { valid: [...logs.values()].every((log) => log.valid), eventsChecked: [...logs.values()].reduce((n, log) => n + log.eventsChecked, 0) };
  const verifySeconds = (performance.now() - verifyStarted) / 1000;
  await bulkDbHandle.close();

  // 3. Backlog drain: 10,000 deletions while the provider answers 503, then it recovers.
  await simControl('reset', 'POST');
  const backlogDb = join(work, 'backlog.db');
  const backlogIds = ids('q', BULK);
  const backlogKey = await prepareDatabase({ path: backlogDb }, backlogIds);
  const backlogGateway = await startGateway({ path: backlogDb }, simulatorUrls);
  await simControl('faults', 'POST', { status: 503, times: null, path: '/v1/audio/' });
  const backlogRun = await load([{ url: `${backlogGateway.url}/graphql`, headers: { authorization: `Bearer ${backlogKey}` } }], 32, gatewayBody, backlogIds);
  requireNoFailures('backlog', [backlogRun]);
  const reader = new Database(backlogDb, { readonly: true });
  const outstanding = () => (reader.prepare("SELECT count(*) AS n FROM upstream_deletions WHERE status <> 'DELETED'").get() as { n: number }).n;
  const pendingAtRecovery = outstanding();
  await simControl('faults', 'DELETE');
  const recovered = performance.now();
  let drainSeconds: number | null = null;
  while (performance.now() - recovered < 180_000) {
    if (outstanding() === 0) {
      drainSeconds = (performance.now() - recovered) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const failedAfterDrain = (reader.prepare("SELECT count(*) AS n FROM upstream_deletions WHERE status = 'FAILED'").get() as { n: number }).n;
  reader.close();
  await stop(backlogGateway.child);
  await stop(sims);

  const results = {
    at: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    floorVsGateway: comparisons,
    bulk: {
      deletions: BULK,
      seconds: bulkRun.seconds,
      deletionsPerSecond: bulkRun.rps,
      peakRssMiB: Math.round(peakRss),
      rssAfterStartMiB: Math.round(startedRss),
      providerDeletes,
      duplicates,
      auditChainValid: verification.valid,
    },
    backlog: { deletions: BULK, acceptSeconds: backlogRun.seconds, pendingAtRecovery, drainSeconds, failedAfterDrain },
    audit: { events: auditRows, appendPerSecond: auditRows / bulkRun.seconds, verifySeconds, verifyEventsPerSecond: verification.eventsChecked / verifySeconds },
  };

  const out = join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.log(`\nSpeech deletion gateway benchmark — ${results.machine.cores} cores, ${results.machine.cpu}, Node ${process.version}, ${ROUNDS} rounds (median)\n`);
  console.log('| concurrency | floor req/s | gateway req/s | ratio | floor p50/p99 ms | gateway p50/p99 ms | added p99 ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of comparisons as { connections: number; floor: { rps: number; p50: number; p99: number }; gateway: { rps: number; p50: number; p99: number }; throughputRatio: number; addedP99Ms: number }[]) {
    console.log(
      `| ${c.connections} | ${fmt(c.floor.rps, 0)} | ${fmt(c.gateway.rps, 0)} | ${fmt(c.throughputRatio, 2)} | ${fmt(c.floor.p50, 2)}/${fmt(c.floor.p99, 2)} | ${fmt(c.gateway.p50, 2)}/${fmt(c.gateway.p99, 2)} | ${fmt(c.addedP99Ms, 2)} |`,
    );
  }
  const b = results.bulk;
  console.log(`\nBulk: ${b.deletions} deletions at concurrency 32 in ${fmt(b.seconds, 2)} s (${fmt(b.deletionsPerSecond, 0)}/s), peak RSS ${b.peakRssMiB} MiB (${b.rssAfterStartMiB} MiB after start), provider DELETEs ${b.providerDeletes}, duplicates ${b.duplicates}, audit chain ${b.auditChainValid ? 'valid' : 'BROKEN'}`);
  const q = results.backlog;
  console.log(`Backlog: ${q.deletions} accepted during a 503 outage in ${fmt(q.acceptSeconds, 2)} s; ${q.pendingAtRecovery} pending at recovery; drained in ${q.drainSeconds === null ? 'NOT within 180 s' : `${fmt(q.drainSeconds, 2)} s`}; failed ${q.failedAfterDrain}`);
  const a = results.audit;
  console.log(`Audit: ${a.events} events, appended at ${fmt(a.appendPerSecond, 0)}/s under load; verified in ${fmt(a.verifySeconds, 3)} s (${fmt(a.verifyEventsPerSecond, 0)} events/s)`);
  console.log(`\nJSON: bench/results/latest.json`);
}

await benchmark(main);
