// What every benchmark shares: child processes (simulators, floor, the compiled gateway as
// production runs it), prepared databases (SQLite file or a fresh PostgreSQL database), the load
// generator (autocannon, timed per response) and the serving process's memory read from /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { createKey } from '../src/auth/keys.ts';
import { generateSigningKeyPem } from '../src/audit/note.ts';
import { registerResources, type ResourceInputValue } from '../src/catalog/register.ts';
import type { DatabaseTarget } from '../src/config.ts';
import { openDatabase } from '../src/db/open.ts';
import { systemRuntime } from '../src/runtime.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ORG = 'org_bench';
export const CREDENTIALS = {
  AITRONOS_API_KEY: 'bench-aitronos-key',
  SCRIPTIX_API_KEY: 'bench-scriptix-key',
  DAILY_API_KEY: 'bench-daily-key',
  REVAI_ACCESS_TOKEN: 'bench-revai-token',
};

/** A temp directory for the run, with an audit signing key (production refuses to start without one). */
export const work = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
const signingKeyFile = join(work, 'audit-signing-key.pem');
writeFileSync(signingKeyFile, generateSigningKeyPem(), { mode: 0o600 });

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

/** One GraphQL operation with an API key; its data, or an error naming what the gateway answered. */
export async function post(url: string, key: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (body.errors) throw new Error(`request failed: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

/**
 * Runs `main`, then stops every child still running (SIGTERM, as an operator would, so a gateway
 * flushes what it writes at exit, e.g. a --cpu-prof profile; SIGKILL after 5 s) and removes what the
 * run made; exit code 1 on error.
 */
export async function benchmark(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await stop(child);
        clearTimeout(killer);
      }),
    );
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(error));
    rmSync(work, { recursive: true, force: true });
  }
}

/** The gateway runs what `npm start` runs: dist/, built from the sources as they are now. */
export function buildGateway(): void {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
}

/** A node process: TypeScript through tsx (simulators, floor), or compiled JavaScript as production runs it. */
export function node(args: string[], env: Record<string, string>, stdout: 'pipe' | 'ignore' = 'pipe', compiled = false): ChildProcess {
  const child = spawn(process.execPath, compiled ? args : ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  children.push(child);
  return child;
}

export async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) return line;
  throw new Error('child exited before printing');
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The simulators in a process of their own; their base URLs and a control function for faults and counts. */
export async function startSimulators() {
  const child = node(['src/simulators/cli.ts'], { ...CREDENTIALS, DAILY_CUSTOM_BUCKETS: 'bench-custom' });
  const urls = JSON.parse(await firstLine(child)) as Record<string, string>;
  const control = (path: string, method: string, body?: unknown) =>
    fetch(`${urls.aitronos}/__sim/${path}`, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  return { child, urls, control };
}

export function transcriptionIds(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `trans_${prefix}${i}`);
}

/** Aitronos transcriptions of the bench organisation, as the catalog registers them. */
export function transcriptions(ids: string[]): ResourceInputValue[] {
  return ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bench' }));
}

/** A migrated database with the given resources registered, and an admin key of the bench organisation. */
export async function prepareResources(target: DatabaseTarget, resources: ResourceInputValue[]): Promise<string> {
  const db = await openDatabase(target);
  const { key } = await createKey(db, systemRuntime, { organizationId: ORG, userId: 'bench', role: 'admin' });
  for (let i = 0; i < resources.length; i += 1000) {
    const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'bench', now: new Date() }, resources.slice(i, i + 1000));
    if ('__typename' in result) throw new Error(result.message);
  }
  await db.close();
  return key;
}

/** A migrated database with the given transcriptions registered, and an admin key. */
export function prepareDatabase(target: DatabaseTarget, ids: string[]): Promise<string> {
  return prepareResources(target, transcriptions(ids));
}

/**
 * A fresh, empty PostgreSQL database on the server of `serverUrl` (dropped when the run ends), as
 * a DATABASE_URL. The URL's password is never printed.
 */
export async function createPostgresDatabase(serverUrl: string, label: string): Promise<string> {
  const name = `gw_bench_${label}_${process.pid}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  cleanups.push(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

let port = 4600;
/** `gateway serve` (compiled, production) on a database, against the simulators; resolves once healthy. */
export async function startGateway(target: DatabaseTarget, simulatorUrls: Record<string, string>, extra: Record<string, string> = {}) {
  port += 1;
  const child = node(
    // Node flags for the gateway alone, e.g. "--max-semi-space-size=4" or "--cpu-prof --cpu-prof-dir=/tmp/prof".
    [...(process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter(Boolean), 'bin/gateway.mjs', 'serve'],
    {
      ...CREDENTIALS,
      NODE_ENV: 'production',
      SANDBOX: '0',
      PORT: String(port),
      ...('path' in target ? { DATABASE_PATH: target.path } : { DATABASE_URL: target.url }),
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
  for (let i = 0; i < 300 && child.exitCode === null; i += 1) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(child.exitCode !== null ? `the gateway exited at start (code ${child.exitCode}; its error is above)` : `${url} did not come up`);
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** Connection errors, timeouts and answers other than 200. */
  failures: number;
  seconds: number;
}

export interface LoadTarget {
  url: string;
  headers: Record<string, string>;
}

/**
 * Sends one request per id at a concurrency, spread over the targets (two instances behind a
 * balancer: connections split evenly); times and latencies are taken per response. `onProgress`
 * hears the number of answers so far.
 */
export async function load(targets: LoadTarget[], connections: number, body: (id: string) => string, idList: string[], onProgress?: (answered: number) => void): Promise<LoadResult> {
  let next = 0;
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  let finished = started;
  const share = (i: number, total: number) => Math.floor(total / targets.length) + (i < total % targets.length ? 1 : 0);
  const runs = targets.map(
    (target, i) =>
      new Promise<void>((resolve, reject) => {
        const instance = autocannon(
          {
            url: target.url,
            connections: share(i, connections),
            amount: share(i, idList.length),
            method: 'POST',
            headers: { 'content-type': 'application/json', ...target.headers },
            requests: [{ setupRequest: (request: Record<string, unknown>) => ({ ...request, body: body(idList[next++ % idList.length]!) }) }],
          },
          (error, result) => {
            if (error) reject(error);
            else {
              failures += result.errors + result.timeouts;
              resolve();
            }
          },
        );
        instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
          latencies.push(responseTime);
          if (statusCode !== 200) failures += 1;
          finished = performance.now();
          onProgress?.(latencies.length);
        });
      }),
  );
  await Promise.all(runs);
  // autocannon notices the end on its one-second tick: time the run by its last response instead.
  const seconds = (finished - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), failures, seconds };
}

/** Throws when any request of these runs failed: a comparison with failures in it means nothing. */
export function requireNoFailures(what: string, runs: LoadResult[]): void {
  const failed = runs.reduce((sum, r) => sum + r.failures, 0);
  if (failed > 0) throw new Error(`${failed} requests failed (${what}): the figures would be meaningless`);
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export const deleteTranscriptionBody = (id: string) =>
  JSON.stringify({
    query: 'mutation D($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on TranscriptionDeletion { deletedUpstream upstream { status } } } }',
    variables: { id },
    operationName: 'D',
  });

/** A process's memory from /proc in MiB: VmRSS now, or VmHWM (the peak so far); 0 once it is gone. */
export function rssMiB(pid: number | undefined, which: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${which}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);
