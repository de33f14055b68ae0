// An erasure delivered by the real `gateway serve` in a child process, killed with SIGKILL while the
// worker is delivering it, restarted: it completes, each provider resource deleted once, audited
// complete once, and its receipt verifies. And the operator's `gateway erasure` commands.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.ts';
import { registerResources, type ResourceInputValue } from '../src/catalog/register.ts';
import { openDatabase, type Database } from '../src/db/open.ts';
import { systemRuntime } from '../src/runtime.ts';
import { startSimulators, type Simulators } from '../src/simulators/launcher.ts';
import { childEnv, killLeftovers, runCli, startChildGateway, until } from './support/child.ts';
import { createTestDatabase, query, type TestDatabase } from './support/database.ts';
import { CUSTOM_BUCKET, ORG, TEST_CREDENTIALS } from './support/harness.ts';

const PER_KIND = 150;

let simulators: Simulators;
let database: TestDatabase;
let db: Database;
let apiKey: string;
let scratch: string;

beforeAll(async () => {
  simulators = await startSimulators({ credentials: TEST_CREDENTIALS, dailyCustomBucket: CUSTOM_BUCKET });
  database = await createTestDatabase();
  db = await openDatabase(database.target);
  apiKey = (await createKey(db, systemRuntime, { organizationId: ORG, userId: 'alice', role: 'admin' })).key;
  scratch = mkdtempSync(join(tmpdir(), 'erasure-crash-'));
});

afterAll(async () => {
  killLeftovers();
  await db?.close();
  await simulators?.stop();
  await database?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const env = () => childEnv(database.env, simulators);

async function register(inputs: ResourceInputValue[]) {
  for (let i = 0; i < inputs.length; i += 1000) {
    const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'erasure-crash', now: new Date() }, inputs.slice(i, i + 1000));
    if ('__typename' in result) throw new Error(result.message);
  }
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql, params);
  return Number(row!.n);
}

const ITEMS_DELETED = `SELECT COUNT(*) AS n FROM erasure_items i JOIN upstream_deletions u ON u.kind = i.carrier_kind AND u.resource_id = i.carrier_id
  WHERE i.request_id = ? AND u.status = 'DELETED'`;

