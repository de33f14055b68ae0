// `gateway audit verify` and `gateway audit export` as an operator runs them (child processes), and
// scripts/verify-audit-export.mjs, which recomputes every organisation's log from an export with
// nothing of ours: both agree on intact logs and name the same event once the file was tampered with.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvent, type AuditInput } from '../src/audit/append.ts';
import type { AuditEventRow } from '../src/audit/event.ts';
import { openDatabase } from '../src/db/open.ts';
import type { Runtime } from '../src/runtime.ts';
import { REPO_ROOT, runGateway, type CliResult } from './support/cli.ts';

const SCRIPT = join(REPO_ROOT, 'scripts/verify-audit-export.mjs');

let dir: string;
let dbPath: string;
let rows: AuditEventRow[];
let exported: string;
let verified: CliResult;

function event(i: number): AuditInput {
  const organizationId = i % 3 === 2 ? 'org_b' : 'org_a';
  const upstream = i % 2 === 1;
  return {
    actor: upstream ? 'system:worker' : `user:u${i % 4} key:key_${i % 4}`,
    organizationId,
    action: upstream ? 'upstream.delete' : 'transcription.delete',
    resourceKind: 'TRANSCRIPTION',
    resourceId: `trans_${i >> 1}`,
    provider: 'AITRONOS_AUDIO',
    outcome: upstream ? 'UPSTREAM_DELETED' : 'DELETED',
    requestId: `req_${i >> 1}`,
    traceId: `req_${i >> 1}`,
    upstreamHttpStatus: upstream ? 200 : null,
    // Keys out of order, nesting, non-ASCII and characters JSON escapes: the script must canonicalise as the gateway does.
    details: upstream ? { deleted_upstream: i % 4 === 1, attempt: 1, note: 'ü "ok" \\ \u2028' } : { z: [{ b: 2, a: 1 }], userId: `u${i % 4}`, amount: 1.5 },
  };
}

