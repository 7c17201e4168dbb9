// Every test file: its own table (stream included) on a DynamoDB Local leased from the run's pool
// (test/support/dynamo-pool.ts: why a pool, and why an instance serves only a few files), deleted and given
// back when the file ends; events and usage go through the table's stream to their consumers.
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll } from 'vitest';
import { createTable } from '../../local/dynamo-local.ts';
import { leaseDynamoLocal } from './dynamo-pool.ts';
import { startTestStream, stopTestStream } from './stream.ts';

const poolUrl = process.env.TEST_DYNAMO_POOL;
if (!poolUrl)
  throw new Error(
    'TEST_DYNAMO_POOL is not set: run the tests through vitest (its global setup starts the pool)',
  );
const dynamo = await leaseDynamoLocal(poolUrl);
const table = `credits-test-${randomBytes(6).toString('hex')}`;
await createTable(dynamo.endpoint, table);
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
process.env.TABLE_NAME = table;
process.env.LOCAL_MODE = 'true';
// The key that signs pagination cursors, per test file (the local stack generates its own when unset).
process.env.CURSOR_KEY = randomBytes(32).toString('base64url');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
// POST /auth/email answers no sooner than this (600 ms by default, so its timing does not tell members from
// others): the tests that send many sign-in requests do without it; team-auth.test.ts sets it where it tests it.
process.env.AUTH_EMAIL_MIN_MS ??= '0';
// The tests' own bursts (hundreds of calls on one token) are not what the default rate limits (50/s, bursts
// of 100 per token) are for: they are lifted here, and the rate-limit tests set the limits they test.
for (const name of [
  'RATE_LIMIT_RPS',
  'RATE_LIMIT_BURST',
  'RATE_LIMIT_ACCOUNT_RPS',
  'RATE_LIMIT_ACCOUNT_BURST',
])
  process.env[name] ??= '1000000';
process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];
// Events reach the sink through the table's stream: read it from before this file's first write.
await startTestStream();

afterAll(async () => {
  await stopTestStream();
  // The table goes with the file, so the instance's next file does not share its memory.
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  client.destroy();
  await dynamo.release();
});
