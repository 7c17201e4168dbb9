// The count the instances share (limiter.ts): one small item per token and per account, in its own partition
// (keys.rateCount). One UpdateItem adds an instance's count and answers the total, at most once per second per
// active subject and instance; the item expires a day after its last addition.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';

const COUNT_TTL_SECONDS = 86_400;

export async function addToSharedCount(subject: string, delta: number): Promise<number> {
  const result = await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.rateCount(subject),
      UpdateExpression: 'ADD admitted :delta SET kind = :kind, expires_at = :expires',
      ExpressionAttributeValues: {
        ':delta': delta,
        ':kind': 'rate_count',
        ':expires': Math.floor(nowMs() / 1000) + COUNT_TTL_SECONDS,
      },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(result.Attributes?.admitted ?? delta);
}
