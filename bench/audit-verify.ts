// How long `gateway audit verify` / `auditTrailVerification` take on a large trail.
// Writes N chained events (default 1,000,000) into a temporary database through the real migrations
// (triggers and indexes included) with one prepared statement in one transaction, then times
// verifyAuditTrail. Run: npx tsx bench/audit-verify.ts [N]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { eventHash, type HashedEvent } from '../src/audit/chain.ts';
import { encodeFrontier, extendFrontier, leafHashOf, type LogHead } from '../src/audit/log.ts';
import { verifyAllLogs } from '../src/audit/verify.ts';
import { openDatabase } from '../src/db/open.ts';
import type { SqliteDatabase } from '../src/db/sqlite/database.ts';
import { AUDIT_OUTCOMES, KIND_ACTION, KIND_PROVIDERS, RESOURCE_KINDS } from '../src/domain.ts';

const total = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(total) || total < 1) throw new Error('usage: npx tsx bench/audit-verify.ts [EVENTS]');

const dir = mkdtempSync(join(tmpdir(), 'audit-verify-bench-'));
const dbPath = join(dir, 'audit.db');
try {
  const db = (await openDatabase({ path: dbPath })) as SqliteDatabase;
  const insert = db.client.prepare(
    `INSERT INTO audit_events (log_id, log_index, id, at, actor, organization_id, action, resource_kind, resource_id, provider, outcome,
       request_id, trace_id, upstream_http_status, details, previous_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertNode = db.client.prepare('INSERT INTO audit_tree_nodes (log_id, level, node_index, hash) VALUES (?, ?, ?, ?)');
  const insertHead = db.client.prepare('INSERT INTO audit_logs (log_id, size, head_hash, frontier, updated_at) VALUES (?, ?, ?, ?, ?)');
  const start = Date.parse('2026-01-01T00:00:00.000Z');
  const generated = performance.now();
  // The per-organisation logs the gateway keeps, as its appends build them: events, Merkle nodes, heads.
  db.client.transaction(() => {
    const heads = new Map<string, LogHead>();
    for (let i = 0; i < total; i += 1) {
      const kind = RESOURCE_KINDS[i % RESOURCE_KINDS.length]!;
      const upstream = i % 2 === 1;
      const outcome = upstream ? 'UPSTREAM_DELETED' : AUDIT_OUTCOMES[i % 5]!;
      // Events as the pipeline and the recorder write them: every one carries details.
      const details = upstream
        ? { attempt: 1 + (i % 3), reason: i % 7 === 0 ? 'ALREADY_ABSENT' : null, deleted_upstream: true }
        : { userId: `user${i % 97}`, deletedAt: new Date(start + i).toISOString(), upstreamStatus: 'DELETED' };
      const event: HashedEvent = {
        id: `evt_${i.toString(16).padStart(24, '0')}`,
        at: new Date(start + i * 10).toISOString(),
        actor: upstream ? 'system:worker' : `user:user${i % 97} key:key_${(i % 13).toString(16).padStart(24, '0')}`,
        organizationId: `org_${i % 10}`,
        action: upstream ? 'upstream.delete' : KIND_ACTION[kind],
        resourceKind: kind,
        resourceId: `res_${(i >> 1).toString(36)}`,
        provider: KIND_PROVIDERS[kind][0]!,
        outcome,
        requestId: `req_${(i >> 1).toString(16).padStart(24, '0')}`,
        traceId: `req_${(i >> 1).toString(16).padStart(24, '0')}`,
        upstreamHttpStatus: upstream ? 200 : null,
        details,
      };
      const logId = event.organizationId as string;
      const head = heads.get(logId) ?? { logId, size: 0, headHash: null, frontier: [] };
      const previousHash = head.headHash;
      const hash = eventHash(previousHash, event);
      insert.run(
        logId,
        head.size,
        event.id,
        event.at,
        event.actor,
        event.organizationId,
        event.action,
        event.resourceKind,
        event.resourceId,
        event.provider,
        event.outcome,
        event.requestId,
        event.traceId,
        event.upstreamHttpStatus,
        JSON.stringify(details),
        previousHash,
        hash,
      );
      const { frontier, completed } = extendFrontier(head.frontier, head.size, leafHashOf(hash));
      for (const node of completed) insertNode.run(logId, node.level, node.index, node.hash.toString('hex'));
      heads.set(logId, { logId, size: head.size + 1, headHash: hash, frontier });
    }
    for (const head of heads.values()) insertHead.run(head.logId, head.size, head.headHash, encodeFrontier(head.frontier), new Date().toISOString());
  })();
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
