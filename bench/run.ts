// `npm run bench`: measures the gateway against its floor, in one run, on this machine.
// Every server runs in its own process (simulators, bare handler, gateway); the load generator
// (autocannon) runs here. Results: a table on stdout and bench/results/latest.json (git-ignored).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { createKey } from '../src/auth/keys.ts';
import { generateSigningKeyPem } from '../src/audit/note.ts';
import { verifyAllLogs } from '../src/audit/verify.ts';
import { registerResources, type ResourceInputValue } from '../src/catalog/register.ts';
import { openDatabase } from '../src/db/open.ts';
import { all } from '../src/db/sql.ts';
import { systemRuntime } from '../src/runtime.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BULK = Number(process.env.BENCH_BULK ?? 10_000);
const CREDENTIALS = {
  AITRONOS_API_KEY: 'bench-aitronos-key',
  SCRIPTIX_API_KEY: 'bench-scriptix-key',
  DAILY_API_KEY: 'bench-daily-key',
  REVAI_ACCESS_TOKEN: 'bench-revai-token',
};
const ORG = 'org_bench';
const work = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
// Production refuses to start without an audit signing key: one for this run, in its temp directory.
const signingKeyFile = join(work, 'audit-signing-key.pem');
writeFileSync(signingKeyFile, generateSigningKeyPem(), { mode: 0o600 });
const children: ChildProcess[] = [];

/** A node process: TypeScript through tsx (simulators, floor), or compiled JavaScript as production runs it. */
function node(args: string[], env: Record<string, string>, stdout: 'pipe' | 'ignore' = 'pipe', compiled = false): ChildProcess {
  const child = spawn(process.execPath, compiled ? args : ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  children.push(child);
  return child;
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) return line;
  throw new Error('child exited before printing');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `trans_${prefix}${i}`);
}

/** A migrated database with the given transcriptions registered, and an admin key. */
async function prepareDatabase(path: string, transcriptionIds: string[]): Promise<string> {
  const db = await openDatabase({ path });
  const { key } = await createKey(db, systemRuntime, { organizationId: ORG, userId: 'bench', role: 'admin' });
  for (let i = 0; i < transcriptionIds.length; i += 1000) {
    const batch: ResourceInputValue[] = transcriptionIds
      .slice(i, i + 1000)
      .map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bench' }));
    const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'bench', now: new Date() }, batch);
    if ('__typename' in result) throw new Error(result.message);
  }
  await db.close();
  return key;
}

let port = 4600;
async function startGateway(dbPath: string, simulatorUrls: Record<string, string>, extra: Record<string, string> = {}) {
  port += 1;
  const child = node(
    ['bin/gateway.mjs', 'serve'],
    {
      ...CREDENTIALS,
      NODE_ENV: 'production',
      SANDBOX: '0',
      PORT: String(port),
      DATABASE_PATH: dbPath,
      AITRONOS_BASE_URL: simulatorUrls.aitronos!,
      SCRIPTIX_BASE_URL: simulatorUrls.scriptix!,
      DAILY_BASE_URL: simulatorUrls.daily!,
      REVAI_BASE_URL: simulatorUrls.revai!,
      RATE_LIMIT_PER_MINUTE: '1000000',
      AUDIT_SIGNING_KEY_FILE: signingKeyFile,
      ...extra,
    },
    'ignore',
    true,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url);
  return { child, url };
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  seconds: number;
}

