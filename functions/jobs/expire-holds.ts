// Scheduled every minute: releases holds whose invocation never settled them.
import { expireDueHolds } from '#shared/ledger/expiry.ts';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(async () => {
  const report = await expireDueHolds();
  logger.info('expired holds', { ...report });
  return report;
});
