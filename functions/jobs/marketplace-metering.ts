// Scheduled hourly: reports every buyer-hour to AWS Marketplace (BatchMeterUsage), zero hours included,
// and backfills every unreported hour still inside the window. `{"dry_run": true}` in the event's detail
// (or MARKETPLACE_METERING_DRY_RUN=true) answers what it would send without sending.
import { runMetering } from '#shared/marketplace/metering.ts';
import { flushMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = async (event?: { detail?: { dry_run?: unknown } }) => {
  try {
    const dryRun = event?.detail?.dry_run === true ? true : undefined;
    const summary = await runMetering(dryRun ? { dryRun } : {});
    logger.info('marketplace metering', {
      dry_run: summary.dry_run,
      reported: summary.reported,
      rejected: summary.rejected,
      rolled_over: summary.rolled_over,
      unsent: summary.unsent,
      oldest_unreported_hour: summary.oldest_unreported_hour,
    });
    return summary;
  } finally {
    flushMetrics();
  }
};
