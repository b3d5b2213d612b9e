import { defineConfig } from 'vitest/config';

/** The launch end-to-end suites (npm run test:launch): a real single-node Slurm, and every Kubernetes Job command run per index; minutes of work. */
export default defineConfig({
  test: {
    include: ['test/launch/*.e2e.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
