// Releases holds that were never settled (the invocation crashed or timed out): reads only the due holds,
// from the sparse open-holds index shards, and closes each with a conditional write so that a hold settled
// in the meantime (the index is eventually consistent) is left alone.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys, OPEN_HOLD_SHARDS } from '../dynamo/keys.ts';
import { releaseHold } from './ledger.ts';
import type { Hold } from './types.ts';

export type ExpiryReport = { due: number; expired: number; already_closed: number };

/** At most `maxPerShard` holds per shard per run; the next run (every minute) takes the rest. */
export async function expireDueHolds(maxPerShard = 1_000): Promise<ExpiryReport> {
  const now = nowIso();
  const report: ExpiryReport = { due: 0, expired: 0, already_closed: 0 };
  for (let shard = 0; shard < OPEN_HOLD_SHARDS; shard++) {
    let startKey: Record<string, unknown> | undefined;
    let seen = 0;
    do {
      const page = await ddb().send(
        new QueryCommand({
          TableName: config.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :shard AND GSI1SK < :now',
          ExpressionAttributeValues: { ':shard': keys.openHoldShard(shard), ':now': now },
          ExclusiveStartKey: startKey,
          Limit: Math.min(100, maxPerShard - seen),
        }),
      );
      for (const item of (page.Items ?? []) as Hold[]) {
        report.due++;
        if (await releaseHold(item, 'expired', now)) report.expired++;
        else report.already_closed++;
      }
      seen += page.Items?.length ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey && seen < maxPerShard);
  }
  return report;
}
