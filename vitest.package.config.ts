import { defineConfig } from 'vitest/config';

// npm run test:package: pack the package, install it into a fresh project, use it from plain node.
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