function script(input: string, ...args: string[]) {
  const run = spawnSync(process.execPath, [SCRIPT, ...args], { input, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const env = () => ({ DATABASE_PATH: dbPath, LOG_LEVEL: 'silent' });
const lines = (text: string) => text.split('\n').filter((line) => line.length > 0);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audit-export-'));
  dbPath = join(dir, 'gateway.db');
  const db = await openDatabase({ path: dbPath });
  let tick = 0;
  let ids = 0;
  const runtime: Runtime = {
    clock: { now: () => new Date(Date.parse('2026-03-02T14:00:00.000Z') + 60_000 * tick++) },
    newId: (prefix) => `${prefix}_${String(++ids).padStart(3, '0')}`,
    random: () => 0.5,
  };
  rows = [];
  for (let i = 0; i < 24; i += 1) rows.push(await db.write(() => appendEvent(runtime, event(i))));
  await db.close();
  const [run, verify] = await Promise.all([runGateway(['audit', 'export'], env()), runGateway(['audit', 'verify'], env())]);
  expect(run.code, run.stderr).toBe(0);
  exported = run.stdout;
  verified = verify;
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an intact trail', () => {
  it('verifies with the CLI and with the standalone script from its export, log by log', () => {
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('audit trail intact: 2 logs, 24 events checked');

    const events = lines(exported).map((line) => JSON.parse(line));
    expect(events.map((e) => e.id)).toEqual(rows.map((r) => r.id));
    expect(Object.keys(events[0])).toEqual([
      'logIndex', 'id', 'at', 'actor', 'organizationId', 'action', 'resourceKind', 'resourceId', 'provider', 'outcome',
      'requestId', 'traceId', 'upstreamHttpStatus', 'details', 'previousHash', 'hash',
    ]);
    const recomputed = script(exported);
    expect(recomputed.code).toBe(0);
    expect(recomputed.stdout).toContain('intact 24 events in 2 log(s)');
    expect(recomputed.stdout).toContain('org_a: 16 events, index 0 to 15, from the start of the log');
    expect(recomputed.stdout).toContain('org_b: 8 events, index 0 to 7, from the start of the log');
    expect(recomputed.stdout).toContain('whole logs');
  });

  it("exports one organisation's log, which the script proves whole, with nothing of the other's", async () => {
    const run = await runGateway(['audit', 'export', '--org', 'org_b'], env());
    expect(run.code, run.stderr).toBe(0);
    const events = lines(run.stdout).map((line) => JSON.parse(line));
    expect(events.map((e) => e.id)).toEqual(rows.filter((r) => r.organizationId === 'org_b').map((r) => r.id));
    const recomputed = script(run.stdout);
    expect(recomputed.code, recomputed.stdout).toBe(0);
    expect(recomputed.stdout).toContain('intact 8 events in 1 log(s)');
    expect(recomputed.stdout).not.toContain('org_a');
  });

  it('exports since a time; the script proves each log from where the export starts it, with --partial', async () => {
    const since = rows[6]!.at;
    const run = await runGateway(['audit', 'export', '--org', 'org_b', '--since', since], env());
    expect(run.code, run.stderr).toBe(0);
    const events = lines(run.stdout).map((line) => JSON.parse(line));
    const expected = rows.filter((r) => r.organizationId === 'org_b' && r.at >= since);
    expect(events.map((e) => e.id)).toEqual(expected.map((r) => r.id));

    // Not the start of the log: without --partial that is a failure, at the first event...
    const strict = script(run.stdout);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain(`BROKEN at event ${expected[0]!.id}`);
    expect(strict.stdout).toContain('--partial');
    // ...with --partial every event is checked, and the log must still be contiguous from there.
    const partial = script(run.stdout, '--partial');
    expect(partial.code).toBe(0);
    expect(partial.stdout).toContain(`intact ${expected.length} events`);
    expect(partial.stdout).toContain('the events before are not in this export');
  });
});

describe('a tampered export', () => {
  const edit = (index: number, change: (event: Record<string, unknown>) => void) =>
    lines(exported)
      .map((line, i) => {
        if (i !== index) return line;
        const event = JSON.parse(line);
        change(event);
        return JSON.stringify(event);
      })
      .join('\n');

  it.each([
    ['a changed field', () => edit(4, (e) => (e.actor = 'user:mallory key:key_x')), 4],
    ['changed details', () => edit(9, (e) => { const details = e.details as Record<string, unknown>; details.deleted_upstream = !details.deleted_upstream; }), 9],
    // Line 7 is org_a's; the next of org_a's events is line 9.
    ['a removed event', () => lines(exported).filter((_, i) => i !== 7).join('\n'), 9],
    ['two events swapped', () => { const all = lines(exported); [all[3], all[12]] = [all[12]!, all[3]!]; return all.join('\n'); }, 12],
  ])('is refused at the right event: %s', (_name, tampered, badIndex) => {
    const result = script(tampered());
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`BROKEN at event ${rows[badIndex]!.id}`);
  });

  it('reordered keys change nothing: the form is canonical', () => {
    const reverse = (value: Record<string, unknown>) => Object.fromEntries(Object.entries(value).reverse());
    const reordered = lines(exported)
      .map((line) => {
        const event = JSON.parse(line);
        return JSON.stringify(reverse({ ...event, details: event.details && reverse(event.details) }));
      })
      .join('\n');
    expect(reordered).not.toBe(exported.trim());
    expect(script(reordered).code).toBe(0);
  });
});

describe('a tampered database file', () => {
  it('is named at the same event by `gateway audit verify` and by the script over its export', async () => {
    const tamperedPath = join(dir, 'tampered.db');
    copyFileSync(dbPath, tamperedPath);
    const raw = new Database(tamperedPath);
    raw.exec('DROP TRIGGER audit_events_no_update');
    raw.prepare(`UPDATE audit_events SET details = '{"userId":"mallory"}' WHERE id = ?`).run(rows[10]!.id);
    raw.close();
    const tamperedEnv = { DATABASE_PATH: tamperedPath, LOG_LEVEL: 'silent' };

    const [verify, exportRun] = await Promise.all([runGateway(['audit', 'verify'], tamperedEnv), runGateway(['audit', 'export'], tamperedEnv)]);
    expect(verify.code).toBe(1);
    // rows[10] is org_a's 8th event (index 7).
    expect(verify.stdout).toContain(`log org_a: BROKEN at event ${rows[10]!.id} (8 events checked)`);
    expect(verify.stdout).toContain('audit trail BROKEN: 1 of 2 logs');
    expect(exportRun.code).toBe(0);
    const recomputed = script(exportRun.stdout);
    expect(recomputed.code).toBe(1);
    expect(recomputed.stdout).toContain(`BROKEN at event ${rows[10]!.id}`);
  });
});
