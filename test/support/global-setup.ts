// Once per test run: an in-memory DynamoDB Local on a free port with the project's table.
import type { TestProject } from 'vitest/node';
import { createTable, startDynamoLocal } from '../../local/dynamo-local.ts';

export const TEST_TABLE = 'credits-test';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const dynamo = await startDynamoLocal();
  await createTable(dynamo.endpoint, TEST_TABLE);
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    await dynamo.stop();
  };
}
