// The floor: a bare node:http handler that does what one delete minimally must — look up the row,
// one SQLite transaction (mark deleted, insert audit row, insert outbox row), one provider call over
// a keep-alive pool, record the answer, JSON reply. No GraphQL, no auth, no hash chain.
// Run: node --import tsx bench/floor.ts DB_PATH AITRONOS_BASE_URL API_KEY  (prints the URL on stdout)
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { Pool } from 'undici';

const [dbPath, baseUrl, apiKey] = process.argv.slice(2);
if (!dbPath || !baseUrl || !apiKey) throw new Error('usage: floor.ts DB_PATH AITRONOS_BASE_URL API_KEY');

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const find = db.prepare('SELECT kind, id, organization_id, deleted_at FROM resources WHERE kind = ? AND id = ?');
const mark = db.prepare('UPDATE resources SET deleted_at = ?, updated_at = ? WHERE kind = ? AND id = ? AND deleted_at IS NULL');
// The audit row is chained like the gateway's (read the last hash, hash the row after it): a
// tamper-evident trail is part of what one delete minimally must do here.
const lastHash = db.prepare('SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1').pluck();
const audit = db.prepare(
  "INSERT INTO audit_events (id, at, actor, organization_id, action, resource_kind, resource_id, outcome, previous_hash, hash) VALUES (?, ?, 'floor', ?, 'transcription.delete', 'TRANSCRIPTION', ?, 'DELETED', ?, ?)",
);
const outbox = db.prepare(
  "INSERT INTO upstream_deletions (kind, resource_id, provider, organization_id, status, attempts, created_at, updated_at) VALUES ('TRANSCRIPTION', ?, 'AITRONOS_AUDIO', ?, 'PENDING', 1, ?, ?)",
);
const record = db.prepare("UPDATE upstream_deletions SET status = ?, completed_at = ? WHERE kind = 'TRANSCRIPTION' AND resource_id = ?");
const commit = db.transaction((id: string, org: string, now: string) => {
  if (mark.run(now, now, 'TRANSCRIPTION', id).changes === 0) return false;
  const previous = (lastHash.get() as string | undefined) ?? null;
  const hash = createHash('sha256').update(`${previous ?? ''}\n${JSON.stringify([`evt_${id}`, now, org, id])}`).digest('hex');
  audit.run(`evt_${id}`, now, org, id, previous, hash);
  outbox.run(id, org, now, now);
  return true;
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
      const now = new Date().toISOString();
      const fresh = commit(id, row.organization_id, now);
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
        record.run(status, new Date().toISOString(), id);
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
