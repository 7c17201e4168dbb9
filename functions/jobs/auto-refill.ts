// Scheduled every minute: refills the accounts marked due that the prompt trigger has not (yet) handled.
import { sweepDueRefills } from '#shared/auto-refill/sweep.ts';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(async () => {
  const report = await sweepDueRefills();
  logger.info('auto-refill sweep', { ...report });
  return report;
});
