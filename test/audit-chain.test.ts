// The audit trail's hash chain on a real SQLite file through the real migrations: the canonical form
// it hashes, the append-only triggers, and tampering by someone with write access to the file (who
// drops the triggers first), each located at the event where the chain stops matching.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendAuditEvent, type AuditInput } from '../src/audit/append.ts';
import { canonicalJson, eventHash } from '../src/audit/chain.ts';
import { verifyAuditTrail, verifyAuditTrailInBackground } from '../src/audit/verify.ts';
import { closeDatabase, immediate, openDatabase, type Db } from '../src/db/open.ts';
import type { AuditEventRow } from '../src/db/schema.ts';
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

/** A file database holding the chain of EVENTS (12 events, seq 1–12). */
function chainFile(events: AuditInput[] = EVENTS): { path: string; rows: AuditEventRow[] } {
  const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
  dirs.push(dir);
  const path = join(dir, 'gateway.db');
  const db = openDatabase(path);
  const runtime = runtimeAt('2026-03-02T14:00:00.000Z');
  const rows = events.map((input) => immediate(db, () => appendAuditEvent(db, runtime, input)));
  closeDatabase(db);
  return { path, rows };
}

/** Opens the file as an attacker with write access would: raw SQLite, the guards dropped first. */
function tamper(path: string, statements: (raw: Database.Database) => void): void {
  const raw = new Database(path);
  raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP INDEX audit_events_chain_link;');
  statements(raw);
  raw.close();
}

function verifyFile(path: string) {
  const db = openDatabase(path);
  try {
    return verifyAuditTrail(db);
  } finally {
    closeDatabase(db);
  }
}

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

  it('stores times in one ISO-8601 UTC format with milliseconds, and details exactly as hashed', () => {
    const { path, rows } = chainFile();
    for (const row of rows) expect(row.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const raw = new Database(path, { readonly: true });
    const stored = raw.prepare('SELECT details FROM audit_events WHERE seq = 5').get() as { details: string };
    raw.close();
    // Keys in canonical order already, so the stored text is the hashed text.
    expect(stored.details).toBe(canonicalJson(JSON.parse(stored.details)));
    expect(JSON.parse(stored.details)).toEqual(EVENTS[4]!.details);
    expect(verifyFile(path)).toEqual({ valid: true, eventsChecked: 12, firstInvalidEventId: null, problem: null });
  });
});

