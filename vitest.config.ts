import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) copies. Pothos and yoga load the CJS one through
    // Node; without this, Vite hands src/ and test/ the ESM one, and `graphql` refuses schema objects
    // "from another module or realm" (printSchema in tests, the no-introspection rule).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: run two files at a time; each file starts its own simulators and gateway on port 0.
    maxWorkers: 2,
  },
});
