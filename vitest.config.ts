import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: run two files at a time; each file starts its own simulators and gateway on port 0.
    maxWorkers: 2,
  },
});
