// Once per test run: an in-memory DynamoDB Local on a free port; each test file creates its own table in it
// (test/support/setup-env.ts).
import type { TestProject } from 'vitest/node';
import { startDynamoLocal } from '../../local/dynamo-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const dynamo = await startDynamoLocal();
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    await dynamo.stop();
  };
}
