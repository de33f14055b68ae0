// The database a test runs on: a fresh SQLite file, or — when the suite runs on PostgreSQL
// (TEST_BACKEND=postgres with TEST_DATABASE_URL, see vitest.config.ts) — a fresh database created on
// that server for the test and dropped after it. Real migrations either way; nothing is mocked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseTarget } from '../../src/config.ts';
import type { Database } from '../../src/db/database.ts';
import { all, run } from '../../src/db/sql.ts';

export type Backend = 'sqlite' | 'postgres';

/** Which backend this run of the suite tests. */
export const BACKEND: Backend = process.env.TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

export interface TestDatabase {
  backend: Backend;
  /**
   * What a gateway process needs in its environment to use it: DATABASE_PATH or DATABASE_URL, and
   * AUDIT_SIGNING_KEY_FILE in a temp directory of its own (so no test writes a key into the
   * repository, and every process on one database signs with the same key).
   */
  env: Record<string, string>;
  target: DatabaseTarget;
  /** The SQLite file (null on PostgreSQL): for the tests that open the file itself. */
  path: string | null;
  dispose(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_BACKEND=postgres needs TEST_DATABASE_URL (bash scripts/postgres.sh starts a server and prints one)');
  return url;
}

export async function createTestDatabase(backend: Backend = BACKEND): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const keyFile = { AUDIT_SIGNING_KEY_FILE: join(dir, 'audit-signing-key.pem') };
  if (backend === 'sqlite') {
    const path = join(dir, 'gateway.db');
    return { backend, env: { DATABASE_PATH: path, ...keyFile }, target: { path }, path, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const admin = new URL(serverUrl());
  const name = `gw_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    // C collation: text sorts by code point, as in SQLite.
    await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  } finally {
    await client.end();
  }
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    backend,
    env: { DATABASE_URL: url.toString(), ...keyFile },
    target: { url: url.toString(), poolSize: 10 },
    path: null,
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
      const drop = new pg.Client({ connectionString: admin.toString() });
      await drop.connect();
      try {
        await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await drop.end();
      }
    },
  };
}

/** Rows of a read query written with `?` placeholders, on either backend. */
export function query<T = Record<string, unknown>>(db: Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return db.read(all<T>(sql, params));
}

/** A write statement outside the gateway's own code (tests that set up or break state). */
export function execute(db: Database, sql: string, params: unknown[] = []): Promise<number> {
  return db.write(() => run(sql, params));
}

/** Every audit log verified (as `gateway audit verify` does): valid when all are, with their event count. */
export async function verifyEveryLog(db: Database): Promise<{ valid: boolean; eventsChecked: number; problems: string[] }> {
  const { verifyAllLogs } = await import('../../src/audit/verify.ts');
  const results = await verifyAllLogs(db);
  const problems = [...results].filter(([, r]) => !r.valid).map(([logId, r]) => `${logId}: ${r.problem} (${r.firstInvalidEventId})`);
  return { valid: problems.length === 0, eventsChecked: [...results.values()].reduce((n, r) => n + r.eventsChecked, 0), problems };
}

/** The append-only tables: events, stored Merkle nodes, signed checkpoints. */
const AUDIT_TABLES = ['audit_events', 'audit_tree_nodes', 'audit_checkpoints'] as const;

/**
 * Changes rows of the append-only audit tables as someone with write access to the database would:
 * the guarding triggers lifted around the statements (SQLite drops and re-creates them, PostgreSQL
 * disables them), nothing of the gateway's code involved.
 */
export async function tamper(db: Database, statements: [sql: string, params?: unknown[]][]): Promise<void> {
  if (db.dialect === 'postgres') {
    await db.write(function* () {
      for (const table of AUDIT_TABLES) yield* run(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      for (const [sql, params] of statements) yield* run(sql, params ?? []);
      for (const table of AUDIT_TABLES) yield* run(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    });
    return;
  }
  const triggers = await query<{ sql: string; name: string }>(
    db,
    `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (${AUDIT_TABLES.map((table) => `'${table}'`).join(', ')})`,
  );
  await db.write(function* () {
    for (const trigger of triggers) yield* run(`DROP TRIGGER ${trigger.name}`);
    for (const [sql, params] of statements) yield* run(sql, params ?? []);
    for (const trigger of triggers) yield* run(trigger.sql);
  });
}

/** Every table of the gateway's database, by name. */
export async function tableNames(db: Database): Promise<string[]> {
  const rows =
    db.dialect === 'postgres'
      ? await query<{ name: string }>(db, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
      : await query<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
  return rows.map((row) => row.name).sort();
}
