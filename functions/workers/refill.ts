// The prompt trigger's worker: one SQS message per account a debit just took below its threshold.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runRefill } from '#shared/auto-refill/refill.ts';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const { account_id } = JSON.parse(record.body) as { account_id: string };
      const report = await runRefill(account_id);
      logger.info('refill', { ...report });
    } catch (error) {
      logger.error('refill failed; the message is retried', { error, messageId: record.messageId });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
});