describe('append-only', () => {
  it('refuses UPDATE and DELETE on audit_events in SQLite itself', () => {
    const { path } = chainFile();
    const raw = new Database(path);
    try {
      expect(() => raw.prepare("UPDATE audit_events SET outcome = 'DELETED' WHERE seq = 3").run()).toThrow(/append-only: UPDATE is not allowed/);
      expect(() => raw.prepare('DELETE FROM audit_events WHERE seq = 3').run()).toThrow(/append-only: DELETE is not allowed/);
      expect(() => raw.prepare('DELETE FROM audit_events').run()).toThrow(/append-only/);
      expect(raw.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual({ n: 12 });
    } finally {
      raw.close();
    }
  });

  it('refuses a second event that claims the same predecessor: the chain cannot fork', () => {
    const { path, rows } = chainFile();
    const raw = new Database(path);
    try {
      const fork = raw.prepare(
        "INSERT INTO audit_events (id, at, actor, action, outcome, previous_hash, hash) VALUES (?, '2026-03-02T15:00:00.000Z', 'x', 'x', 'DELETED', ?, ?)",
      );
      expect(() => fork.run('evt_fork', rows[4]!.hash, 'f'.repeat(64))).toThrow(/UNIQUE constraint failed/);
      expect(() => fork.run('evt_genesis2', null, 'f'.repeat(64))).toThrow(/UNIQUE constraint failed/);
    } finally {
      raw.close();
    }
  });
});

describe('tampering with the database file', () => {
  it('detects an edited field at that event', () => {
    const { path, rows } = chainFile();
    tamper(path, (raw) => raw.prepare("UPDATE audit_events SET outcome = 'DELETED' WHERE seq = 4").run());
    expect(verifyFile(path)).toMatchObject({ valid: false, eventsChecked: 4, firstInvalidEventId: rows[3]!.id, problem: expect.stringContaining('changed') });
  });

  it('detects edited details, and an edit whose own hash was recomputed, at the first event that no longer links', () => {
    const edited = chainFile();
    tamper(edited.path, (raw) => raw.prepare(`UPDATE audit_events SET details = '{"userId":"mallory"}' WHERE seq = 6`).run());
    expect(verifyFile(edited.path)).toMatchObject({ valid: false, firstInvalidEventId: edited.rows[5]!.id });

    const rehashed = chainFile();
    tamper(rehashed.path, (raw) => {
      const row = rehashed.rows[5]!;
      const forged = { ...row, actor: 'user:mallory key:key_9' };
      raw.prepare('UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 6').run(forged.actor, eventHash(row.previousHash, forged));
    });
    // The forged event is self-consistent, but the next one was chained to the original hash.
    expect(verifyFile(rehashed.path)).toMatchObject({ valid: false, eventsChecked: 7, firstInvalidEventId: rehashed.rows[6]!.id, problem: expect.stringContaining('previousHash') });
  });

  it('detects details that are not JSON any more at that event', () => {
    const { path, rows } = chainFile();
    tamper(path, (raw) => raw.prepare("UPDATE audit_events SET details = '{not json' WHERE seq = 2").run());
    expect(verifyFile(path)).toMatchObject({ valid: false, firstInvalidEventId: rows[1]!.id, problem: expect.stringContaining('not JSON') });
  });

  it('detects a deleted event at the event after it', () => {
    const { path, rows } = chainFile();
    tamper(path, (raw) => raw.prepare('DELETE FROM audit_events WHERE seq = 5').run());
    expect(verifyFile(path)).toMatchObject({ valid: false, eventsChecked: 5, firstInvalidEventId: rows[5]!.id, problem: expect.stringContaining('removed') });
  });

  it('detects the newest events deleted, which leave a chain that still links', () => {
    const { path, rows } = chainFile();
    tamper(path, (raw) => raw.prepare('DELETE FROM audit_events WHERE seq >= 11').run());
    const result = verifyFile(path);
    expect(result).toMatchObject({ valid: false, eventsChecked: 10, firstInvalidEventId: null });
    expect(result.problem).toContain(`after event ${rows[9]!.id} (seq 10), but events up to seq 12 were written`);
  });

  it('still walks the whole trail when the sequence was reset by hand', () => {
    const { path, rows } = chainFile();
    tamper(path, (raw) => {
      raw.prepare("UPDATE audit_events SET outcome = 'NOT_FOUND' WHERE seq = 12").run();
      raw.prepare("DELETE FROM sqlite_sequence WHERE name = 'audit_events'").run();
    });
    expect(verifyFile(path)).toMatchObject({ valid: false, eventsChecked: 12, firstInvalidEventId: rows[11]!.id });
  });

  it('detects an inserted event: a forged hash at the event, a well-forged one at the event after it', () => {
    const appended = chainFile();
    tamper(appended.path, (raw) =>
      raw
        .prepare("INSERT INTO audit_events (id, at, actor, action, outcome, previous_hash, hash) VALUES ('evt_forged', '2026-03-02T15:00:00.000Z', 'system:worker', 'upstream.delete', 'UPSTREAM_DELETED', ?, ?)")
        .run(appended.rows[11]!.hash, 'f'.repeat(64)),
    );
    expect(verifyFile(appended.path)).toMatchObject({ valid: false, eventsChecked: 13, firstInvalidEventId: 'evt_forged' });

    const inserted = chainFile();
    tamper(inserted.path, (raw) => {
      // Make room after seq 6 (two steps, so no two rows ever share a seq), then insert a row that
      // links to event 6 with a correct hash of its own.
      raw.prepare('UPDATE audit_events SET seq = -seq WHERE seq > 6').run();
      raw.prepare('UPDATE audit_events SET seq = 1 - seq WHERE seq < 0').run();
      const forged = { ...inserted.rows[6]!, id: 'evt_forged', seq: 7, outcome: 'UPSTREAM_DELETED' };
      raw
        .prepare(
          `INSERT INTO audit_events (seq, id, at, actor, organization_id, action, resource_kind, resource_id, provider, outcome, request_id, trace_id, upstream_http_status, details, previous_hash, hash)
           VALUES (@seq, @id, @at, @actor, @organizationId, @action, @resourceKind, @resourceId, @provider, @outcome, @requestId, @traceId, @upstreamHttpStatus, @details, @previousHash, @hash)`,
        )
        .run({ ...forged, details: JSON.stringify(forged.details), previousHash: inserted.rows[5]!.hash, hash: eventHash(inserted.rows[5]!.hash, forged) });
    });
    expect(verifyFile(inserted.path)).toMatchObject({ valid: false, eventsChecked: 8, firstInvalidEventId: inserted.rows[6]!.id, problem: expect.stringContaining('previousHash') });
  });

  it('detects two events swapped (their seq exchanged) at the first one out of place', () => {
    const far = chainFile();
    tamper(far.path, (raw) => {
      raw.prepare('UPDATE audit_events SET seq = -3 WHERE seq = 3').run();
      raw.prepare('UPDATE audit_events SET seq = 3 WHERE seq = 9').run();
      raw.prepare('UPDATE audit_events SET seq = 9 WHERE seq = -3').run();
    });
    expect(verifyFile(far.path)).toMatchObject({ valid: false, eventsChecked: 3, firstInvalidEventId: far.rows[8]!.id });

    const adjacent = chainFile();
    tamper(adjacent.path, (raw) => {
      raw.prepare('UPDATE audit_events SET seq = -5 WHERE seq = 5').run();
      raw.prepare('UPDATE audit_events SET seq = 5 WHERE seq = 6').run();
      raw.prepare('UPDATE audit_events SET seq = 6 WHERE seq = -5').run();
    });
    expect(verifyFile(adjacent.path)).toMatchObject({ valid: false, eventsChecked: 5, firstInvalidEventId: adjacent.rows[5]!.id });
  });

  it('finds a change past the first chunk of rows, and the background walk agrees with the direct one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
    dirs.push(dir);
    const path = join(dir, 'gateway.db');
    const db: Db = openDatabase(path);
    // Appended as the gateway appends, in one transaction; the clock and ids follow the row number.
    const ids: string[] = [];
    let row = 0;
    const runtime = {
      clock: { now: () => new Date(Date.parse('2026-03-02T14:00:00.000Z') + row) },
      newId: () => `evt_${row + 1}`,
      random: () => 0.5,
    };
    db.$client.transaction(() => {
      for (row = 0; row < 10_050; row += 1) ids.push(appendAuditEvent(db, runtime, EVENTS[row % EVENTS.length]!).id);
    })();
    expect(await verifyAuditTrailInBackground(db)).toEqual({ valid: true, eventsChecked: 10_050, firstInvalidEventId: null, problem: null });
    closeDatabase(db);
    tamper(path, (raw) => raw.prepare("UPDATE audit_events SET resource_id = 'other' WHERE seq = 10020").run());
    const reopened = openDatabase(path);
    try {
      const expected = { valid: false, eventsChecked: 10_020, firstInvalidEventId: ids[10_019] };
      expect(verifyAuditTrail(reopened)).toMatchObject(expected);
      expect(await verifyAuditTrailInBackground(reopened)).toMatchObject(expected);
    } finally {
      closeDatabase(reopened);
    }
  });
});
