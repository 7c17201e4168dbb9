// The safety net, every minute: refills every listed account whose headroom is below zero, read from the
// sparse GSI2 (shared/auto-refill/headroom.ts). The headroom is kept by the writes that move the balance,
// whatever caused them, so the sweep sees every crossing, independently of what any instance knows; its
// cost grows with the number of accounts below their threshold, never with the number of accounts. The
// index is eventually consistent, so each refill re-reads its account before acting.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { REFILL_SHARDS, refillShard } from '../dynamo/keys.ts';
import { type RefillReport, runRefill } from './refill.ts';

export type SweepReport = { due: number; outcomes: Record<string, number> };

export async function sweepDueRefills(maxPerShard = 500): Promise<SweepReport> {
  const report: SweepReport = { due: 0, outcomes: {} };
  for (let shard = 0; shard < REFILL_SHARDS; shard++) {
    const page = await ddb().send(
      new QueryCommand({
        TableName: config.tableName,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :shard AND refill_headroom < :zero',
        ExpressionAttributeValues: { ':shard': refillShard(shard), ':zero': 0 },
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
