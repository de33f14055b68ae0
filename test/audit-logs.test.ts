// The move from the first wave's single hash chain to per-organisation logs, on a real first-wave
// database: built with the first wave's own migrations (drizzle/sqlite 0000–0004) and chained as the
// first wave chained it, then opened by today's gateway, which splits it once. Every event is kept,
// each organisation's log verifies, and the old chain's state is recorded in a `_system` event —
// also when it had been tampered with, which the rewritten hashes must never hide.
import BetterSqlite3 from 'better-sqlite3';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, eventHash } from '../src/audit/chain.ts';
import { verifyAllLogs } from '../src/audit/verify.ts';
import { MIGRATIONS_ROOT } from '../src/db/migrations.ts';
import { openDatabase } from '../src/db/open.ts';
import { query } from './support/database.ts';

const FIRST_WAVE_MIGRATIONS = 5;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The first wave's migrations alone, in a folder of their own. */
function firstWaveMigrations(dir: string): string {
  const folder = join(dir, 'first-wave-migrations');
  mkdirSync(join(folder, 'meta'), { recursive: true });
  const source = resolve(MIGRATIONS_ROOT, 'sqlite');
  const journal = JSON.parse(readFileSync(join(source, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  journal.entries = journal.entries.slice(0, FIRST_WAVE_MIGRATIONS);
  writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
  for (const { tag } of journal.entries) copyFileSync(join(source, `${tag}.sql`), join(folder, `${tag}.sql`));
  return folder;
}

interface Legacy {
  id: string;
  organizationId: string | null;
  outcome: string;
  hash: string;
}

/** A first-wave database file: one chain over three organisations' events (and a system one). */
function firstWaveDatabase(events = 40): { path: string; chain: Legacy[] } {
  const dir = mkdtempSync(join(tmpdir(), 'first-wave-'));
  dirs.push(dir);
  const path = join(dir, 'gateway.db');
  const client = new BetterSqlite3(path);
  migrate(drizzle(client), { migrationsFolder: firstWaveMigrations(dir) });
  const insert = client.prepare(
    `INSERT INTO audit_events (id, at, actor, organization_id, action, resource_kind, resource_id, provider, outcome, request_id, trace_id, upstream_http_status, details, previous_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const chain: Legacy[] = [];
  let previous: string | null = null;
  for (let i = 0; i < events; i += 1) {
    const organizationId = i === 7 ? null : ['org_a', 'org_b', 'org_c'][i % 3]!;
    const upstream = i % 2 === 1;
    const event = {
      id: `legacy_${String(i).padStart(4, '0')}`,
      at: new Date(Date.parse('2026-01-02T10:00:00.000Z') + i * 1000).toISOString(),
      actor: upstream ? 'system:worker' : `user:u${i % 4} key:key_${i % 4}`,
      organizationId,
      action: upstream ? 'upstream.delete' : 'transcription.delete',
      resourceKind: 'TRANSCRIPTION',
      resourceId: `trans_${i >> 1}`,
      provider: 'AITRONOS_AUDIO',
      outcome: upstream ? 'UPSTREAM_DELETED' : 'DELETED',
      requestId: `req_${i >> 1}`,
      traceId: null,
      upstreamHttpStatus: upstream ? 200 : null,
      details: upstream ? { attempt: 1, deleted_upstream: true } : { userId: `u${i % 4}`, note: 'ü "q"' },
    };
    const hash = eventHash(previous, event);
    insert.run(event.id, event.at, event.actor, event.organizationId, event.action, event.resourceKind, event.resourceId, event.provider, event.outcome, event.requestId, event.traceId, event.upstreamHttpStatus, canonicalJson(event.details), previous, hash);
    chain.push({ id: event.id, organizationId, outcome: event.outcome, hash });
    previous = hash;
  }
  client.close();
  return { path, chain };
}

describe('opening a first-wave database', () => {
  it('moves every event into its organisation\'s log, keeps every field, and every log verifies', async () => {
    const { path, chain } = firstWaveDatabase();
    const before = new BetterSqlite3(path, { readonly: true });
    const fieldsBefore = before.prepare('SELECT id, at, actor, organization_id, action, resource_id, outcome, details FROM audit_events ORDER BY seq').all();
    before.close();

    const db = await openDatabase({ path });
    try {
      const events = await query<{ id: string; logId: string; logIndex: number; organizationId: string | null }>(
        db,
        'SELECT id, log_id AS "logId", log_index AS "logIndex", organization_id AS "organizationId" FROM audit_events ORDER BY seq',
      );
      const moved = events.filter((event) => event.id.startsWith('legacy_'));
      expect(moved.map((event) => event.id)).toEqual(chain.map((event) => event.id));
      for (const logId of ['org_a', 'org_b', 'org_c']) {
        const indexes = moved.filter((event) => event.logId === logId).map((event) => event.logIndex);
        expect(indexes).toEqual(indexes.map((_, i) => i));
      }
      expect(moved.find((event) => event.organizationId === null)).toMatchObject({ logId: '_system', logIndex: 0 });
      const fieldsAfter = await query(db, 'SELECT id, at, actor, organization_id, action, resource_id, outcome, details FROM audit_events WHERE id LIKE ? ORDER BY seq', ['legacy_%']);
      expect(fieldsAfter).toEqual(fieldsBefore);

      const results = await verifyAllLogs(db);
      expect([...results.keys()]).toEqual(['_system', 'org_a', 'org_b', 'org_c']);
      for (const result of results.values()) expect(result).toMatchObject({ valid: true, problem: null });
      expect(results.get('org_a')!.eventsChecked).toBe(chain.filter((event) => event.organizationId === 'org_a').length);

      const [split] = await query<{ details: string; logId: string }>(db, "SELECT details, log_id AS \"logId\" FROM audit_events WHERE outcome = 'AUDIT_LOGS_SPLIT'");
      expect(split!.logId).toBe('_system');
      expect(JSON.parse(split!.details)).toMatchObject({
        eventsMoved: chain.length,
        previousChain: { headHash: chain.at(-1)!.hash, events: chain.length, valid: true, firstInvalidEventId: null },
      });
    } finally {
      await db.close();
    }
    // Once: opening it again changes nothing.
    const again = await openDatabase({ path });
    try {
      expect(await query(again, "SELECT id FROM audit_events WHERE outcome = 'AUDIT_LOGS_SPLIT'")).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('records a first-wave chain that had been tampered with as invalid, naming the event, before re-linking it', async () => {
    const { path, chain } = firstWaveDatabase();
    const raw = new BetterSqlite3(path);
    raw.exec('DROP TRIGGER audit_events_no_update');
    raw.prepare("UPDATE audit_events SET outcome = 'NOT_FOUND' WHERE id = ?").run(chain[12]!.id);
    raw.close();
    const db = await openDatabase({ path });
    try {
      const [split] = await query<{ details: string }>(db, "SELECT details FROM audit_events WHERE outcome = 'AUDIT_LOGS_SPLIT'");
      expect(JSON.parse(split!.details).previousChain).toMatchObject({ valid: false, firstInvalidEventId: chain[12]!.id });
      // The append-only triggers are back after the split.
      await expect(query(db, "UPDATE audit_events SET outcome = 'DELETED' RETURNING id")).rejects.toThrow(/append-only/);
    } finally {
      await db.close();
    }
  });

  it('records the newest first-wave events removed, which the old chain alone could not show', async () => {
    const { path } = firstWaveDatabase();
    const raw = new BetterSqlite3(path);
    raw.exec('DROP TRIGGER audit_events_no_delete');
    raw.prepare('DELETE FROM audit_events WHERE seq > 35').run();
    raw.close();
    const db = await openDatabase({ path });
    try {
      const [split] = await query<{ details: string }>(db, "SELECT details FROM audit_events WHERE outcome = 'AUDIT_LOGS_SPLIT'");
      expect(JSON.parse(split!.details).previousChain).toMatchObject({ valid: false, removedFromEnd: expect.stringContaining('seq 40') });
    } finally {
      await db.close();
    }
  });
});
