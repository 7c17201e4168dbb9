// Every test file: its own table in the run's DynamoDB Local (so a file's stream carries only its own writes,
// and no file sees another's accounts); events go through the table's stream to an in-memory sink.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createTable } from '../../local/dynamo-local.ts';
import { startTestStream } from './stream.ts';

const endpoint = inject('dynamoEndpoint');
const table = `credits-test-${randomBytes(6).toString('hex')}`;
await createTable(endpoint, table);
process.env.DYNAMODB_ENDPOINT = endpoint;
process.env.TABLE_NAME = table;
process.env.LOCAL_MODE = 'true';
// The key that signs pagination cursors, per test file (the local stack generates its own when unset).
process.env.CURSOR_KEY = randomBytes(32).toString('base64url');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];
// Events reach the sink through the table's stream: read it from before this file's first write.
await startTestStream();