function verifyReceipt(text: string, key: string) {
  const file = join(scratch, 'receipt.json');
  writeFileSync(file, text);
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['scripts/verify-receipt.mjs', file, '--key', key], { timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('an erasure whose gateway is killed while delivering it', () => {
  it('completes after a restart: every item deleted, each provider resource called to success once, ERASURE_COMPLETED once, a receipt that verifies', async () => {
    const inputs: ResourceInputValue[] = [];
    for (let i = 0; i < PER_KIND; i += 1) {
      inputs.push({ kind: 'TRANSCRIPTION', id: `trans_kill${i}`, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'killsam' });
      inputs.push({ kind: 'SESSION', id: `skill${i}`, organizationId: ORG, ownerId: 'killsam' });
      inputs.push({ kind: 'BATCH_JOB', id: `job-kill${i}`, organizationId: ORG, ownerId: 'killsam' });
    }
    await register(inputs);
    // Slow providers, so the kill lands while the worker is delivering.
    for (const simulator of [simulators.aitronos, simulators.scriptix, simulators.daily]) simulator.pushFault({ latencyMs: 150, times: Number.POSITIVE_INFINITY });

    const first = await startChildGateway(env());
    const response = await fetch(`${first.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query: 'mutation { eraseSubject(input: { subjectId: "killsam" }) { __typename ... on ErasureRequest { id status totals { resources } } } }' }),
    });
    const answer = ((await response.json()) as { data: { eraseSubject: { id: string; status: string; totals: { resources: number } } } }).data.eraseSubject;
    expect(answer).toMatchObject({ status: 'RUNNING', totals: { resources: 3 * PER_KIND } });
    const id = answer.id;

    await until(async () => (await count(ITEMS_DELETED, [id])) >= 30, 30_000, 'delivery under way');
    first.child.kill('SIGKILL');
    await first.exited;
    const deletedAtKill = await count(ITEMS_DELETED, [id]);
    expect(deletedAtKill).toBeLessThan(3 * PER_KIND);
    expect(await count("SELECT COUNT(*) AS n FROM audit_events WHERE outcome = 'ERASURE_COMPLETED' AND resource_id = ?", [id])).toBe(0);

    for (const simulator of [simulators.aitronos, simulators.scriptix, simulators.daily]) simulator.clearFaults();
    const second = await startChildGateway(env());
    try {
      await until(async () => (await count('SELECT COUNT(*) AS n FROM erasure_requests WHERE id = ? AND completed_at IS NOT NULL', [id])) === 1, 60_000, 'the erasure completed');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    expect(await count(ITEMS_DELETED, [id])).toBe(3 * PER_KIND);
    expect(await count("SELECT COUNT(*) AS n FROM audit_events WHERE outcome = 'ERASURE_COMPLETED' AND resource_id = ?", [id])).toBe(1);
    // At most one successful provider call per resource (a call cut off by the kill is re-delivered
    // and answered "already gone", which is no second deletion).
    for (const simulator of [simulators.aitronos, simulators.scriptix, simulators.daily]) {
      const successes = [...simulator.successfulDeletes().values()];
      expect(successes.length).toBe(PER_KIND);
      expect(successes.every((n) => n === 1)).toBe(true);
    }

    const status = await runCli(['erasure', 'status', id], env());
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'COMPLETED', totals: { resources: 3 * PER_KIND, deleted: 3 * PER_KIND, pending: 0 } });
    const receipt = await runCli(['erasure', 'receipt', id], env());
    expect(receipt.code, receipt.stderr).toBe(0);
    const key = (await runCli(['audit', 'public-key'], env())).stdout.trim().split('\n').at(-1)!;
    const verified = await verifyReceipt(receipt.stdout, key);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`${3 * PER_KIND} item(s) confirmed deleted by their providers (AITRONOS_AUDIO, DAILY, SCRIPTIX)`);
  }, 180_000);
});

describe('gateway erasure', () => {
  it('requests an erasure and prints its id on the last line; status and receipt follow it', async () => {
    await register([{ kind: 'TRACK', id: 'mtrack_cli1', organizationId: ORG, ownerId: 'clisam' }]);
    const requested = await runCli(['erasure', 'request', '--org', ORG, '--subject', 'clisam', '--reason', 'ticket 9'], env());
    expect(requested.code, requested.stderr).toBe(0);
    const id = requested.stdout.trim().split('\n').at(-1)!;
    expect(id).toMatch(/^era_/);
    const [row] = await query<{ requestedBy: string; reason: string }>(db, 'SELECT requested_by AS "requestedBy", reason FROM erasure_requests WHERE id = ?', [id]);
    expect(row).toEqual({ requestedBy: 'user:operator key:cli', reason: 'ticket 9' });
    // Nobody delivered it yet: running, and no receipt.
    expect(JSON.parse((await runCli(['erasure', 'status', id], env())).stdout)).toMatchObject({ status: 'RUNNING', totals: { resources: 1, pending: 1 } });
    const early = await runCli(['erasure', 'receipt', id], env());
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('still RUNNING');
  });

  it('explains bad arguments', async () => {
    const missing = await runCli(['erasure', 'request', '--org', ORG], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('erasure request is missing --subject');
    const badSubject = await runCli(['erasure', 'request', '--org', ORG, '--subject', 'has space'], env());
    expect(badSubject.code).toBe(1);
    expect(badSubject.stderr).toContain('(--subject)');
    const longReason = await runCli(['erasure', 'request', '--org', ORG, '--subject', 'x', '--reason', 'r'.repeat(501)], env());
    expect(longReason.code).toBe(1);
    expect(longReason.stderr).toContain('(--reason)');
    expect((await runCli(['erasure', 'status'], env())).code).toBe(2);
    const unknown = await runCli(['erasure', 'receipt', 'era_nope'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no erasure request era_nope');
    expect((await runCli(['erasure', 'frobnicate'], env())).stderr).toContain('erasure needs request, status or receipt');
    // Nothing was written by any of them.
    expect(await count("SELECT COUNT(*) AS n FROM erasure_requests WHERE subject_id IN ('x', 'has space')")).toBe(0);
  });
});
