// Every test file: its own in-memory DynamoDB Local with the project's table (stream included), stopped when
// the file ends; events and usage go through the table's stream to their consumers.
//
// One instance per file, not per run: DynamoDB Local keeps every stream record of every table for 24 hours
// in one SQLite store and, on each write to a table with a stream, looks up the shard with a query whose cost
// grows with the records stored (seen with jstack: the SQLite thread busy in getStreamDescription). Shared
// by a whole run, writes slowed tenfold by the end (the marketplace metering file: 19 s alone, 201 s late in
// the run). A file's own instance holds only that file's records; starting it costs about a second.
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { createTable, startDynamoLocal } from '../../local/dynamo-local.ts';
import { startTestStream, stopTestStream } from './stream.ts';

const dynamo = await startDynamoLocal();
const table = `credits-test-${randomBytes(6).toString('hex')}`;
await createTable(dynamo.endpoint, table);
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
process.env.TABLE_NAME = table;
process.env.LOCAL_MODE = 'true';
// The key that signs pagination cursors, per test file (the local stack generates its own when unset).
process.env.CURSOR_KEY = randomBytes(32).toString('base64url');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];
// Events reach the sink through the table's stream: read it from before this file's first write.
await startTestStream();

afterAll(async () => {
  await stopTestStream();
  await dynamo.stop();
});
