// The invoicing fan-out's worker: one SQS message per account and closed period, invoiced exactly once.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';
import { type InvoiceRunReport, invoicePeriod } from '#shared/postpaid/invoicing.ts';
import { isPeriod } from '#shared/postpaid/periods.ts';
import { rollupGate } from '#shared/usage/watermark.ts';

const work = z.object({
  account_id: z.string().check(z.minLength(1)),
  period: z.string().check(z.refine(isPeriod, 'is not a YYYY-MM period')),
});

/** SQS reads only `batchItemFailures`; `reports` is for the local stack, which reports what a job run did. */
export const handler = flushingMetrics(
  async (event: SQSEvent): Promise<SQSBatchResponse & { reports: InvoiceRunReport[] }> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    const reports: InvoiceRunReport[] = [];
    // One gate for the batch: once an account waited in vain for the rollups, the others do not wait.
    const gate = rollupGate();
    for (const record of event.Records) {
      try {
        const { account_id, period } = work.parse(JSON.parse(record.body));
        const report = await invoicePeriod(account_id, period, { gate });
        logger.info('postpaid invoice', { ...report });
        reports.push(report);
      } catch (error) {
        logger.error('postpaid invoice failed; the message is retried', {
          error,
          messageId: record.messageId,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures, reports };
  },
);
