// AWS Marketplace subscription events: EventBridge `aws.agreement-marketplace` (and the legacy SNS topics
// where subscribed). Applies the subscription change and flushes an ended subscription's final usage.
import { processLifecycleEvent } from '#shared/marketplace/lifecycle.ts';
import { flushMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = async (event: Parameters<typeof processLifecycleEvent>[0]) => {
  try {
    const report = await processLifecycleEvent(event);
    logger.info('marketplace lifecycle event', { results: report.results });
    return report;
  } finally {
    flushMetrics();
  }
};
