// A local stack for one test file: on the run's DynamoDB Local, in a table of its own, quiet, no demo account
// and no job timers unless asked; started before the file's tests and stopped after them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/server.ts';

/** Registers the file's beforeAll/afterAll; the returned function gives the running stack. */
export function useLocalStack(name: string, options: LocalStackOptions = {}): () => LocalStack {
  let stack: LocalStack | undefined;
  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
      tableName: `${name}-${randomUUID().slice(0, 8)}`,
      seedDemo: false,
      runJobs: false,
      quiet: true,
      ...options,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error(`the ${name} local stack is not running`);
    return stack;
  };
}
