// `npm run bench:streams`: what open subscription streams cost the serving process. A real
// `gateway serve` (NODE_ENV=production: yoga pings each stream every 12 s) in its own process, the
// simulators in another, the SSE clients here (fetch, reading every byte). Prints:
//   - CPU of the server idle with no stream, then with 1,000 idle open streams (same window);
//   - memory per open stream (RSS, and V8 heap in use at its lowest of a few samples, before and
//     after opening them);
//   - the delay from a recorded outcome (its audit event's time) to the event reaching its client,
//     over 100 deliveries while the 1,000 streams are open.
// BENCH_STREAMS (1000), BENCH_IDLE_SECONDS (24, two ping rounds) and BENCH_WINDOWS (3) scale it; BENCH_DATABASE_URL=postgres://… runs the
// server on PostgreSQL (an empty database) instead of a SQLite file. Results also go to
// bench/results/streams.json (git-ignored).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createKey } from '../src/auth/keys.ts';
import { registerResources } from '../src/catalog/register.ts';
import { openDatabase } from '../src/db/open.ts';
import { all, placeholders } from '../src/db/sql.ts';
import { systemRuntime } from '../src/runtime.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 24);
/** Idle windows per phase: the median is reported (a GC or a neighbour's load can land in any one). */
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? 3);
const DELIVERIES = 100;
// (The delivery delay is measured over the first 100 streams; BENCH_STREAMS below 100 is not supported.)
const PER_KEY = 100;
const ORG = 'org_bench';
const CREDENTIALS = {
  AITRONOS_API_KEY: 'bench-aitronos-key',
  SCRIPTIX_API_KEY: 'bench-scriptix-key',
  DAILY_API_KEY: 'bench-daily-key',
  REVAI_ACCESS_TOKEN: 'bench-revai-token',
};
const WATCH = `subscription($id: ID!) { upstreamDeletionChanged(kind: TRANSCRIPTION, id: $id) { status attempts completedAt } }`;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const work = mkdtempSync(join(tmpdir(), 'gateway-bench-streams-'));
const children: ChildProcess[] = [];

function node(args: string[], env: Record<string, string>, stdout: 'pipe' | 'ignore', nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** A metric of the server's /metrics (the first sample of that name). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

/** CPU seconds the process used in each of WINDOWS idle windows, sorted. */
async function idleWindows(pid: number): Promise<number[]> {
  const used: number[] = [];
  for (let i = 0; i < WINDOWS; i += 1) {
    const before = cpuSeconds(pid);
    await sleep(IDLE_SECONDS * 1000);
    used.push(cpuSeconds(pid) - before);
  }
  return used.sort((a, b) => a - b);
}

const median = (sorted: number[]) => (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2);

/** V8 heap in use, the least of a few samples over two seconds (nearest to after a collection). */
async function settledHeap(url: string): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 5; i += 1) {
    least = Math.min(least, await metric(url, 'nodejs_heap_size_used_bytes'));
    await sleep(400);
  }
  return least;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface OpenStream {
  id: string;
  /** Date.now() of each `next` event. */
  events: { at: number; status: string }[];
  done: Promise<void>;
  abort(): void;
}

