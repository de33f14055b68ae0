// The one storage interface everything above src/db/ uses. Which database it is (SQLite file or
// PostgreSQL server) is decided once, in open.ts; callers only hand it bodies (see sql.ts).
import type { Work } from './sql.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  readonly dialect: Dialect;
  /** Runs a read-only body on committed data, outside any write transaction. */
  read<T>(work: Work<T>): Promise<T>;
  /**
   * Runs a body in one write transaction. SQLite: bodies queued in one turn of the event loop share
   * a BEGIN IMMEDIATE (group commit), each in a savepoint of its own, so one that throws fails
   * alone. PostgreSQL: a transaction of its own on a pooled connection, run again from the start on
   * a serialization failure or deadlock — so a body does nothing but its statements.
   */
  write<T>(body: () => Work<T>): Promise<T>;
  /** Whether the database answers a query now (readiness). */
  ping(): Promise<boolean>;
  /**
   * Tells `listener` which resources the audit events committed from now on are about, whichever
   * process committed them (this one, a `gateway worker`, another instance): every upstream outcome
   * and every delete is an event, appended in the transaction that makes the change. SQLite tails
   * the table by `seq` while resumed; PostgreSQL LISTENs on a connection of its own. One per process
   * (src/live/feed.ts), however many streams read it.
   */
  watchEvents(listener: EventListener): EventWatch;
  close(): Promise<void>;
}

/** How an audit event names its resource to a watcher: `KIND:id` (ids never contain `:`). */
export function eventKey(kind: string, id: string): string {
  return `${kind}:${id}`;
}

export interface EventListener {
  /** Events about these resources (eventKey) were committed. */
  changed(keys: readonly string[]): void;
  /** Some may have gone untold (the connection that tells of them was lost and is back): read everything again. */
  missed(): void;
  /** Telling failed for now (it tries again by itself). */
  failed(error: unknown): void;
}

export interface EventWatch {
  /** Resolves once every event committed from now on will be told (or after a first failed try, then `missed` follows). */
  resume(): Promise<void>;
  /** Nobody is interested for now: stop costing anything until the next resume. */
  pause(): void;
  close(): Promise<void>;
}

/** What a readiness probe asks: a plain read of a table every migrated database has. */
export const READINESS_QUERY = 'SELECT 1 AS ok FROM upstream_deletions LIMIT 1';

export interface OpenOptions {
  /** Receives every SQL statement issued (tests count statements with it). */
  onQuery?: (sql: string, params: unknown[]) => void;
}
