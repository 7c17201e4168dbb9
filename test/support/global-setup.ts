// Once per test run: fail at once, in one line, when Java (which DynamoDB Local needs) is missing; then keep
// the run's pool of DynamoDB Local instances (test/support/dynamo-pool.ts), which each test file leases from
// (test/support/setup-env.ts) through the address this puts in the environment the test workers inherit.
import { assertJava } from '../../local/dynamo-local.ts';
import { startDynamoPool } from './dynamo-pool.ts';

/** How many test files, or how long in all, one DynamoDB Local serves before a fresh one replaces it. */
const FILES_PER_INSTANCE = Number(process.env.TEST_DYNAMO_FILES_PER_INSTANCE ?? 8);
const LEASED_MS_PER_INSTANCE = Number(process.env.TEST_DYNAMO_LEASED_MS_PER_INSTANCE ?? 60_000);

export default async function setup(): Promise<() => Promise<void>> {
  assertJava();
  const pool = await startDynamoPool({
    filesPerInstance: FILES_PER_INSTANCE,
    leasedMsPerInstance: LEASED_MS_PER_INSTANCE,
  });
  process.env.TEST_DYNAMO_POOL = pool.url;
  return async () => {
    await pool.close();
  };
}
