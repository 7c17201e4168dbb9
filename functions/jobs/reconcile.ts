// Scheduled daily: checks every balance against its ledger from each account's checkpoint and reports
// drift (metric LedgerDriftAccounts); stops before its timeout and the next run resumes.
import type { Context } from 'aws-lambda';
import { reconcileAll } from '#shared/ledger/reconcile.ts';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(
  async (_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const report = await reconcileAll(
      context ? { remainingMs: () => context.getRemainingTimeInMillis() } : {},
    );
    logger.info('reconciliation finished', {
      accounts: report.accounts,
      drifted: report.drifted.length,
      items_read: report.items_read,
      complete: report.complete,
    });
    return report;
  },
);
