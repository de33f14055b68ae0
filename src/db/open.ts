// Opens the configured database and applies pending migrations: a SQLite file (DATABASE_PATH) or
// a PostgreSQL server (DATABASE_URL). The only place that knows which dialects exist.
import type { DatabaseTarget } from '../config.ts';
import type { Database, OpenOptions } from './database.ts';
import { openSqlite } from './sqlite/database.ts';

export type { Database, DatabaseTarget };

export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<Database> {
  if ('path' in target) return openSqlite(target.path, options);
  // Loaded only for PostgreSQL: a SQLite deployment never loads pg.
  const { openPostgres } = await import('./postgres/database.ts');
  return openPostgres(target, options);
}
