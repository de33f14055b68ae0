// SQLite (better-sqlite3): the embedded default. One connection per process, WAL, and bodies
// stepped synchronously inside one BEGIN IMMEDIATE that everything queued in the same turn of the
// event loop shares (group commit).
import BetterSqlite3 from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { READINESS_QUERY, type Database, type EventListener, type EventWatch, type OpenOptions } from '../database.ts';
import { stepSync, type DialectStatements, type Row, type Statement, type StatementResult, type Work } from '../sql.ts';
import { MIGRATIONS_ROOT } from '../migrations.ts';
import { SqliteEventTail } from './events.ts';
// The one body from above the storage layer it runs: a data migration (see splitLegacyChain).
import { needsSplit, splitIntoLogs } from '../../audit/split-logs.ts';
import { systemRuntime } from '../../runtime.ts';

export const SQLITE_STATEMENTS: DialectStatements = {
  // BEGIN IMMEDIATE already holds the only write lock: no other claimer can read these rows now.
  claimDue: `SELECT kind, resource_id AS "resourceId", attempts, in_progress_attempts AS "inProgressAttempts", reason,
      last_error AS "lastError"
    FROM upstream_deletions
    WHERE status = 'PENDING' AND provider = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
    ORDER BY next_attempt_at LIMIT ?`,
};

interface Queued {
  body: () => Work<unknown>;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private queue: Queued[] | null = null;
  /** A batch in one BEGIN IMMEDIATE, each body in a savepoint; made once (better-sqlite3 builds four wrappers per transaction()). */
  private readonly batchTransaction: BetterSqlite3.Transaction<(batch: Queued[]) => Outcome[]>;

  constructor(
    /** The better-sqlite3 connection: for this driver and for tests that tamper with the file. */
    readonly client: BetterSqlite3.Database,
    private readonly onQuery?: OpenOptions['onQuery'],
  ) {
    const inSavepoint = client.transaction((body: () => Work<unknown>) => stepSync(body(), this.execute));
    this.batchTransaction = client.transaction((batch: Queued[]) =>
      batch.map(({ body }): Outcome => {
        try {
          return { ok: true, value: inSavepoint(body) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  private prepared(sql: Statement['sql']): BetterSqlite3.Statement {
    const text = typeof sql === 'string' ? sql : SQLITE_STATEMENTS[sql.primitive];
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.client.prepare(text);
      // Dynamic texts (IN lists of every length) must not grow the cache without bound.
      if (this.statements.size < 2_000) this.statements.set(text, statement);
    }
    return statement;
  }

  /** One statement, now, on the connection (inside whatever transaction is open on it). */
  private execute = (statement: Statement): StatementResult => {
    const prepared = this.prepared(statement.sql);
    if (this.onQuery) this.onQuery(prepared.source, [...statement.params]);
    switch (statement.mode) {
      case 'run':
        return prepared.run(...statement.params).changes;
      case 'get':
        return prepared.get(...statement.params) as Row | undefined;
      case 'all':
        return prepared.all(...statement.params) as Row[];
    }
  };

  /** Runs a body at once, synchronously, inside whatever transaction is open on the connection (start-up data migrations). */
  runSync<T>(work: Work<T>): T {
    return stepSync(work, this.execute);
  }

  read<T>(work: Work<T>): Promise<T> {
    try {
      return Promise.resolve(stepSync(work, this.execute));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  write<T>(body: () => Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.queue) {
        const batch: Queued[] = [];
        this.queue = batch;
        setImmediate(() => this.runBatch(batch));
      }
      this.queue.push({ body, resolve: resolve as (value: never) => void, reject });
    });
  }

  /**
   * Under load dozens of deletes and provider answers arrive in one turn; one commit then writes the
   * audit table's and the indexes' shared pages once instead of once each. Each body runs in a
   * savepoint (better-sqlite3's nested transaction), so one that throws is rolled back alone, and
   * each sees the writes of those before it.
   */
  private runBatch(batch: Queued[]): void {
    this.queue = null;
    let outcomes: Outcome[];
    try {
      outcomes = this.batchTransaction.immediate(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    outcomes.forEach((outcome, index) => {
      const item = batch[index]!;
      if (outcome.ok) item.resolve(outcome.value as never);
      else item.reject(outcome.error);
    });
  }

  async ping(): Promise<boolean> {
    // A read, not BEGIN IMMEDIATE: a probe must never wait on the write lock (busy_timeout would
    // block the event loop for every request while a separate worker holds it).
    try {
      if (!this.client.open) return false;
      this.client.prepare(READINESS_QUERY).get();
      return true;
    } catch {
      return false;
    }
  }

  watchEvents(listener: EventListener): EventWatch {
    return new SqliteEventTail((work) => this.runSync(work), listener);
  }

  async close(): Promise<void> {
    if (this.client.open) this.client.close();
  }
}

export function openSqlite(path: string, options: OpenOptions = {}): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const client = new BetterSqlite3(path);
  client.pragma('journal_mode = WAL');
  client.pragma('synchronous = NORMAL');
  client.pragma('foreign_keys = ON');
  client.pragma('busy_timeout = 5000');
  // Each write body runs in a savepoint (group commit, see runBatch), whose sub-journal SQLite
  // otherwise keeps in a temporary file: created, unlinked and closed again for every batch.
  client.pragma('temp_store = MEMORY');
  migrate(drizzle(client), { migrationsFolder: resolve(MIGRATIONS_ROOT, 'sqlite') });
  const db = new SqliteDatabase(client, options.onQuery);
  splitLegacyChain(db);
  return db;
}

const APPEND_ONLY_TRIGGERS = `
  CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END;
  CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END;`;

/**
 * A first-wave database holds one chain over every organisation: split it into per-organisation
 * logs (audit/split-logs.ts), the only time rows of audit_events are ever rewritten, with the
 * append-only triggers lifted for exactly that transaction.
 */
function splitLegacyChain(db: SqliteDatabase): void {
  if (!db.runSync(needsSplit())) return;
  db.client
    .transaction(() => {
      db.client.exec('DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;');
      const issued = db.client.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'").get() as { seq: number } | undefined;
      db.runSync(splitIntoLogs(systemRuntime, issued?.seq ?? null));
      db.client.exec(APPEND_ONLY_TRIGGERS);
    })
    .immediate();
}
