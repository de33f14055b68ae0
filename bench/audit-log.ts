// A large audit trail, written fast for the audit benchmarks: N chained events with their Merkle
// nodes and log heads, as the gateway's appends build them (the same hashes, the same stored-node
// model), but with one prepared statement each in one transaction instead of one append per request.
import { eventHash, type HashedEvent } from '../src/audit/chain.ts';
import { encodeFrontier, extendFrontier, leafHashOf, type LogHead } from '../src/audit/log.ts';
import type { SqliteDatabase } from '../src/db/sqlite/database.ts';
import { AUDIT_OUTCOMES, KIND_ACTION, KIND_PROVIDERS, RESOURCE_KINDS } from '../src/domain.ts';

/** Writes `total` events spread over `organizations` logs (`org_0` …) into a migrated SQLite database. */
export function writeAuditLogs(db: SqliteDatabase, total: number, organizations: number): void {
  const insert = db.client.prepare(
    `INSERT INTO audit_events (log_id, log_index, id, at, actor, organization_id, action, resource_kind, resource_id, provider, outcome,
       request_id, trace_id, upstream_http_status, details, previous_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertNode = db.client.prepare('INSERT INTO audit_tree_nodes (log_id, level, node_index, hash) VALUES (?, ?, ?, ?)');
  const insertHead = db.client.prepare('INSERT INTO audit_logs (log_id, size, head_hash, frontier, updated_at) VALUES (?, ?, ?, ?, ?)');
  const start = Date.parse('2026-01-01T00:00:00.000Z');
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
        organizationId: `org_${i % organizations}`,
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
}
