// The DynamoDB document client, created once per process.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { config } from '../config.ts';
import { limitPartitionWrites } from './write-limiter.ts';

let documentClient: DynamoDBDocumentClient | undefined;

export function createDocumentClient(endpoint = config.dynamoEndpoint): DynamoDBDocumentClient {
  // DynamoDB Local is a JVM sharing the machine with the tests: its pauses are not the cloud's latency, and a
  // write that committed after its request timed out would only be retried into a condition failure.
  const client = new DynamoDBClient(
    endpoint
      ? {
          endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: awsCalls.dynamodb.maxAttempts,
        }
      : awsClientConfig(awsCalls.dynamodb),
  );
  // Never in the cloud: DynamoDB enforces its own limits there.
  if (endpoint) limitPartitionWrites(client);
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function ddb(): DynamoDBDocumentClient {
  documentClient ??= createDocumentClient();
  return documentClient;
}

/** Tests and the benchmark swap in an instrumented client. */
export function setDocumentClient(client: DynamoDBDocumentClient | undefined): void {
  documentClient = client;
}
