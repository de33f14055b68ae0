import { defineConfig } from 'vitest/config';

// The suite runs once per storage backend: SQLite always; PostgreSQL too when TEST_DATABASE_URL names
// a server (`.ci/run` starts one; `bash scripts/postgres.sh` prints a URL). test/support/database.ts
// gives every test a database of its own on the backend its project names (TEST_BACKEND).
const postgres = process.env.TEST_DATABASE_URL ? [process.env.TEST_DATABASE_URL] : [];

/** Files that never touch a database, or only a SQLite file by design: run once, in the SQLite project. */
const SQLITE_ONLY = [
  'test/merkle.test.ts', // pure functions
  'test/signed-note.test.ts', // pure functions
  'test/verify-receipt.test.ts', // a standalone script on a document
  'test/audit-chain.test.ts', // an attacker with the SQLite file; PostgreSQL tampering is in audit-trail
  'test/audit-logs.test.ts', // the first-wave migration, which only SQLite databases have
  'test/schema.test.ts', // the printed SDL
  'test/storage-schema.test.ts', // the two schema files
  'test/graphiql.browser.test.ts', // the sandbox (SQLite) in Chromium
  'test/sandbox.test.ts', // `npm start` on a fresh machine: SQLite
  'test/audit-keys.test.ts', // key files and the CLI that reads them, before any database
  'test/compiled.test.ts', // builds dist/ (shared by the whole run) and runs it on a SQLite file
];

/** Files about PostgreSQL itself: only in the PostgreSQL project. */
const POSTGRES_ONLY = ['test/postgres.test.ts'];

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) copies. Pothos and yoga load the CJS one through
    // Node; without this, Vite hands src/ and test/ the ESM one, and `graphql` refuses schema objects
    // "from another module or realm" (printSchema in tests, the no-introspection rule).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: run two files at a time; each file starts its own simulators and gateway on port 0.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: POSTGRES_ONLY, env: { TEST_BACKEND: 'sqlite' } } },
      ...postgres.map(() => ({
        extends: true as const,
        test: { name: 'postgres', include: ['test/**/*.test.ts'], exclude: SQLITE_ONLY, env: { TEST_BACKEND: 'postgres' } },
      })),
    ],
  },
});
