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
  close(): Promise<void>;
}

/** What a readiness probe asks: a plain read of a table every migrated database has. */
export const READINESS_QUERY = 'SELECT 1 AS ok FROM upstream_deletions LIMIT 1';

export interface OpenOptions {
  /** Receives every SQL statement issued (tests count statements with it). */
  onQuery?: (sql: string, params: unknown[]) => void;
}
