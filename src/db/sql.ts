// Statements as values, and the work done with them as generators, so one body serves both
// databases. A body is a generator that yields statements and receives their results:
//
//   function* markDeleted(kind, id, at): Work<boolean> {
//     return (yield* run('UPDATE resources SET deleted_at = ? WHERE kind = ? AND id = ?', [at, kind, id])) === 1;
//   }
//
// On SQLite the driver steps it synchronously inside one better-sqlite3 transaction (which cannot
// await); on PostgreSQL it awaits each statement on a pooled client. The SQL is written once, with
// `?` placeholders, in the subset both dialects share; the few statements that differ are named
// primitives (DialectStatements) that each dialect folder spells its own way.

export type Mode = 'run' | 'get' | 'all';

/** The statements whose text differs per dialect: each dialect folder implements them. */
export interface DialectStatements {
  /**
   * Due PENDING rows of one provider, oldest due first, locked for this transaction where the
   * database can (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent workers skip each other's).
   * Params: provider, now, now, limit. Columns: kind, resourceId, attempts, inProgressAttempts,
   * reason, lastError.
   */
  claimDue: string;
}

export interface Statement {
  /** Portable SQL with `?` placeholders, or the name of a statement each dialect spells itself. */
  sql: string | { primitive: keyof DialectStatements };
  params: readonly unknown[];
  mode: Mode;
}

/** What a driver answers to a statement: `run` → changes, `get` → a row or undefined, `all` → rows. */
export type StatementResult = number | Row | undefined | Row[];

export type Row = Record<string, unknown>;

/** A body: yields statements, receives their results, returns T. */
export type Work<T> = Generator<Statement, T, StatementResult>;

/** Runs a statement; the number of rows it changed. */
export function* run(sql: Statement['sql'], params: readonly unknown[] = []): Work<number> {
  return (yield { sql, params, mode: 'run' }) as number;
}

/** The first row, or undefined. */
export function* get<R = Row>(sql: Statement['sql'], params: readonly unknown[] = []): Work<R | undefined> {
  return (yield { sql, params, mode: 'get' }) as R | undefined;
}

/** Every row. */
export function* all<R = Row>(sql: Statement['sql'], params: readonly unknown[] = []): Work<R[]> {
  return (yield { sql, params, mode: 'all' }) as R[];
}

/** A body that only returns a value (for callers that want a Work in every branch). */
// eslint-disable-next-line require-yield
export function* value<T>(result: T): Work<T> {
  return result;
}

/** `?, ?, ?` for an IN list of n values. */
export function placeholders(n: number): string {
  return n <= 0 ? 'NULL' : '?' + ', ?'.repeat(n - 1);
}

/** Splits a list for IN clauses: both dialects cap bound parameters (SQLite 32766, PostgreSQL 65535). */
export function chunks<T>(items: readonly T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** JSON text columns: stored as text in both dialects, so what is hashed is exactly what is stored. */
export function parseJson<T = Record<string, unknown>>(text: unknown): T | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== 'string') return text as T;
  return JSON.parse(text) as T;
}

export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Drives a body synchronously (SQLite). A failed statement is thrown into the body, as below. */
export function stepSync<T>(work: Work<T>, execute: (statement: Statement) => StatementResult): T {
  let next = work.next();
  while (!next.done) {
    let result: StatementResult;
    try {
      result = execute(next.value);
    } catch (error) {
      next = work.throw(error);
      continue;
    }
    next = work.next(result);
  }
  return next.value;
}

/** Drives a body asynchronously (PostgreSQL). A failed statement is thrown into the body. */
export async function stepAsync<T>(work: Work<T>, execute: (statement: Statement) => Promise<StatementResult>): Promise<T> {
  let next = work.next();
  while (!next.done) {
    let result: StatementResult;
    try {
      result = await execute(next.value);
    } catch (error) {
      next = work.throw(error);
      continue;
    }
    next = work.next(result);
  }
  return next.value;
}
