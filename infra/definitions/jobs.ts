// Scheduled jobs: EventBridge schedules in the cloud, a timer runner and `POST /__local/jobs/{name}` locally.

import type { FunctionName } from './functions.ts';

export type Job = {
  /** The name used by `POST /__local/jobs/{name}`. */
  name: string;
  function: FunctionName;
  /** EventBridge schedule expression. */
  schedule: string;
  /** How often the local runner starts it (local mode runs jobs every minute at most). */
  localEveryMs: number;
};

export const jobs: Job[] = [
  { name: 'expire-holds', function: 'expireHolds', schedule: 'rate(1 minute)', localEveryMs: 60_000 },
  { name: 'auto-refill', function: 'autoRefillSweep', schedule: 'rate(1 minute)', localEveryMs: 60_000 },
  // Five past every hour: the hour just closed, zero hours of idle buyers, and every unreported hour still
  // inside AWS's window (backfill). Locally every 15 minutes (only closed hours are ever sent).
  {
    name: 'marketplace-metering',
    function: 'marketplaceMetering',
    schedule: 'cron(5 * * * ? *)',
    localEveryMs: 15 * 60_000,
  },
  { name: 'reconcile', function: 'reconcile', schedule: 'cron(17 3 * * ? *)', localEveryMs: 60 * 60_000 },
  // 00:15 UTC: on the 1st it invoices the month just closed; other days it finds only what is still due.
  {
    name: 'postpaid-invoices',
    function: 'postpaidInvoices',
    schedule: 'cron(15 0 * * ? *)',
    localEveryMs: 60 * 60_000,
  },
];
