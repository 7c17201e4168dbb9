// The event delivery consumer: new event items from the table's stream, put on the project's bus.
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { deliverEventRecords } from '#shared/events/delivery.ts';
import { flushingMetrics } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(
  (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => deliverEventRecords(event.Records),
);
