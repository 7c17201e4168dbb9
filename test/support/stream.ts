// The table's stream in a test process: a poller started with the file (so it sees every record the file's
// tests write) that delivers only when asked, through the same consumers and filters as the cloud.
import type { DynamoDBRecord } from 'aws-lambda';
import { type FunctionName, functions } from '#infra/definitions/functions.ts';
import { streamConsumers } from '#infra/definitions/streams.ts';
import { type StreamPoller, startStreamPoller } from '../../local/stream-poller.ts';

type Handler = (event: { Records: DynamoDBRecord[] }) => Promise<unknown>;

const repoRoot = new URL('../../', import.meta.url);

async function invoke(name: FunctionName, event: { Records: DynamoDBRecord[] }): Promise<unknown> {
  const module = (await import(new URL(functions[name].entry, repoRoot).href)) as { handler: Handler };
  return module.handler(event);
}

let poller: Promise<StreamPoller> | undefined;

/** Starts reading the test table's stream from now (setup-env.ts does, before any test writes). */
export function startTestStream(): Promise<StreamPoller> {
  poller ??= startStreamPoller({
    endpoint: process.env.DYNAMODB_ENDPOINT!,
    tableName: process.env.TABLE_NAME!,
    invoke,
  });
  return poller;
}

/**
 * Delivers every record written so far to every stream consumer (one pass): the events to the bus, the
 * ledger entries to the usage rollups. An injected failure leaves the rest for the next call.
 */
export async function deliverRecordedEvents(): Promise<void> {
  await (await startTestStream()).drain();
}

/** Rolls up every ledger entry written so far (the usage rollup consumer alone): GET /v1/usage then sees it. */
export async function rollUpRecordedUsage(): Promise<void> {
  await (await startTestStream()).drain('usageRollups');
}

/** Stops the file's poller (setup-env.ts does, before the file's DynamoDB Local stops). */
export async function stopTestStream(): Promise<void> {
  const running = poller;
  poller = undefined;
  if (running) await (await running).stop();
}

/** A handler of the rollup consumer, as a shaped invocation in `rollupPoller` calls it. */
export type RollupHandler = (event: { Records: DynamoDBRecord[] }) => Promise<unknown>;

/**
 * A poller of its own for the rollup consumer (from now on, delivering on `drain()`), whose invocations the
 * test shapes: deliver a batch twice, crash after the handler ran, and so on.
 */
export async function rollupPoller(
  shape: (handler: RollupHandler, records: DynamoDBRecord[]) => Promise<unknown>,
): Promise<StreamPoller> {
  const { handler } = (await import(new URL(functions.usageRollups.entry, repoRoot).href)) as {
    handler: RollupHandler;
  };
  return startStreamPoller({
    endpoint: process.env.DYNAMODB_ENDPOINT!,
    tableName: process.env.TABLE_NAME!,
    consumers: streamConsumers.filter((consumer) => consumer.function === 'usageRollups'),
    invoke: (_name, event) => shape(handler, event.Records),
  });
}
