import { defineConfig } from 'vitest/config';

/**
 * The heavy end-to-end suites (npm run test:e2e): whole experiments through the real curation
 * path on generated corpora; minutes of work, so not part of npm test. The launch suites have
 * their own script (npm run test:launch).
 */
export default defineConfig({
  test: {
    include: ['test/**/*.e2e.ts'],
    exclude: ['test/launch/**', 'node_modules/**'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
