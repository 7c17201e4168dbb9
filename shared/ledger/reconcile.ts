// Reconciliation: recomputes every account's balance from its ledger and reports drift (invariant 3).
// A daily job and an operator tool, never part of a request: it walks all accounts, a segment of the
// table at a time, and reads each account's ledger with bounded queries.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { getAccount } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { queryPages, scanPages } from '../dynamo/query.ts';
import { logger, metrics } from '../observability/powertools.ts';

export type Drift = {
  account_id: string;
  balance: number;
  ledger_sum: number;
  held: number;
  open_holds: number;
};
export type ReconcileReport = { accounts: number; drifted: Drift[] };

async function sumOf(accountId: string, prefix: string, field: string, filter?: string): Promise<number> {
  let total = 0;
  for await (const page of queryPages({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ...(filter ? { FilterExpression: filter } : {}),
    ExpressionAttributeValues: {
      ':pk': keys.account(accountId).PK,
      ':prefix': prefix,
      ...(filter ? { ':open': 'open' } : {}),
    },
    ...(filter ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
    ProjectionExpression: field,
    ConsistentRead: true,
  })) {
    for (const item of page) total += Number(item[field] ?? 0);
  }
  return total;
}

/**
 * Compares each account's `balance` with the sum of its ledger and `held` with its open holds. An account
 * written to while it is read can show a transient difference, so a drift is re-checked once before it
 * is reported.
 */
export async function reconcileAll(segments = 4): Promise<ReconcileReport> {
  const report: ReconcileReport = { accounts: 0, drifted: [] };
  const check = async (accountId: string): Promise<Drift | undefined> => {
    const item = await getAccount(accountId);
    if (!item) return undefined;
    const ledgerSum = await sumOf(accountId, keys.ledgerPrefix, 'amount');
    const openHolds = await sumOf(accountId, 'HOLD#', 'amount', '#status = :open');
    if (ledgerSum === item.balance && openHolds === item.held) return undefined;
    return {
      account_id: accountId,
      balance: item.balance,
      ledger_sum: ledgerSum,
      held: item.held,
      open_holds: openHolds,
    };
  };
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      for await (const page of scanPages({
        TableName: config.tableName,
        Segment: segment,
        TotalSegments: segments,
        FilterExpression: 'SK = :sk',
        ExpressionAttributeValues: { ':sk': 'ACCOUNT' },
        ProjectionExpression: 'account_id',
      })) {
        for (const item of page) {
          report.accounts++;
          const accountId = String(item.account_id);
          const drift = (await check(accountId)) && (await check(accountId));
          if (drift) report.drifted.push(drift);
        }
      }
    }),
  );
  metrics.addMetric('LedgerDriftAccounts', MetricUnit.Count, report.drifted.length);
  if (report.drifted.length) logger.error('ledger drift found', { drifted: report.drifted });
  return report;
}