function openStream(url: string, key: string, id: string): OpenStream {
  const controller = new AbortController();
  const events: OpenStream['events'] = [];
  const done = (async () => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: WATCH, variables: { id } }),
    });
    if (response.status !== 200) throw new Error(`stream refused: HTTP ${response.status} ${await response.text()}`);
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    let buffer = '';
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffer += decoder.decode(read.value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith('event: next\n')) continue;
        const payload = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { data?: { upstreamDeletionChanged: { status: string } } };
        events.push({ at: Date.now(), status: payload.data?.upstreamDeletionChanged.status ?? 'ERROR' });
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) throw error;
  });
  return { id, events, done, abort: () => controller.abort() };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  const simulators = node(['src/simulators/cli.ts'], CREDENTIALS, 'pipe');
  const simulatorUrls = JSON.parse(await new Promise<string>((resolveLine, reject) => {
    createInterface({ input: simulators.stdout! }).once('line', resolveLine);
    simulators.once('exit', () => reject(new Error('simulators exited')));
  })) as Record<string, string>;

  const databaseUrl = process.env.BENCH_DATABASE_URL;
  const target = databaseUrl ? { url: databaseUrl, poolSize: 10 } : { path: join(work, 'streams.db') };
  const ids = Array.from({ length: STREAMS }, (_, i) => `trans_stream${i}_${Date.now().toString(36)}`);
  const db = await openDatabase(target);
  const keys: string[] = [];
  for (let i = 0; i < Math.ceil(STREAMS / PER_KEY); i += 1) keys.push((await createKey(db, systemRuntime, { organizationId: ORG, userId: `frontend${i}`, role: 'viewer' })).key);
  const { key: admin } = await createKey(db, systemRuntime, { organizationId: ORG, userId: 'bench', role: 'admin' });
  const registered = await registerResources(
    db,
    systemRuntime,
    { operator: true },
    { traceId: 'bench', now: new Date() },
    ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bench' })),
  );
  if ('__typename' in registered) throw new Error(registered.message);

  const port = 4700 + Math.floor(Math.random() * 200);
  const url = `http://127.0.0.1:${port}`;
  const server = node(
    ['src/main.ts', 'serve'],
    {
      ...CREDENTIALS,
      NODE_ENV: 'production',
      SANDBOX: '0',
      PORT: String(port),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_PATH: join(work, 'streams.db') }),
      AITRONOS_BASE_URL: simulatorUrls.aitronos!,
      SCRIPTIX_BASE_URL: simulatorUrls.scriptix!,
      DAILY_BASE_URL: simulatorUrls.daily!,
      REVAI_BASE_URL: simulatorUrls.revai!,
      LOG_LEVEL: 'warn',
    },
    'ignore',
    // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the server's time goes.
    process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
  );
  const pid = server.pid!;
  await until(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok === true, 'the server to listen');

  // Warm up: every code path a stream takes, once, so the measurement is not JIT and first-load cost.
  const warm = Array.from({ length: 20 }, (_, i) => openStream(url, keys[0]!, ids[i]!));
  await until(async () => (await metric(url, 'gateway_subscription_streams')) === 20, 'warm-up streams');
  for (const stream of warm) stream.abort();
  await until(async () => (await metric(url, 'gateway_subscription_streams')) === 0, 'warm-up streams to close');
  await sleep(2_000);

  // Idle, no stream.
  const heapBefore = await settledHeap(url);
  const rssBefore = rssBytes(pid);
  const idleWindowsCpu = await idleWindows(pid);
  const idleCpu = median(idleWindowsCpu);

  // Open the streams (100 per key, the limit), wait until the server holds them all.
  const openedAt = Date.now();
  const cpuOpen = cpuSeconds(pid);
  const streams = ids.map((id, i) => openStream(url, keys[Math.floor(i / PER_KEY)]!, id));
  await until(async () => (await metric(url, 'gateway_subscription_streams')) === STREAMS, `${STREAMS} streams open`);
  const openSeconds = (Date.now() - openedAt) / 1000;
  const openCpu = cpuSeconds(pid) - cpuOpen;
  await sleep(2_000);
  const rssAfter = rssBytes(pid);
  const heapAfter = await settledHeap(url);

  // Idle, with the streams open: the same window, so the pings (every 12 s) fall inside it.
  const streamsWindowsCpu = await idleWindows(pid);
  const streamsCpu = median(streamsWindowsCpu);

  // Deliveries while every stream is open: delete 100 of them one after another.
  const delivered = streams.slice(0, DELIVERIES);
  for (const stream of delivered) {
    const answer = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: 'mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }', variables: { id: stream.id } }),
    });
    if (!answer.ok) throw new Error(`delete failed: HTTP ${answer.status}`);
  }
  await Promise.all(delivered.map((stream) => stream.done));
  const recorded = new Map(
    (
      await db.read(
        all<{ id: string; at: string }>(
          `SELECT resource_id AS id, at FROM audit_events WHERE outcome = 'UPSTREAM_DELETED' AND resource_id IN (${placeholders(DELIVERIES)})`,
          delivered.map((s) => s.id),
        ),
      )
    ).map((row) => [row.id, Date.parse(row.at)]),
  );
  const delays = delivered
    .map((stream) => {
      const last = stream.events.at(-1);
      if (last?.status !== 'DELETED') throw new Error(`stream ${stream.id} ended without DELETED`);
      return last.at - recorded.get(stream.id)!;
    })
    .sort((a, b) => a - b);

  for (const stream of streams) stream.abort();
  await until(async () => (await metric(url, 'gateway_subscription_streams')) === 0, 'every stream to close');
  await stop(server);
  await stop(simulators);
  await db.close();

  const perStreamRss = (rssAfter - rssBefore) / STREAMS;
  const perStreamHeap = (heapAfter - heapBefore) / STREAMS;
  const results = {
    backend: 'url' in target ? 'postgres' : 'sqlite',
    streams: STREAMS,
    idleSeconds: IDLE_SECONDS,
    cpu: {
      idleNoStreamsPercent: (idleCpu / IDLE_SECONDS) * 100,
      idleWithStreamsPercent: (streamsCpu / IDLE_SECONDS) * 100,
      idleNoStreamsSeconds: idleWindowsCpu,
      idleWithStreamsSeconds: streamsWindowsCpu,
    },
    memory: { rssBefore, rssAfter, heapBefore, heapAfter, perStreamRss, perStreamHeap },
    openSeconds,
    openCpuSeconds: openCpu,
    delivery: { n: delays.length, medianMs: (delays[49]! + delays[50]!) / 2, maxMs: delays.at(-1)!, minMs: delays[0]! },
  };
  console.log(`
Open subscription streams (${results.backend}, ${STREAMS} streams; CPU: median of ${WINDOWS} idle windows of ${IDLE_SECONDS} s)
  CPU, idle, no stream            ${idleCpu.toFixed(2)} s  (${results.cpu.idleNoStreamsPercent.toFixed(2)} % of a core)   windows ${idleWindowsCpu.map((v) => v.toFixed(2)).join(' ')}
  CPU, idle, ${STREAMS} streams open    ${streamsCpu.toFixed(2)} s  (${results.cpu.idleWithStreamsPercent.toFixed(2)} % of a core)   windows ${streamsWindowsCpu.map((v) => v.toFixed(2)).join(' ')}
  RSS                             ${mb(rssBefore)} → ${mb(rssAfter)}  (${kb(perStreamRss)} per stream)
  V8 heap used                    ${mb(heapBefore)} → ${mb(heapAfter)}  (${kb(perStreamHeap)} per stream)
  opening ${STREAMS} streams              ${openSeconds.toFixed(1)} s (server CPU ${openCpu.toFixed(2)} s)
  outcome → event, ${DELIVERIES} deliveries   median ${results.delivery.medianMs} ms, max ${results.delivery.maxMs} ms (with ${STREAMS} open)
`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/streams.json'), `${JSON.stringify(results, null, 2)}\n`);
}

try {
  await main();
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
