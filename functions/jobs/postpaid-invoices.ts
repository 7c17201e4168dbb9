// Scheduled early on the 1st (UTC), and daily as a safety net: queues every closed period still due for
// an invoice to the invoice worker (the fan-out), and reports what it queued.
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';
import { dispatchDueInvoices } from '#shared/postpaid/dispatch.ts';

export const handler = flushingMetrics(async () => {
  const report = await dispatchDueInvoices();
  logger.info('postpaid invoices dispatched', { ...report });
  return report;
});
