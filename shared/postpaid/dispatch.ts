// The monthly invoicing job's dispatcher: reads the sparse due index (`INVOICE_DUE#<period>#<shard>`) of
// every closed period in the backfill window, so its cost grows with the periods still to invoice, never
// with the number of accounts, and fans the account-periods out to the invoice worker in batches of ten.
// The index is eventually consistent and may list finished periods: the worker re-reads before acting.
import { nowMs } from '../clock.ts';
import { config, optionalNumber } from '../config.ts';
import { INVOICE_DUE_SHARDS, keys } from '../dynamo/keys.ts';
import { queryPages } from '../dynamo/query.ts';
import type { InvoiceRunReport } from './invoicing.ts';
import { closedPeriods } from './periods.ts';
import { enqueueInvoiceWork, type InvoiceWork, SQS_BATCH } from './queue.ts';

export type DispatchReport = {
  /** The closed periods looked at, oldest first. */
  periods: string[];
  due: number;
  queued: number;
  /** Local mode: what the worker did with each, by outcome. */
  outcomes?: Record<string, number>;
  /** Not queued (cloud) or failed in the worker (local); they stay due for the next run. */
  failed?: number;
};

/** POSTPAID_INVOICE_BACKFILL_MONTHS (default 12): how many closed months back the job looks. */
export function backfillMonths(): number {
  return Math.max(1, Math.floor(optionalNumber('POSTPAID_INVOICE_BACKFILL_MONTHS', 12)));
}

/** Batches in flight at once while queueing. */
const PARALLEL_BATCHES = 8;

export async function dispatchDueInvoices(): Promise<DispatchReport> {
  const periods = closedPeriods(nowMs(), backfillMonths());
  const report: DispatchReport = { periods, due: 0, queued: 0 };
  const reports: InvoiceRunReport[] = [];
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const queue = async (batch: InvoiceWork[]) => {
    const run = enqueueInvoiceWork(batch).then(
      (done) => {
        report.queued += batch.length;
        if (!done) return;
        reports.push(...done);
        failed += batch.length - done.length;
      },
      () => {
        failed += batch.length;
      },
    );
    const tracked = run.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= PARALLEL_BATCHES) await Promise.race(inFlight);
  };

  // Each period's shards are read in parallel (one partition each); pages are queued as they arrive.
  const readShard = async (period: string, shard: number) => {
    let batch: InvoiceWork[] = [];
    for await (const page of queryPages({
      TableName: config.tableName,
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :shard',
      ExpressionAttributeValues: { ':shard': keys.invoiceDueShard(period, shard) },
      ProjectionExpression: 'account_id',
    })) {
      for (const item of page) {
        report.due++;
        batch.push({ account_id: String(item.account_id), period });
        if (batch.length === SQS_BATCH) {
          await queue(batch);
          batch = [];
        }
      }
    }
    if (batch.length > 0) await queue(batch);
  };
  for (const period of periods) {
    await Promise.all(Array.from({ length: INVOICE_DUE_SHARDS }, (_, shard) => readShard(period, shard)));
  }
  await Promise.all(inFlight);
  if (reports.length > 0) {
    report.outcomes = {};
    for (const done of reports) report.outcomes[done.outcome] = (report.outcomes[done.outcome] ?? 0) + 1;
  }
  if (failed > 0) report.failed = failed;
  if (failed > 0 && !config.localMode) {
    // Everything else is queued; failing the run raises the job's error alarm, and the next run retries them.
    throw new Error(`invoice dispatch: ${failed} of ${report.due} account-periods could not be queued`);
  }
  return report;
}
