// How long `gateway audit verify` / `auditTrailVerification` take on a large trail.
// Writes N chained events (default 1,000,000, over 10 organisations' logs) into a temporary database
// through the real migrations (triggers and indexes included) with one prepared statement in one
// transaction (bench/audit-log.ts), then times verifyAllLogs. Run: npx tsx bench/audit-verify.ts [N]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { verifyAllLogs } from '../src/audit/verify.ts';
import { openDatabase } from '../src/db/open.ts';
import type { SqliteDatabase } from '../src/db/sqlite/database.ts';
import { writeAuditLogs } from './audit-log.ts';

const total = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(total) || total < 1) throw new Error('usage: npx tsx bench/audit-verify.ts [EVENTS]');

const dir = mkdtempSync(join(tmpdir(), 'audit-verify-bench-'));
const dbPath = join(dir, 'audit.db');
try {
  const db = (await openDatabase({ path: dbPath })) as SqliteDatabase;
  const generated = performance.now();
  // The per-organisation logs the gateway keeps, as its appends build them: events, Merkle nodes, heads.
  writeAuditLogs(db, total, 10);
  const generatedMs = performance.now() - generated;
  await db.close();
  const sizeMb = statSync(dbPath).size / 1e6;

  const reopened = await openDatabase({ path: dbPath });
  // CPU time next to wall time: on a machine shared with other work, wall time mostly measures the others.
  const cpuMs = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  const runs: number[] = [];
  const cpuRuns: number[] = [];
  let checked = 0;
  for (let run = 0; run < 3; run += 1) {
    const began = performance.now();
    const cpuBegan = cpuMs();
    const results = await verifyAllLogs(reopened);
    runs.push(performance.now() - began);
    cpuRuns.push(cpuMs() - cpuBegan);
    const broken = [...results.values()].find((result) => !result.valid);
    if (broken) throw new Error(`generated logs do not verify: ${JSON.stringify(broken)}`);
    checked = [...results.values()].reduce((n, result) => n + result.eventsChecked, 0);
  }
  await reopened.close();
  const best = Math.min(...runs);
  console.log(
    JSON.stringify({
      events: total,
      generateMs: Math.round(generatedMs),
      dbMb: Math.round(sizeMb),
      verifyMs: runs.map(Math.round),
      verifyCpuMs: cpuRuns.map(Math.round),
      bestVerifyMs: Math.round(best),
      eventsPerSecond: Math.round((checked / best) * 1000),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
