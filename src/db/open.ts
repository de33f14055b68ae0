// Opens the SQLite database with the pragmas the gateway relies on and applies pending migrations.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { RunResult } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.ts';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export const MIGRATIONS_FOLDER = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');

export interface OpenOptions {
  /** Receives every SQL statement drizzle issues (tests count statements with it). */
  onQuery?: (sql: string, params: unknown[]) => void;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const client = new Database(path);
  client.pragma('journal_mode = WAL');
  client.pragma('synchronous = NORMAL');
  client.pragma('foreign_keys = ON');
  client.pragma('busy_timeout = 5000');
  const onQuery = options.onQuery;
  const db = drizzle(client, {
    schema,
    logger: onQuery ? { logQuery: (query, params) => onQuery(query, params) } : false,
  });
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return db as Db;
}

export function closeDatabase(db: Db): void {
  if (db.$client.open) db.$client.close();
}

/** The database or a transaction on it: what code that writes inside a caller's transaction takes. */
export type Tx = BaseSQLiteDatabase<'sync', RunResult, typeof schema>;

/**
 * Runs `fn` in one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so two processes
 * (the server and a separate worker) never interleave between a read and the write that depends on it.
 */
export function immediate<T>(db: Db, fn: (tx: Tx) => T): T {
  return db.transaction((tx) => fn(tx), { behavior: 'immediate' });
}

interface Queued {
  work: () => unknown;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
}

const queues = new WeakMap<object, Queued[]>();

/**
 * Runs `work` in a BEGIN IMMEDIATE transaction shared with everything else queued in this turn of
 * the event loop (group commit). Under load dozens of deletes and provider answers arrive together;
 * one commit then writes the audit table's and the indexes' shared pages once instead of once each.
 * Each piece of work runs in a savepoint of its own, so one that throws is rolled back and fails
 * alone, and each sees the writes of those queued before it.
 */
export function inSharedTransaction<T>(db: Db, work: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let queue = queues.get(db.$client);
    if (!queue) {
      const batch: Queued[] = [];
      queue = batch;
      queues.set(db.$client, batch);
      setImmediate(() => runBatch(db, batch));
    }
    queue.push({ work, resolve: resolve as (value: never) => void, reject });
  });
}

function runBatch(db: Db, batch: Queued[]): void {
  queues.delete(db.$client);
  let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
  try {
    outcomes = db.$client
      .transaction(() =>
        batch.map(({ work }) => {
          try {
            return { ok: true as const, value: db.$client.transaction(work)() };
          } catch (error) {
            return { ok: false as const, error };
          }
        }),
      )
      .immediate();
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
