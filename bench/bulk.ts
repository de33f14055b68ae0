// `npm run bench:bulk`: deleteResources against single mutations, on this machine, in one run.
//   1. 10,000 deletions through single deleteTranscription mutations, then another 10,000 through
//      deleteResources in calls of 500 — each against a fresh gateway process, at the same
//      concurrency (BENCH_CONCURRENCY, 4): wall time, deletions/s, peak RSS (VmHWM) of the gateway.
//   2. One 1000-target call with one provider hung (half its targets at Aitronos, which never
//      answers): how long until it answers, against UPSTREAM_TIMEOUT_MS + 1 s.
// The simulators run here; each gateway is a child process (`gateway serve`) on a temp SQLite file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKey } from '../src/auth/keys.ts';
import { registerResources, type ResourceInputValue } from '../src/catalog/register.ts';
import { openDatabase } from '../src/db/open.ts';
import { systemRuntime } from '../src/runtime.ts';
import { startSimulators } from '../src/simulators/launcher.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOTAL = Number(process.env.BENCH_BULK ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const PER_CALL = 500;
const TIMEOUT_MS = 2000;
const ORG = 'org_bench';
const credentials = { aitronosApiKey: 'bench-a', scriptixApiKey: 'bench-s', dailyApiKey: 'bench-d', revaiAccessToken: 'bench-r' };
const work = mkdtempSync(join(tmpdir(), 'bulk-bench-'));
const simulators = await startSimulators({ credentials, dailyCustomBucket: 'bench-bucket' });

async function prepare(path: string, resources: ResourceInputValue[]): Promise<string> {
  const db = await openDatabase({ path });
  const { key } = await createKey(db, systemRuntime, { organizationId: ORG, userId: 'bench', role: 'admin' });
  for (let i = 0; i < resources.length; i += 1000) {
    const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'bench', now: new Date() }, resources.slice(i, i + 1000));
    if ('__typename' in result) throw new Error(result.message);
  }
  await db.close();
  return key;
}

let port = 4900;
async function gateway(path: string): Promise<{ child: ChildProcess; url: string }> {
  port += 1;
  let exited = false;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      SANDBOX: '0',
      PORT: String(port),
      DATABASE_PATH: path,
      AUDIT_SIGNING_KEY_FILE: join(work, 'audit-key.pem'),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '1000000',
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
      AITRONOS_BASE_URL: simulators.baseUrls.aitronos,
      AITRONOS_API_KEY: credentials.aitronosApiKey,
      SCRIPTIX_BASE_URL: simulators.baseUrls.scriptix,
      SCRIPTIX_API_KEY: credentials.scriptixApiKey,
      DAILY_BASE_URL: simulators.baseUrls.daily,
      DAILY_API_KEY: credentials.dailyApiKey,
      REVAI_BASE_URL: simulators.baseUrls.revai,
      REVAI_ACCESS_TOKEN: credentials.revaiAccessToken,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300 && !exited; i += 1) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(exited ? 'the gateway exited at start (see its error above)' : 'the gateway did not come up');
}

function peakRssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function post(url: string, key: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (body.errors) throw new Error(`request failed: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

const SINGLE = 'mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { deletedUpstream } } }';
const MANY = 'mutation($targets: [DeleteTarget!]!) { deleteResources(targets: $targets) { __typename ... on DeleteResourcesPayload { deleted rejected } } }';

async function inParallel<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

const transcriptions = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i): ResourceInputValue => ({ kind: 'TRANSCRIPTION', id: `trans_${prefix}${i}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bench' }));

async function phase(name: string, prefix: string, drive: (url: string, key: string, ids: string[]) => Promise<void>) {
  const path = join(work, `${name}.db`);
  const resources = transcriptions(prefix, TOTAL);
  const key = await prepare(path, resources);
  const { child, url } = await gateway(path);
  const started = performance.now();
  await drive(url, key, resources.map((r) => r.id));
  const seconds = (performance.now() - started) / 1000;
  const rss = peakRssMb(child);
  await stop(child);
  return { seconds, perSecond: TOTAL / seconds, peakRssMb: rss };
}

try {
  const single = await phase('single', 's', async (url, key, ids) => {
    await inParallel(ids, async (id) => {
      const data = await post(url, key, SINGLE, { id });
      if (data.deleteTranscription.__typename !== 'TranscriptionDeletion') throw new Error(JSON.stringify(data));
    });
  });
  const bulk = await phase('bulk', 'b', async (url, key, ids) => {
    const calls = Array.from({ length: Math.ceil(ids.length / PER_CALL) }, (_, i) => ids.slice(i * PER_CALL, (i + 1) * PER_CALL));
    await inParallel(calls, async (slice) => {
      const data = await post(url, key, MANY, { targets: slice.map((id) => ({ kind: 'TRANSCRIPTION', id })) });
      if (data.deleteResources.deleted !== slice.length) throw new Error(JSON.stringify(data));
    });
  });

  // 2. 1000 targets, half at a provider that hangs.
  const hungPath = join(work, 'hung.db');
  const hungResources = [
    ...transcriptions('h', 500),
    ...Array.from({ length: 500 }, (_, i): ResourceInputValue => ({ kind: 'BATCH_JOB', id: `job-h${i}`, organizationId: ORG, ownerId: 'bench' })),
  ];
  const hungKey = await prepare(hungPath, hungResources);
  const hungGateway = await gateway(hungPath);
  simulators.aitronos.pushFault({ hang: true, times: Infinity, path: '/v1/audio/transcribe/' });
  const hungStarted = performance.now();
  const hung = await post(hungGateway.url, hungKey, MANY, { targets: hungResources.map((r) => ({ kind: r.kind, id: r.id })) });
  const hungMs = performance.now() - hungStarted;
  simulators.aitronos.clearFaults();
  await stop(hungGateway.child);

  const table = {
    deletions: TOTAL,
    concurrency: CONCURRENCY,
    single: { seconds: +single.seconds.toFixed(2), perSecond: Math.round(single.perSecond), peakRssMb: Math.round(single.peakRssMb) },
    bulk: { callsOf: PER_CALL, seconds: +bulk.seconds.toFixed(2), perSecond: Math.round(bulk.perSecond), peakRssMb: Math.round(bulk.peakRssMb) },
    speedup: +(single.seconds / bulk.seconds).toFixed(2),
    hungProvider: { targets: 1000, atHungProvider: 500, answeredMs: Math.round(hungMs), boundMs: TIMEOUT_MS + 1000, deleted: hung.deleteResources.deleted },
  };
  console.log(JSON.stringify(table, null, 2));
} finally {
  await simulators.stop();
  rmSync(work, { recursive: true, force: true });
}
