// Per-organisation audit logs on a real SQLite file through the real migrations: the canonical form
// each event's hash covers, the append-only triggers, the logs kept apart, and tampering by someone
// with write access to the file (who drops the triggers and indexes first), each located at the
// event where the log stops matching. The first-wave migration into per-organisation logs is
// proven in test/audit-logs.test.ts.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendEvent, type AuditInput } from '../src/audit/append.ts';
import { canonicalJson, eventHash } from '../src/audit/chain.ts';
import type { AuditEventRow } from '../src/audit/event.ts';
import { verifyAllLogs, verifyLog, verifyLogInBackground } from '../src/audit/verify.ts';
import { openDatabase } from '../src/db/open.ts';
import type { Runtime } from '../src/runtime.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function runtimeAt(start: string): Runtime {
  let tick = 0;
  let ids = 0;
  return {
    clock: { now: () => new Date(Date.parse(start) + 1000 * tick++) },
    newId: (prefix) => `${prefix}_${String(++ids).padStart(4, '0')}`,
    random: () => 0.5,
  };
}

const EVENTS: AuditInput[] = [
  { actor: 'user:bob key:key_1', organizationId: 'org_a', action: 'transcription.delete', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_1', provider: 'AITRONOS_AUDIO', outcome: 'DELETED', requestId: 'req_1', traceId: 'req_1', details: { userId: 'bob' } },
  { actor: 'system:gateway', organizationId: 'org_a', action: 'upstream.delete', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_1', provider: 'AITRONOS_AUDIO', outcome: 'UPSTREAM_DELETED', requestId: 'req_1', upstreamHttpStatus: 200, details: { attempt: 1, deleted_upstream: true } },
  { actor: 'user:oscar key:key_2', organizationId: 'org_b', action: 'transcription.delete', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_1', outcome: 'NOT_FOUND', requestId: 'req_2', details: { arguments: { transcriptionId: 'trans_1' } } },
  { actor: 'user:victor key:key_3', organizationId: 'org_a', action: 'session.delete', resourceKind: 'SESSION', resourceId: 's1', provider: 'SCRIPTIX', outcome: 'PERMISSION_DENIED', details: { role: 'viewer' } },
  { actor: 'user:bob key:key_1', organizationId: 'org_a', action: 'track.delete', resourceKind: 'TRACK', outcome: 'VALIDATION_FAILED', details: { field: 'trackId', value: 'a/b', problem: 'ü "quoted" \\ \n' } },
  { actor: 'user:bob key:key_1', organizationId: 'org_a', action: 'session.delete', resourceKind: 'SESSION', resourceId: 's2', provider: 'SCRIPTIX', outcome: 'DELETED', details: { documentsDeleted: 2, commentsDeleted: 3 } },
  { actor: 'system:gateway', organizationId: 'org_a', action: 'upstream.delete', resourceKind: 'SESSION', resourceId: 's2', provider: 'SCRIPTIX', outcome: 'UPSTREAM_RETRY_SCHEDULED', upstreamHttpStatus: 503, details: { attempt: 1, reason: 'PROVIDER_UNAVAILABLE', nextAttemptAt: '2026-03-02T14:00:02.000Z' } },
  { actor: 'system:worker', organizationId: 'org_a', action: 'upstream.delete', resourceKind: 'SESSION', resourceId: 's2', provider: 'SCRIPTIX', outcome: 'UPSTREAM_FAILED', upstreamHttpStatus: 401, details: { attempt: 2, reason: 'UNAUTHORIZED' } },
  { actor: 'user:alice key:key_4', organizationId: 'org_a', action: 'upstream.requeue', resourceKind: 'SESSION', resourceId: 's2', provider: 'SCRIPTIX', outcome: 'UPSTREAM_REQUEUED', details: { userId: 'alice' } },
  { actor: 'system:worker', organizationId: 'org_a', action: 'upstream.delete', resourceKind: 'SESSION', resourceId: 's2', provider: 'SCRIPTIX', outcome: 'UPSTREAM_DELETED', upstreamHttpStatus: 204, details: null },
  { actor: 'user:bob key:key_1', organizationId: 'org_a', action: 'transcription.delete', resourceKind: 'TRANSCRIPTION', resourceId: 'trans_1', provider: 'AITRONOS_AUDIO', outcome: 'ALREADY_DELETED', details: { deletedAt: '2026-03-02T14:00:00.000Z', upstreamStatus: 'DELETED' } },
  { actor: 'user:carol key:key_5', organizationId: 'org_a', action: 'batch_job.delete', resourceKind: 'BATCH_JOB', resourceId: '8d3c1a52-7f1e-4a57-9d59-0a8f2c1e9b11', provider: 'DAILY', outcome: 'DELETED', details: { userId: 'carol' } },
];

/** A file database holding EVENTS: org_a's log of 11 events (A below, by log index) and org_b's of 1. */
async function chainFile(events: AuditInput[] = EVENTS): Promise<{ path: string; rows: AuditEventRow[]; a: AuditEventRow[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
  dirs.push(dir);
  const path = join(dir, 'gateway.db');
  const db = await openDatabase({ path });
  const runtime = runtimeAt('2026-03-02T14:00:00.000Z');
  const rows: AuditEventRow[] = [];
  for (const input of events) rows.push(await db.write(() => appendEvent(runtime, input)));
  await db.close();
  return { path, rows, a: rows.filter((row) => row.organizationId === 'org_a') };
}

/** Opens the file as an attacker with write access would: raw SQLite, the guards dropped first. */
function tamper(path: string, statements: (raw: Database.Database) => void): void {
  const raw = new Database(path);
  raw.exec(
    'DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP INDEX audit_events_log_link; DROP INDEX audit_events_log_index;',
  );
  statements(raw);
  raw.close();
}

async function verifyFile(path: string, logId = 'org_a') {
  const db = await openDatabase({ path });
  try {
    return await verifyLog(db, logId);
  } finally {
    await db.close();
  }
}

/** `WHERE` of org_a's event at a log index. */
const A = (index: number) => `log_id = 'org_a' AND log_index = ${index}`;

describe('the canonical form that is hashed', () => {
  it('sorts object keys by code unit at every depth, whatever the insertion order or locale', () => {
    const one = { b: 1, a: { é: true, Z: [3, { y: null, x: 'ü' }], a: 1, 10: 'ten', 9: 'nine' } };
    const two = { a: { 9: 'nine', 10: 'ten', a: 1, Z: [3, { x: 'ü', y: null }], é: true }, b: 1 };
    const expected = '{"a":{"10":"ten","9":"nine","Z":[3,{"x":"ü","y":null}],"a":1,"é":true},"b":1}';
    expect(canonicalJson(one)).toBe(expected);
    expect(canonicalJson(two)).toBe(expected);
    // A locale-aware sort would put "a" before "Z" and "é" next to "e"; the chain must not depend on it.
    expect(['é', 'Z', 'a'].sort((x, y) => x.localeCompare(y))).not.toEqual(['Z', 'a', 'é']);
    expect(canonicalJson({ u: undefined, list: [undefined, 1] })).toBe('{"list":[null,1]}');
  });

  it('is pinned: a known event hashes to the SHA-256 of the documented body', () => {
    const event = {
      id: 'evt_1',
      at: '2026-03-02T14:00:00.000Z',
      actor: 'user:bob key:key_1',
      organizationId: 'org_a',
      action: 'transcription.delete',
      resourceKind: 'TRANSCRIPTION',
      resourceId: 'trans_1',
      provider: 'AITRONOS_AUDIO',
      outcome: 'DELETED',
      requestId: 'req_1',
      traceId: null,
      upstreamHttpStatus: null,
      details: { userId: 'bob', commentsDeleted: 0 },
    };
    const body =
      '["evt_1","2026-03-02T14:00:00.000Z","user:bob key:key_1","org_a","transcription.delete","TRANSCRIPTION","trans_1","AITRONOS_AUDIO","DELETED","req_1",null,null,{"commentsDeleted":0,"userId":"bob"}]';
    const previous = 'ab'.repeat(32);
    expect(eventHash(previous, event)).toBe(createHash('sha256').update(`${previous}\n${body}`).digest('hex'));
    expect(eventHash(null, event)).toBe(createHash('sha256').update(`\n${body}`).digest('hex'));
    // Reordering the fields of the event object changes nothing; the fixed field order decides.
    const reversed = Object.fromEntries(Object.entries(event).reverse()) as typeof event;
    expect(eventHash(previous, reversed)).toBe(eventHash(previous, event));
  });

  it('stores times in one ISO-8601 UTC format with milliseconds, and details exactly as hashed', async () => {
    const { path, rows } = await chainFile();
    for (const row of rows) expect(row.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const raw = new Database(path, { readonly: true });
    const stored = raw.prepare('SELECT details FROM audit_events WHERE id = ?').get(rows[4]!.id) as { details: string };
    raw.close();
    // Keys in canonical order already, so the stored text is the hashed text.
    expect(stored.details).toBe(canonicalJson(JSON.parse(stored.details)));
    expect(JSON.parse(stored.details)).toEqual(EVENTS[4]!.details);
    expect(await verifyFile(path)).toEqual({ valid: true, eventsChecked: 11, firstInvalidEventId: null, problem: null, checkpointsChecked: 0 });
    expect(await verifyFile(path, 'org_b')).toEqual({ valid: true, eventsChecked: 1, firstInvalidEventId: null, problem: null, checkpointsChecked: 0 });
  });
});

describe('append-only', () => {
  it('refuses UPDATE and DELETE on audit_events and on the stored Merkle nodes, in SQLite itself', async () => {
    const { path } = await chainFile();
    const raw = new Database(path);
    try {
      expect(() => raw.prepare(`UPDATE audit_events SET outcome = 'DELETED' WHERE ${A(2)}`).run()).toThrow(/append-only: UPDATE is not allowed/);
      expect(() => raw.prepare(`DELETE FROM audit_events WHERE ${A(2)}`).run()).toThrow(/append-only: DELETE is not allowed/);
      expect(() => raw.prepare('DELETE FROM audit_events').run()).toThrow(/append-only/);
      expect(() => raw.prepare("UPDATE audit_tree_nodes SET hash = 'x'").run()).toThrow(/append-only: UPDATE is not allowed/);
      expect(() => raw.prepare('DELETE FROM audit_tree_nodes').run()).toThrow(/append-only: DELETE is not allowed/);
      expect(raw.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual({ n: 12 });
    } finally {
      raw.close();
    }
  });

  it('refuses a second event that claims the same predecessor or index in a log: a log cannot fork', async () => {
    const { path, a } = await chainFile();
    const raw = new Database(path);
    try {
      const fork = raw.prepare(
        "INSERT INTO audit_events (log_id, log_index, id, at, actor, action, outcome, previous_hash, hash) VALUES ('org_a', ?, ?, '2026-03-02T15:00:00.000Z', 'x', 'x', 'DELETED', ?, ?)",
      );
      expect(() => fork.run(99, 'evt_fork', a[4]!.hash, 'f'.repeat(64))).toThrow(/UNIQUE constraint failed/);
      expect(() => fork.run(98, 'evt_genesis2', null, 'f'.repeat(64))).toThrow(/UNIQUE constraint failed/);
      expect(() => fork.run(5, 'evt_same_index', 'e'.repeat(64), 'f'.repeat(64))).toThrow(/UNIQUE constraint failed/);
      // Another organisation's log has a genesis of its own.
      expect(raw.prepare("SELECT count(*) AS n FROM audit_events WHERE previous_hash IS NULL").get()).toEqual({ n: 2 });
    } finally {
      raw.close();
    }
  });
});

describe('logs of different organisations', () => {
  it('number each log from 0 and chain it on its own', async () => {
    const { rows } = await chainFile();
    const b = rows.filter((row) => row.organizationId === 'org_b');
    expect(b.map((row) => [row.logId, row.logIndex, row.previousHash])).toEqual([['org_b', 0, null]]);
    const a = rows.filter((row) => row.organizationId === 'org_a');
    expect(a.map((row) => row.logIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < a.length; i += 1) expect(a[i]!.previousHash).toBe(a[i - 1]!.hash);
  });

  it("stays valid when another organisation's log was tampered with", async () => {
    const { path } = await chainFile();
    tamper(path, (raw) => raw.prepare(`UPDATE audit_events SET outcome = 'DELETED' WHERE ${A(2)}`).run());
    expect(await verifyFile(path, 'org_b')).toMatchObject({ valid: true, eventsChecked: 1 });
    expect(await verifyFile(path, 'org_a')).toMatchObject({ valid: false });
  });
});

describe('tampering with the database file', () => {
  it('detects an edited field at that event', async () => {
    const { path, a } = await chainFile();
    tamper(path, (raw) => raw.prepare(`UPDATE audit_events SET outcome = 'DELETED' WHERE ${A(2)}`).run());
    expect(await verifyFile(path)).toMatchObject({ valid: false, eventsChecked: 3, firstInvalidEventId: a[2]!.id, problem: expect.stringContaining('changed') });
  });

  it('detects edited details, and an edit whose own hash was recomputed, at the first event that no longer links', async () => {
    const edited = await chainFile();
    tamper(edited.path, (raw) => raw.prepare(`UPDATE audit_events SET details = '{"userId":"mallory"}' WHERE ${A(5)}`).run());
    expect(await verifyFile(edited.path)).toMatchObject({ valid: false, firstInvalidEventId: edited.a[5]!.id });

    const rehashed = await chainFile();
    tamper(rehashed.path, (raw) => {
      const row = rehashed.a[5]!;
      const forged = { ...row, actor: 'user:mallory key:key_9' };
      raw.prepare(`UPDATE audit_events SET actor = ?, hash = ? WHERE ${A(5)}`).run(forged.actor, eventHash(row.previousHash, forged));
    });
    // The forged event is self-consistent, but the next one was chained to the original hash.
    expect(await verifyFile(rehashed.path)).toMatchObject({ valid: false, eventsChecked: 7, firstInvalidEventId: rehashed.a[6]!.id, problem: expect.stringContaining('previousHash') });
  });

  it('detects details that are not JSON any more at that event', async () => {
    const { path, a } = await chainFile();
    tamper(path, (raw) => raw.prepare(`UPDATE audit_events SET details = '{not json' WHERE ${A(1)}`).run());
    expect(await verifyFile(path)).toMatchObject({ valid: false, firstInvalidEventId: a[1]!.id, problem: expect.stringContaining('not JSON') });
  });

  it('detects a deleted event at the event after it', async () => {
    const { path, a } = await chainFile();
    tamper(path, (raw) => raw.prepare(`DELETE FROM audit_events WHERE ${A(4)}`).run());
    expect(await verifyFile(path)).toMatchObject({ valid: false, eventsChecked: 5, firstInvalidEventId: a[5]!.id, problem: expect.stringContaining('index 4 is missing') });
  });

  it('detects the newest events deleted, which leave a log that still links, against its head', async () => {
    const { path } = await chainFile();
    tamper(path, (raw) => raw.prepare("DELETE FROM audit_events WHERE log_id = 'org_a' AND log_index >= 9").run());
    const result = await verifyFile(path);
    expect(result).toMatchObject({ valid: false, eventsChecked: 9, firstInvalidEventId: null });
    expect(result.problem).toContain('removed from the end of the log: it ends at index 8, but its head records 11 events');
  });

  it("detects a head that no longer matches its log, and a log whose head was removed", async () => {
    const moved = await chainFile();
    tamper(moved.path, (raw) => raw.prepare("UPDATE audit_logs SET head_hash = ? WHERE log_id = 'org_a'").run('0'.repeat(64)));
    expect(await verifyFile(moved.path)).toMatchObject({ valid: false, problem: expect.stringContaining("head does not match") });

    const removed = await chainFile();
    tamper(removed.path, (raw) => raw.prepare("DELETE FROM audit_logs WHERE log_id = 'org_a'").run());
    const db = await openDatabase({ path: removed.path });
    try {
      const results = await verifyAllLogs(db);
      expect(results.get('org_a')).toMatchObject({ valid: false, problem: expect.stringContaining('head was removed') });
      expect(results.get('org_b')).toMatchObject({ valid: true });
    } finally {
      await db.close();
    }
  });

  it('detects a changed or removed Merkle node stored with the log', async () => {
    const changed = await chainFile();
    tamper(changed.path, (raw) => {
      raw.exec('DROP TRIGGER audit_tree_nodes_no_update; DROP TRIGGER audit_tree_nodes_no_delete;');
      raw.prepare("UPDATE audit_tree_nodes SET hash = ? WHERE log_id = 'org_a' AND level = 2 AND node_index = 1").run('0'.repeat(64));
    });
    expect(await verifyFile(changed.path)).toMatchObject({ valid: false, problem: expect.stringContaining('node 2/1 was changed') });

    const removed = await chainFile();
    tamper(removed.path, (raw) => {
      raw.exec('DROP TRIGGER audit_tree_nodes_no_update; DROP TRIGGER audit_tree_nodes_no_delete;');
      raw.prepare("DELETE FROM audit_tree_nodes WHERE log_id = 'org_a' AND level = 1 AND node_index = 0").run();
    });
    expect(await verifyFile(removed.path)).toMatchObject({ valid: false, problem: expect.stringContaining('node 1/0 is missing') });
  });

  it('detects an inserted event: one past the head, and a well-forged one in the middle at the event after it', async () => {
    const appended = await chainFile();
    tamper(appended.path, (raw) =>
      raw
        .prepare(
          "INSERT INTO audit_events (log_id, log_index, id, at, actor, action, outcome, previous_hash, hash) VALUES ('org_a', 11, 'evt_forged', '2026-03-02T15:00:00.000Z', 'system:worker', 'upstream.delete', 'UPSTREAM_DELETED', ?, ?)",
        )
        .run(appended.a[10]!.hash, 'f'.repeat(64)),
    );
    expect(await verifyFile(appended.path)).toMatchObject({ valid: false, firstInvalidEventId: 'evt_forged', problem: expect.stringContaining("past the log's head") });

    const inserted = await chainFile();
    tamper(inserted.path, (raw) => {
      // Make room after index 5 (two steps, so no two rows ever share an index), then insert a row
      // that links to event 5 with a correct hash of its own.
      raw.prepare("UPDATE audit_events SET log_index = -log_index WHERE log_id = 'org_a' AND log_index > 5").run();
      raw.prepare("UPDATE audit_events SET log_index = 1 - log_index WHERE log_id = 'org_a' AND log_index < 0").run();
      const forged = { ...inserted.a[6]!, id: 'evt_forged', outcome: 'UPSTREAM_DELETED' };
      raw
        .prepare(
          `INSERT INTO audit_events (log_id, log_index, id, at, actor, organization_id, action, resource_kind, resource_id, provider, outcome, request_id, trace_id, upstream_http_status, details, previous_hash, hash)
           VALUES ('org_a', 6, @id, @at, @actor, @organizationId, @action, @resourceKind, @resourceId, @provider, @outcome, @requestId, @traceId, @upstreamHttpStatus, @details, @previousHash, @hash)`,
        )
        .run({ ...forged, seq: undefined, logId: undefined, logIndex: undefined, details: JSON.stringify(forged.details), previousHash: inserted.a[5]!.hash, hash: eventHash(inserted.a[5]!.hash, forged) });
    });
    expect(await verifyFile(inserted.path)).toMatchObject({ valid: false, eventsChecked: 8, firstInvalidEventId: inserted.a[6]!.id, problem: expect.stringContaining('previousHash') });
  });

  it('detects two events swapped (their indexes exchanged) at the first one out of place', async () => {
    const far = await chainFile();
    tamper(far.path, (raw) => {
      raw.prepare(`UPDATE audit_events SET log_index = -2 WHERE ${A(2)}`).run();
      raw.prepare(`UPDATE audit_events SET log_index = 2 WHERE ${A(8)}`).run();
      raw.prepare("UPDATE audit_events SET log_index = 8 WHERE log_id = 'org_a' AND log_index = -2").run();
    });
    expect(await verifyFile(far.path)).toMatchObject({ valid: false, eventsChecked: 3, firstInvalidEventId: far.a[8]!.id });

    const adjacent = await chainFile();
    tamper(adjacent.path, (raw) => {
      raw.prepare(`UPDATE audit_events SET log_index = -4 WHERE ${A(4)}`).run();
      raw.prepare(`UPDATE audit_events SET log_index = 4 WHERE ${A(5)}`).run();
      raw.prepare("UPDATE audit_events SET log_index = 5 WHERE log_id = 'org_a' AND log_index = -4").run();
    });
    expect(await verifyFile(adjacent.path)).toMatchObject({ valid: false, eventsChecked: 5, firstInvalidEventId: adjacent.a[5]!.id });
  });

  it('finds a change past the first chunk of rows, and the background walk agrees with the direct one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
    dirs.push(dir);
    const path = join(dir, 'gateway.db');
    const db = await openDatabase({ path });
    // Appended as the gateway appends; the clock and ids follow the row number.
    const ids: string[] = [];
    let row = 0;
    const runtime = {
      clock: { now: () => new Date(Date.parse('2026-03-02T14:00:00.000Z') + row) },
      newId: () => `evt_${row + 1}`,
      random: () => 0.5,
    };
    const appends: Promise<AuditEventRow>[] = [];
    for (row = 0; row < 10_050; row += 1) {
      const input = { ...EVENTS[row % EVENTS.length]!, organizationId: 'org_a' };
      const id = runtime.newId();
      ids.push(id);
      appends.push(db.write(() => appendEvent({ ...runtime, newId: () => id }, input)));
    }
    await Promise.all(appends);
    expect(await verifyLogInBackground(db, 'org_a')).toEqual({ valid: true, eventsChecked: 10_050, firstInvalidEventId: null, problem: null, checkpointsChecked: 0 });
    await db.close();
    tamper(path, (raw) => raw.prepare(`UPDATE audit_events SET resource_id = 'other' WHERE ${A(10_019)}`).run());
    const reopened = await openDatabase({ path });
    try {
      const expected = { valid: false, eventsChecked: 10_020, firstInvalidEventId: ids[10_019] };
      expect(await verifyLog(reopened, 'org_a')).toMatchObject(expected);
      expect(await verifyLogInBackground(reopened, 'org_a')).toMatchObject(expected);
    } finally {
      await reopened.close();
    }
  });
});
