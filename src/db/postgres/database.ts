// PostgreSQL (node-postgres, a pool): for several gateway and worker processes on one database.
// The bodies are the ones SQLite runs (sql.ts); here each statement is awaited on a pooled client,
// each write body is a transaction of its own, and one that loses a deadlock or a serialization
// conflict is run again from the start (bodies only issue statements, so that is safe).
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { resolve } from 'node:path';
import { READINESS_QUERY, type Database, type EventListener, type EventWatch, type OpenOptions } from '../database.ts';
import { MIGRATIONS_ROOT } from '../migrations.ts';
import { PostgresEventListener } from './events.ts';
import { stepAsync, type DialectStatements, type Row, type Statement, type StatementResult, type Work } from '../sql.ts';

export const POSTGRES_STATEMENTS: DialectStatements = {
  // SKIP LOCKED: a row another worker's open claim holds is passed over, never waited for or taken
  // twice; the lease written next keeps it after this transaction ends.
  claimDue: `SELECT kind, resource_id AS "resourceId", attempts, in_progress_attempts AS "inProgressAttempts", reason,
      last_error AS "lastError"
    FROM upstream_deletions
    WHERE status = 'PENDING' AND provider = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
    ORDER BY next_attempt_at LIMIT ?
    FOR UPDATE SKIP LOCKED`,
};

/** serialization_failure, deadlock_detected: the transaction may simply be run again. */
const RETRYABLE = new Set(['40001', '40P01']);
/**
 * The connection went away (admin shutdown, crash, failover, network). Before COMMIT was sent the
 * server rolled the transaction back, so it may run again on a fresh connection; during COMMIT its
 * fate is unknown, and the error goes to the caller instead.
 */
const CONNECTION_LOST = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED']);

function lostConnection(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_LOST.has(code)) return true;
  return error instanceof Error && /Connection terminated/i.test(error.message);
}
const MAX_TRIES = 5;
/** Held by every write transaction (see runBatch). */
const WRITE_LOCK = 727_346_119;
/** Held while migrating, so processes starting together do not apply a migration twice. */
const MIGRATION_LOCK = 727_346_118;

/** `?` placeholders → `$1, $2 …` (the SQL we write has no `?` anywhere else). */
function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${(n += 1)}`);
}

/** A connection error's message, without the URL's password (pg never puts it in, but a URL may). */
export function describeConnectionError(error: unknown, url: string): string {
  const parsed = new URL(url);
  const where = `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return `cannot use PostgreSQL at ${where}: ${message}${typeof code === 'string' && !message.includes(code) ? ` (${code})` : ''}`;
}

interface Queued {
  body: () => Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  tries: number;
}

/** Bodies per transaction at most: a batch holds its locks until it commits. */
const MAX_BATCH = 200;
/**
 * Write transactions per process at once. Writes to one organisation's log queue for its head row
 * anyway; more batches waiting on it would only hold pooled connections the reads need, and what
 * waits here joins the next, larger batch.
 */
const WRITE_BATCHES = 2;

function retryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  private readonly waiting: Queued[] = [];
  private scheduled = false;
  private active = 0;
  private readonly texts = new Map<string, { text: string; name: string | undefined }>();

  constructor(
    readonly pool: pg.Pool,
    private readonly onQuery?: OpenOptions['onQuery'],
  ) {}

  private prepared(sql: Statement['sql']): { text: string; name: string | undefined } {
    const source = typeof sql === 'string' ? sql : POSTGRES_STATEMENTS[sql.primitive];
    let entry = this.texts.get(source);
    if (!entry) {
      // Named statements are parsed and planned once per connection; dynamic texts (IN lists of
      // every length) past the first few thousand run unnamed rather than grow every connection.
      entry = { text: numbered(source), name: this.texts.size < 2_000 ? `sdg${this.texts.size}` : undefined };
      this.texts.set(source, entry);
    }
    return entry;
  }

  private async execute(client: pg.Pool | pg.PoolClient, statement: Statement): Promise<StatementResult> {
    const { text, name } = this.prepared(statement.sql);
    if (this.onQuery) this.onQuery(text, [...statement.params]);
    const result = await client.query<Row>({ text, values: statement.params as unknown[], ...(name ? { name } : {}) });
    switch (statement.mode) {
      case 'run':
        return result.rowCount ?? 0;
      case 'get':
        return result.rows[0];
      case 'all':
        return result.rows;
    }
  }

  read<T>(work: Work<T>): Promise<T> {
    return stepAsync(work, (statement) => this.execute(this.pool, statement));
  }

  write<T>(body: () => Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.enqueue({ body, resolve: resolve as (value: unknown) => void, reject, tries: 0 }, false));
  }

  private enqueue(item: Queued, retry: boolean): void {
    if (retry) item.tries += 1;
    this.waiting.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.pump());
    }
  }

  /** Starts batches of what waits, at most WRITE_BATCHES at a time (the rest of the pool serves reads). */
  private pump(): void {
    this.scheduled = false;
    while (this.active < WRITE_BATCHES && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.active += 1;
      void this.runBatch(batch).finally(() => {
        this.active -= 1;
        if (this.waiting.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.pump());
        }
      });
    }
  }

  /**
   * Group commit, as SQLite does it: the bodies queued in one turn of the event loop share one
   * transaction, each in a savepoint of its own, so one commit (one WAL flush) serves them all and
   * one that fails is rolled back alone. A body that loses a deadlock or a serialization conflict,
   * or every body when the connection is lost before COMMIT, runs again in a later batch.
   */
  private async runBatch(batch: Queued[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    let broken: Error | undefined;
    const done: { item: Queued; value: unknown }[] = [];
    const again: Queued[] = [];
    let committing = false;
    // The body being run: when its connection fails, neither its savepoint nor the batch settles it.
    let current: Queued | null = null;
    try {
      // One write transaction at a time across every process on this database. A batch's bodies
      // lock the head rows of the logs they append to, in the order they come; two batches that met
      // the same two logs in opposite orders would deadlock (PostgreSQL breaks it after
      // deadlock_timeout, but every break costs a second). Taken first, this lock orders them; the
      // batches grow under load, so one at a time still commits hundreds of bodies per flush.
      // The bookkeeping statements travel together (one simple query, one round trip): the writes
      // wait on round trips under this lock, and a body's own statements are six or so.
      let savepoint: 'none' | 'open' = 'none';
      for (const [index, item] of batch.entries()) {
        current = item;
        if (index === 0) await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK}); SAVEPOINT body`);
        else await client.query(savepoint === 'open' ? 'RELEASE SAVEPOINT body; SAVEPOINT body' : 'SAVEPOINT body');
        savepoint = 'open';
        try {
          // Settled only once the batch commits; its savepoint is released with the next one's start.
          done.push({ item, value: await stepAsync(item.body(), (statement) => this.execute(client, statement)) });
        } catch (error) {
          await client.query('ROLLBACK TO SAVEPOINT body; RELEASE SAVEPOINT body');
          savepoint = 'none';
          if (retryable(error) && item.tries + 1 < MAX_TRIES) again.push(item);
          else item.reject(error);
        }
        current = null;
      }
      committing = true;
      // COMMIT keeps what the last body's open savepoint holds.
      await client.query('COMMIT');
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollback) {
        // The connection itself failed: give it back broken so the pool replaces it.
        broken = rollback instanceof Error ? rollback : new Error(String(rollback));
      }
      client.release(broken);
      // Nothing of the batch committed: the bodies that had run go again if the failure allows it.
      const rerun = retryable(error) || (!committing && lostConnection(error));
      for (const item of [...done.map((d) => d.item), ...(current ? [current] : [])]) {
        if (rerun && item.tries + 1 < MAX_TRIES) again.push(item);
        else item.reject(error);
      }
      for (const item of again) this.enqueue(item, true);
      return;
    }
    client.release();
    for (const { item, value } of done) item.resolve(value);
    for (const item of again) this.enqueue(item, true);
  }


  async ping(): Promise<boolean> {
    try {
      await this.pool.query(READINESS_QUERY);
      return true;
    } catch {
      return false;
    }
  }

  watchEvents(listener: EventListener): EventWatch {
    // The pool's own settings (server, credentials, timeouts, type parsers) for a connection apart.
    const { connectionString, connectionTimeoutMillis, types } = this.pool.options;
    return new PostgresEventListener({ connectionString, connectionTimeoutMillis, types }, listener);
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

export async function openPostgres(target: { url: string; poolSize: number }, options: OpenOptions = {}): Promise<PostgresDatabase> {
  const pool = new pg.Pool({
    connectionString: target.url,
    max: target.poolSize,
    // A server that does not answer fails the start (or a request) instead of hanging it. This also
    // bounds the wait for a free pooled connection, which under a burst of writes to one
    // organisation's log (serialised on its head row) can take seconds: generous, not short.
    connectionTimeoutMillis: 10_000,
    // count(*) and the event sequence are int8: read them as JS numbers, like SQLite's.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection the server drops (a restart, a failover) is an event, not a crash: the pool
  // replaces it, and the requests that need the database meanwhile fail and are retried by callers.
  pool.on('error', () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new Error(describeConnectionError(error, target.url));
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(drizzle(client), { migrationsFolder: resolve(MIGRATIONS_ROOT, 'postgres') });
  } catch (error) {
    client.release(true);
    await pool.end().catch(() => undefined);
    throw error;
  }
  await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  client.release();
  return new PostgresDatabase(pool, options.onQuery);
}
