// The safety net, every minute: refills every account marked due, read from the sparse due index (its cost
// grows with the number of due accounts, never with the number of accounts). The index is eventually
// consistent, so each refill re-reads its account before acting.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { type RefillReport, runRefill } from './refill.ts';
import { REFILL_DUE_SHARDS } from './store.ts';

export type SweepReport = { due: number; outcomes: Record<string, number> };

export async function sweepDueRefills(maxPerShard = 500): Promise<SweepReport> {
  const report: SweepReport = { due: 0, outcomes: {} };
  const now = nowIso();
  for (let shard = 0; shard < REFILL_DUE_SHARDS; shard++) {
    const page = await ddb().send(
      new QueryCommand({
        TableName: config.tableName,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :shard AND GSI1SK <= :now',
        ExpressionAttributeValues: { ':shard': `REFILL_DUE#${shard}`, ':now': `${now}~` },
        ProjectionExpression: 'account_id',
        Limit: maxPerShard,
      }),
    );
    for (const item of page.Items ?? []) {
      report.due++;
      const result: RefillReport = await runRefill(String(item.account_id));
      report.outcomes[result.outcome] = (report.outcomes[result.outcome] ?? 0) + 1;
    }
  }
  return report;
}
