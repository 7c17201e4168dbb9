import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // How long `expect.poll` waits for a page or a stream to reach the expected state (the default, 1 s, is
    // too short on a loaded 2-core CI machine): a limit, never a speed assertion.
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    // CI also writes a machine-readable report; .ci/run prints its totals as a closing line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'test-output/vitest.json' }]]
      : ['default'],
    projects: [
      {
        // The CDK tests build the app in memory and touch no table: no DynamoDB Local lease, table or stream
        // per file, and one module graph per worker, so aws-cdk-lib and the stacks load once per worker, not
        // once per file (each file still builds its own apps: nothing a file builds is shared).
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'dynamo',
          include: ['test/**/*.test.ts'],
          exclude: ['test/infra/**'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/setup-env.ts'],
        },
      },
    ],
  },
});
