// Consistent reads of many items by key in BatchGetItem requests of at most 100 keys, retrying what DynamoDB
// leaves unprocessed with jittered backoff: one place for what balance shards and token limits both read.
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from './client.ts';
import { sleep } from './transact.ts';

type Key = { PK: string; SK: string };

const MAX_KEYS = 100;

/** The items found, in the order of `wanted` (undefined: no such item); `onExhausted` when keys stay unread. */
export async function batchGetConsistent(
  wanted: Key[],
  onExhausted: () => Error,
  attempts = 8,
): Promise<(Record<string, unknown> | undefined)[]> {
  const found = new Map<string, Record<string, unknown>>();
  const id = (key: { PK: unknown; SK: unknown }) => `${String(key.PK)}\u0000${String(key.SK)}`;
  for (let start = 0; start < wanted.length; start += MAX_KEYS) {
    let keysLeft: Record<string, unknown>[] = wanted.slice(start, start + MAX_KEYS);
    for (let attempt = 0; keysLeft.length && attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(Math.random() * 10 * 2 ** attempt);
      const result = await ddb().send(
        new BatchGetCommand({
          RequestItems: { [config.tableName]: { Keys: keysLeft, ConsistentRead: true } },
        }),
      );
      for (const item of result.Responses?.[config.tableName] ?? [])
        found.set(id(item as { PK: unknown; SK: unknown }), item);
      keysLeft = result.UnprocessedKeys?.[config.tableName]?.Keys ?? [];
    }
    if (keysLeft.length) throw onExhausted();
  }
  return wanted.map((key) => found.get(id(key)));
}
