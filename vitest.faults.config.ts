import { defineConfig } from 'vitest/config';

/** npm run test:faults: the kill -9 / concurrency / disk-full suite (minutes; its own CI step). */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
