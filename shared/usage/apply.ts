// Usage rollups, the execution: the usage rollup consumer hands the new ledger entries of one stream batch
// here (in order, at least once); each planned transaction (shared/usage/rollups.ts) commits the entries'
// markers, increments and watermarks together. An entry whose marker exists was applied before and is left
// out; a transaction that fails otherwise is reported as the batch's first failure, so it and everything
// after it come again (nothing before it does).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { failedCondition, type TransactItem, transactWrite, unexpectedReasons } from '../dynamo/transact.ts';
import { LEDGER_ITEM_KIND, type LedgerEntry } from '../ledger/types.ts';
import { logger, metrics } from '../observability/powertools.ts';
import {
  type Increment,
  MARKER_TTL_SECONDS,
  markerKey,
  planRollups,
  ROLLUP_KIND,
  type RollupChunk,
  type StreamEntry,
} from './rollups.ts';

/** The ledger entry a stream record carries: a new ledger item; anything else is not ours to roll up. */
export function entryOfRecord(record: DynamoDBRecord): LedgerEntry | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return undefined;
  const item = unmarshall(image as Record<string, AttributeValue>);
  return item.kind === LEDGER_ITEM_KIND ? (item as LedgerEntry) : undefined;
}

function incrementUpdate(increment: Increment): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.usageRollup(increment.accountId, increment.sortKey),
      UpdateExpression: `SET kind = :kind, #period = :period, feature = :feature${increment.tokenId ? ', token_id = :token' : ''} ADD cost :cost, requests :requests`,
      ExpressionAttributeNames: { '#period': 'period' },
      ExpressionAttributeValues: {
        ':kind': ROLLUP_KIND,
        ':period': increment.period,
        ':feature': increment.feature,
        ...(increment.tokenId ? { ':token': increment.tokenId } : {}),
        ':cost': increment.cost,
        ':requests': increment.requests,
      },
    },
  };
}

/** The chunk's transaction; its first items are the entries' markers, in the chunk's order. */
function chunkItems(chunk: RollupChunk, markerTtlSeconds: number): TransactItem[] {
  const at = nowIso();
  const expiresAt = Math.floor(nowMs() / 1000) + markerTtlSeconds;
  return [
    ...chunk.entries.map(({ entry }) => ({
      Put: {
        TableName: config.tableName,
        Item: { ...markerKey(entry), kind: 'usage_applied', expires_at: expiresAt },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    })),
    ...chunk.increments.map(incrementUpdate),
    ...[...chunk.accounts].map(([accountId, entries]) => ({
      Update: {
        TableName: config.tableName,
        Key: keys.usageWatermark(accountId),
        UpdateExpression: 'SET kind = :kind, applied_at = :at ADD entries_applied :entries',
        ExpressionAttributeValues: { ':kind': 'usage_watermark', ':at': at, ':entries': entries },
      },
    })),
  ];
}

/**
 * Commits one chunk, leaving out the entries applied before; answers the entries this call applied. The
 * stream's markers live `MARKER_TTL_SECONDS`; the backfill (shared/usage/backfill.ts) passes a longer life.
 */
export async function applyChunk(
  chunk: RollupChunk,
  markerTtlSeconds = MARKER_TTL_SECONDS,
): Promise<StreamEntry[]> {
  let pending = chunk.entries;
  while (pending.length > 0) {
    // A subset of a chunk's entries needs no more items than the chunk: it is one chunk again.
    const [planned] = planRollups(pending);
    const outcome = await transactWrite(chunkItems(planned!, markerTtlSeconds));
    if (outcome.committed) return pending;
    const unexpected = unexpectedReasons(outcome);
    if (unexpected.length) throw new Error(`usage rollup refused by DynamoDB: ${unexpected.join('; ')}`);
    const applied = pending.filter((_, index) => failedCondition(outcome, index));
    if (applied.length === 0) throw new Error('usage rollup refused without a reason');
    pending = pending.filter((_, index) => !failedCondition(outcome, index));
  }
  return [];
}

export async function rollUpLedgerRecords(records: DynamoDBRecord[]): Promise<DynamoDBBatchResponse> {
  const entries: StreamEntry[] = [];
  for (const record of records) {
    const entry = entryOfRecord(record);
    if (entry) entries.push({ entry, sequence: record.dynamodb?.SequenceNumber ?? '' });
  }
  const applied: StreamEntry[] = [];
  let failure: string | undefined;
  for (const chunk of planRollups(entries)) {
    try {
      applied.push(...(await applyChunk(chunk)));
    } catch (error) {
      logger.error('usage rollup failed; the stream delivers the rest of the batch again', { error });
      failure = chunk.entries[0]?.sequence;
      break;
    }
  }
  // How long the oldest entry applied now waited between its ledger write and its rollup: GET /v1/usage's lag.
  if (applied.length > 0) {
    const oldest = Math.min(...applied.map(({ entry }) => Date.parse(entry.created_at)));
    metrics.addMetric('UsageRollupLagMs', MetricUnit.Milliseconds, Math.max(0, nowMs() - oldest));
  }
  return { batchItemFailures: failure === undefined ? [] : [{ itemIdentifier: failure }] };
}
