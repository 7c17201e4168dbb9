import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CI also writes a machine-readable report; .ci/run prints its totals as a closing line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'test-output/vitest.json' }]]
      : ['default'],
  },
});
