// Scheduled daily: recomputes every balance from the ledger and reports drift (metric LedgerDriftAccounts).
import { reconcileAll } from '#shared/ledger/reconcile.ts';
import { flushingMetrics, logger } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(async () => {
  const report = await reconcileAll();
  logger.info('reconciliation finished', { accounts: report.accounts, drifted: report.drifted.length });
  return report;
});
