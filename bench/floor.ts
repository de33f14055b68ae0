// The floor: a bare node:http handler that does what one delete minimally must — look up the row;
// one SQLite transaction (mark deleted, append the DELETED event to the organisation's log, insert
// the outbox row); one provider call over a keep-alive pool; one transaction recording the answer
// (read and settle the outbox row, append the outcome event); JSON reply. Appending an event is what
// the gateway's is: lock the log's head row, chain the hash after its head, insert the event at its
// index, store the Merkle subtrees it completes, move the head (the gateway's own pure functions
// compute the hashes and the frontier). No GraphQL, no authentication, no logging, no group commit.
// Run: node --import tsx bench/floor.ts DB_PATH AITRONOS_BASE_URL API_KEY  (prints the URL on stdout)
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { eventHash } from '../src/audit/chain.ts';
import { decodeFrontier, encodeFrontier, extendFrontier, leafHashOf } from '../src/audit/log.ts';

const [dbPath, baseUrl, apiKey] = process.argv.slice(2);
if (!dbPath || !baseUrl || !apiKey) throw new Error('usage: floor.ts DB_PATH AITRONOS_BASE_URL API_KEY');

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const find = db.prepare('SELECT kind, id, organization_id, deleted_at FROM resources WHERE kind = ? AND id = ?');
const mark = db.prepare('UPDATE resources SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE kind = ? AND id = ? AND deleted_at IS NULL');
const lockHead = db.prepare(`INSERT INTO audit_logs (log_id, size, head_hash, frontier, updated_at) VALUES (?, 0, NULL, '[]', ?)
  ON CONFLICT (log_id) DO UPDATE SET size = audit_logs.size RETURNING size, head_hash, frontier`);
const insertEvent = db.prepare(`INSERT INTO audit_events (log_id, log_index, id, at, actor, organization_id, action, resource_kind, resource_id,
  provider, outcome, request_id, trace_id, upstream_http_status, details, previous_hash, hash)
  VALUES (?, ?, ?, ?, 'floor', ?, ?, 'TRANSCRIPTION', ?, 'AITRONOS_AUDIO', ?, ?, ?, ?, NULL, ?, ?)`);
const insertNode = db.prepare('INSERT INTO audit_tree_nodes (log_id, level, node_index, hash) VALUES (?, ?, ?, ?)');
const moveHead = db.prepare('UPDATE audit_logs SET size = ?, head_hash = ?, frontier = ?, updated_at = ? WHERE log_id = ?');
const outbox = db.prepare(
  `INSERT INTO upstream_deletions (kind, resource_id, provider, organization_id, status, attempts, in_progress_attempts, next_attempt_at,
    lease_owner, lease_until, request_id, created_at, updated_at)
  VALUES ('TRANSCRIPTION', ?, 'AITRONOS_AUDIO', ?, 'PENDING', 1, 0, ?, ?, ?, ?, ?, ?)`,
);
const readOutbox = db.prepare("SELECT status, lease_owner FROM upstream_deletions WHERE kind = 'TRANSCRIPTION' AND resource_id = ?");
const settle = db.prepare(
  `UPDATE upstream_deletions SET status = ?, lease_owner = NULL, lease_until = NULL, last_http_status = ?, updated_at = ?, completed_at = ?
  WHERE kind = 'TRANSCRIPTION' AND resource_id = ?`,
);

function appendEvent(org: string, id: string, action: string, outcome: string, requestId: string, httpStatus: number | null, at: string): void {
  const head = lockHead.get(org, at) as { size: number; head_hash: string | null; frontier: string };
  const event = {
    id: `evt_${randomUUID()}`,
    at,
    actor: 'floor',
    organizationId: org,
    action,
    resourceKind: 'TRANSCRIPTION',
    resourceId: id,
    provider: 'AITRONOS_AUDIO',
    outcome,
    requestId,
    traceId: requestId,
    upstreamHttpStatus: httpStatus,
    details: null,
  };
  const hash = eventHash(head.head_hash, event);
  insertEvent.run(org, head.size, event.id, at, org, action, id, outcome, requestId, requestId, httpStatus, head.head_hash, hash);
  const { frontier, completed } = extendFrontier(decodeFrontier(head.frontier), head.size, leafHashOf(hash));
  for (const node of completed) insertNode.run(org, node.level, node.index, node.hash.toString('hex'));
  moveHead.run(head.size + 1, hash, encodeFrontier(frontier), at, org);
}

const commit = db.transaction((id: string, org: string, requestId: string, now: string, leaseUntil: string) => {
  if (mark.run(now, 'floor', now, 'TRANSCRIPTION', id).changes === 0) return false;
  appendEvent(org, id, 'transcription.delete', 'DELETED', requestId, null, now);
  outbox.run(id, org, now, requestId, leaseUntil, requestId, now, now);
  return true;
});

const record = db.transaction((id: string, org: string, requestId: string, status: string, httpStatus: number, now: string) => {
  const row = readOutbox.get(id) as { status: string; lease_owner: string | null } | undefined;
  if (row?.status !== 'PENDING' || row.lease_owner !== requestId) return;
  settle.run(status, httpStatus, now, status === 'DELETED' ? now : null, id);
  appendEvent(org, id, 'upstream.delete', status === 'DELETED' ? 'UPSTREAM_DELETED' : 'UPSTREAM_RETRY_SCHEDULED', requestId, httpStatus, now);
});

const base = new URL(baseUrl);
const pool = new Pool(base.origin, { connections: 64 });
let counter = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const { id } = JSON.parse(Buffer.concat(chunks).toString()) as { id: string };
      const row = find.get('TRANSCRIPTION', id) as { organization_id: string } | undefined;
      if (!row) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      const requestId = `req_${randomUUID()}`;
      const now = new Date();
      const fresh = commit(id, row.organization_id, requestId, now.toISOString(), new Date(now.getTime() + 30_000).toISOString());
      let status = 'ALREADY_DELETED';
      if (fresh) {
        const answer = await pool.request({
          path: `${base.pathname.replace(/\/$/, '')}/v1/audio/transcribe/${encodeURIComponent(id)}`,
          method: 'DELETE',
          headers: { authorization: `Bearer ${apiKey}` },
          headersTimeout: 5000,
          bodyTimeout: 5000,
        });
        const body = await answer.body.text();
        status = answer.statusCode === 200 && body.includes('"deleted":true') ? 'DELETED' : 'PENDING';
        record(id, row.organization_id, requestId, status, answer.statusCode, new Date().toISOString());
      }
      counter += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ deleted: true, id, upstream: status, n: counter }));
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  db.close();
  process.exit(0);
});
