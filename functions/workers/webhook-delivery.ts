// The webhook delivery queue's worker: each message is one attempt of one delivery (shared/webhook-endpoints/
// deliver.ts), the messages of a batch sent in parallel, each reported failed on its own so SQS retries it.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';
import { type AttemptReport, deliverAttempt } from '#shared/webhook-endpoints/deliver.ts';

const attemptMessage = z.object({
  account_id: z.string().check(z.minLength(1)),
  endpoint_id: z.string().check(z.minLength(1)),
  delivery: z.string().check(z.minLength(1)),
  attempt: z.int().check(z.gte(1)),
  not_before: z.iso.datetime(),
});

export const handler = flushingMetrics(
  async (event: SQSEvent): Promise<SQSBatchResponse & { reports: AttemptReport[] }> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    const reports: AttemptReport[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        try {
          const message = attemptMessage.parse(JSON.parse(record.body));
          const report = await deliverAttempt(message);
          logger.info('webhook attempt', { ...message, report });
          reports.push(report);
        } catch (error) {
          logger.error('webhook attempt failed; the message is retried', {
            error,
            messageId: record.messageId,
          });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }),
    );
    return { batchItemFailures, reports };
  },
);
