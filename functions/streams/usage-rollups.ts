// The rollup consumer: new ledger entries from the table's stream, summed into the usage rollups, the
// postpaid period items and the Marketplace hour records.
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { flushingMetrics } from '#shared/observability/powertools.ts';
import { rollUpLedgerRecords } from '#shared/usage/apply.ts';

export const handler = flushingMetrics(
  (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => rollUpLedgerRecords(event.Records),
);