/** Runs `idList.length` requests at a concurrency; times and latencies are taken per response. */
function load(url: string, connections: number, body: (id: string) => string, idList: string[], headers: Record<string, string>): Promise<LoadResult> {
  let next = 0;
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  let finished = started;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        amount: idList.length,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        requests: [{ setupRequest: (request: Record<string, unknown>) => ({ ...request, body: body(idList[next++ % idList.length]!) }) }],
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        // autocannon notices the end on its one-second tick: time the run by its last response instead.
        const seconds = (finished - started) / 1000;
        latencies.sort((a, b) => a - b);
        const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
        resolve({ rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors: result.errors + result.timeouts + failures, non2xx: result.non2xx, seconds });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      if (statusCode !== 200) failures += 1;
      finished = performance.now();
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const gatewayBody = (id: string) =>
  JSON.stringify({
    query: 'mutation D($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on TranscriptionDeletion { deletedUpstream upstream { status } } } }',
    variables: { id },
    operationName: 'D',
  });
const floorBody = (id: string) => JSON.stringify({ id });

async function main() {
  // The gateway runs what `npm start` runs: dist/, built from the sources as they are now.
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const sims = node(['src/simulators/cli.ts'], { ...CREDENTIALS, DAILY_CUSTOM_BUCKETS: 'bench-custom' });
  const simulatorUrls = JSON.parse(await firstLine(sims)) as Record<string, string>;
  const simControl = (path: string, method: string, body?: unknown) =>
    fetch(`${simulatorUrls.aitronos}/__sim/${path}`, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });

  const plan = [
    { connections: 1, requests: 1000 },
    { connections: 32, requests: 4000 },
  ];
  const perTarget = 500 + plan.reduce((sum, p) => sum + p.requests * ROUNDS, 0);

  // 1. Floor vs gateway.
  const floorDb = join(work, 'floor.db');
  const floorIds = ids('f', perTarget);
  await prepareDatabase(floorDb, floorIds);
  const floor = node(['bench/floor.ts', floorDb, simulatorUrls.aitronos!, CREDENTIALS.AITRONOS_API_KEY], {});
  const floorUrl = await firstLine(floor);
  const gatewayDb = join(work, 'gateway.db');
  const gatewayIds = ids('g', perTarget);
  const gatewayKey = await prepareDatabase(gatewayDb, gatewayIds);
  const gateway = await startGateway(gatewayDb, simulatorUrls);

  const comparisons: Record<string, unknown>[] = [];
  let cursor = { floor: 0, gateway: 0 };
  const take = (which: 'floor' | 'gateway', n: number) => {
    const list = which === 'floor' ? floorIds : gatewayIds;
    const slice = list.slice(cursor[which], cursor[which] + n);
    cursor[which] += n;
    return slice;
  };
  // Warm both up (JIT, connections, statement caches).
  await load(`${floorUrl}/delete`, 8, floorBody, take('floor', 500), {});
  await load(`${gateway.url}/graphql`, 8, gatewayBody, take('gateway', 500), { authorization: `Bearer ${gatewayKey}` });
  for (const { connections, requests } of plan) {
    const floorRuns: LoadResult[] = [];
    const gatewayRuns: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      floorRuns.push(await load(`${floorUrl}/delete`, connections, floorBody, take('floor', requests), {}));
      gatewayRuns.push(await load(`${gateway.url}/graphql`, connections, gatewayBody, take('gateway', requests), { authorization: `Bearer ${gatewayKey}` }));
    }
    const failed = [...floorRuns, ...gatewayRuns].reduce((sum, r) => sum + r.errors + r.non2xx, 0);
    if (failed > 0) throw new Error(`${failed} requests failed at concurrency ${connections}: the comparison would be meaningless`);
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
      failures: [...floorRuns, ...gatewayRuns].reduce((s, r) => s + r.errors + r.non2xx, 0),
    });
  }
  await stop(gateway.child);
  await stop(floor);

  // 2. Bulk: 10,000 deletions at concurrency 32, no loss, no duplicate provider call.
  await simControl('reset', 'POST');
  const bulkDb = join(work, 'bulk.db');
  const bulkIds = ids('b', BULK);
  const bulkKey = await prepareDatabase(bulkDb, bulkIds);
  const bulkGateway = await startGateway(bulkDb, simulatorUrls);
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${bulkGateway.child.pid}/status`, 'utf8');
      peakRss = Math.max(peakRss, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
    } catch {
      // process gone
    }
  }, 200);
  const bulkRun = await load(`${bulkGateway.url}/graphql`, 32, gatewayBody, bulkIds, { authorization: `Bearer ${bulkKey}` });
  clearInterval(rssTimer);
  await stop(bulkGateway.child);
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
  const backlogKey = await prepareDatabase(backlogDb, backlogIds);
  const backlogGateway = await startGateway(backlogDb, simulatorUrls);
  await simControl('faults', 'POST', { status: 503, times: null, path: '/v1/audio/' });
  const backlogRun = await load(`${backlogGateway.url}/graphql`, 32, gatewayBody, backlogIds, { authorization: `Bearer ${backlogKey}` });
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
      failures: bulkRun.errors + bulkRun.non2xx,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
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

  const fmt = (n: number, digits = 1) => n.toFixed(digits);
  console.log(`\nSpeech deletion gateway benchmark — ${results.machine.cores} cores, ${results.machine.cpu}, Node ${process.version}, ${ROUNDS} rounds (median)\n`);
  console.log('| concurrency | floor req/s | gateway req/s | ratio | floor p50/p99 ms | gateway p50/p99 ms | added p99 ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of comparisons as { connections: number; floor: { rps: number; p50: number; p99: number }; gateway: { rps: number; p50: number; p99: number }; throughputRatio: number; addedP99Ms: number }[]) {
    console.log(
      `| ${c.connections} | ${fmt(c.floor.rps, 0)} | ${fmt(c.gateway.rps, 0)} | ${fmt(c.throughputRatio, 2)} | ${fmt(c.floor.p50, 2)}/${fmt(c.floor.p99, 2)} | ${fmt(c.gateway.p50, 2)}/${fmt(c.gateway.p99, 2)} | ${fmt(c.addedP99Ms, 2)} |`,
    );
  }
  const b = results.bulk;
  console.log(`\nBulk: ${b.deletions} deletions at concurrency 32 in ${fmt(b.seconds, 2)} s (${fmt(b.deletionsPerSecond, 0)}/s), failures ${b.failures}, peak RSS ${b.peakRssMiB} MiB, provider DELETEs ${b.providerDeletes}, duplicates ${b.duplicates}, audit chain ${b.auditChainValid ? 'valid' : 'BROKEN'}`);
  const q = results.backlog;
  console.log(`Backlog: ${q.deletions} accepted during a 503 outage in ${fmt(q.acceptSeconds, 2)} s; ${q.pendingAtRecovery} pending at recovery; drained in ${q.drainSeconds === null ? 'NOT within 180 s' : `${fmt(q.drainSeconds, 2)} s`}; failed ${q.failedAfterDrain}`);
  const a = results.audit;
  console.log(`Audit: ${a.events} events, appended at ${fmt(a.appendPerSecond, 0)}/s under load; verified in ${fmt(a.verifySeconds, 3)} s (${fmt(a.verifyEventsPerSecond, 0)} events/s)`);
  console.log(`\nJSON: bench/results/latest.json`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
