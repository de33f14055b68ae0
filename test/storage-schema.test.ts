// drizzle has no dialect-neutral schema, so SQLite's and PostgreSQL's are two files side by side
// (src/db/sqlite/schema.ts, src/db/postgres/schema.ts). The code above src/db/ writes one SQL for
// both, so the two must define the same tables, columns, keys and indexes: this holds them equal.
import { getTableConfig as pgTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { is, Table } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import * as postgres from '../src/db/postgres/schema.ts';
import * as sqlite from '../src/db/sqlite/schema.ts';

/** The portable shape of a table: what the shared SQL relies on. */
interface Shape {
  columns: Record<string, { type: string; notNull: boolean; primary: boolean }>;
  primaryKey: string[];
  indexes: Record<string, { unique: boolean }>;
}

// Both dialects read these the same way (sql.ts): text as strings, integer and bigint as numbers.
const family = (type: string) => (/int/i.test(type) ? 'integer' : /text/i.test(type) ? 'text' : type);

function shapes(module: Record<string, unknown>, config: (table: never) => ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>): Record<string, Shape> {
  const out: Record<string, Shape> = {};
  for (const value of Object.values(module)) {
    if (!is(value, Table)) continue;
    const table = config(value as never);
    out[table.name] = {
      columns: Object.fromEntries(table.columns.map((column) => [column.name, { type: family(column.getSQLType()), notNull: column.notNull, primary: column.primary }])),
      primaryKey: table.primaryKeys.flatMap((key) => key.columns.map((column) => column.name)),
      indexes: Object.fromEntries(table.indexes.map((index) => [index.config.name, { unique: index.config.unique }])),
    };
  }
  return out;
}

describe('the SQLite and PostgreSQL schemas', () => {
  const lite = shapes(sqlite, (table: SQLiteTable) => sqliteTableConfig(table));
  const pg = shapes(postgres, (table: PgTable) => pgTableConfig(table));

  it('define the same tables', () => {
    expect(Object.keys(pg).sort()).toEqual(Object.keys(lite).sort());
    expect(Object.keys(lite).sort()).toEqual(['api_keys', 'audit_checkpoints', 'audit_events', 'audit_logs', 'audit_tree_nodes', 'erasure_items', 'erasure_requests', 'resources', 'upstream_deletions']);
  });

  it('define the same columns, types, keys and indexes in every table', () => {
    for (const name of Object.keys(lite)) expect(pg[name], name).toEqual(lite[name]);
  });
});
