// Every test file: point the code at the run's DynamoDB Local table; events go through the table's stream to
// an in-memory sink.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { startTestStream } from './stream.ts';

process.env.DYNAMODB_ENDPOINT = inject('dynamoEndpoint');
process.env.TABLE_NAME = 'credits-test';
process.env.LOCAL_MODE = 'true';
// The key that signs pagination cursors, per test file (the local stack generates its own when unset).
process.env.CURSOR_KEY = randomBytes(32).toString('base64url');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];
// Events reach the sink through the table's stream: read it from before this file's first write.
await startTestStream();
