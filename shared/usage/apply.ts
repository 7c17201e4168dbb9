// Rollups, the execution: the rollup consumer hands the new ledger entries of one stream batch here (in
// order, at least once); each planned transaction (shared/usage/rollups.ts) commits the entries' markers,
// usage increments, period and hour accruals and watermarks together. An entry whose marker exists was
// applied before and is left out; a period or hour found claimed sends its entries to the next one; a
// transaction that fails otherwise is reported as the batch's first failure, so it and everything after it
// come again (nothing before it does). Then the low-balance alerts of the accounts the batch's entries moved
// money for are checked (shared/notifications/low-balance.ts).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { rollupOf } from '../billing-modes/mode.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { failedCondition, type TransactItem, transactWrite, unexpectedReasons } from '../dynamo/transact.ts';
import { LEDGER_ITEM_KIND, type LedgerEntry } from '../ledger/types.ts';
import { accountsToCheck, checkLowBalanceAlerts } from '../notifications/low-balance.ts';
import { logger, metrics } from '../observability/powertools.ts';
import {
  type AccrualIncrement,
  bucketId,
  type Increment,
  MARKER_TTL_SECONDS,
  MAX_TRANSACTION_ITEMS,
  markerKey,
  planRollups,
  ROLLUP_KIND,
  type RollupChunk,
  type StreamEntry,
  type WatermarkIncrement,
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

function accrualUpdate(accrual: AccrualIncrement): TransactItem {
  return rollupOf(accrual.bucket).update(accrual.bucket, accrual);
}

function watermarkUpdate(accountId: string, added: WatermarkIncrement, at: string): TransactItem {
  const accrued = added.accrued > 0 ? ', accrual_entries_applied :accrued' : '';
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.usageWatermark(accountId),
      UpdateExpression: `SET kind = :kind, applied_at = :at ADD entries_applied :entries${accrued}`,
      ExpressionAttributeValues: {
        ':kind': 'usage_watermark',
        ':at': at,
        ':entries': added.entries,
        ...(added.accrued > 0 ? { ':accrued': added.accrued } : {}),
      },
    },
  };
}

/**
 * The chunk's transaction: first the entries' markers, in the chunk's order, then the usage increments, the
 * period and hour accruals (`accruals` lists their bucket ids by item index) and the watermarks.
 */
function chunkTransaction(
  chunk: RollupChunk,
  markerTtlSeconds: number,
): { items: TransactItem[]; accruals: Map<number, string> } {
  const at = nowIso();
  const expiresAt = Math.floor(nowMs() / 1000) + markerTtlSeconds;
  const items: TransactItem[] = [
    ...chunk.entries.map(({ entry }) => ({
      Put: {
        TableName: config.tableName,
        Item: { ...markerKey(entry), kind: 'usage_applied', expires_at: expiresAt },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    })),
    ...chunk.increments.map(incrementUpdate),
  ];
  const accruals = new Map<number, string>();
  for (const accrual of chunk.accruals)
    accruals.set(items.push(accrualUpdate(accrual)) - 1, bucketId(accrual.bucket));
  items.push(...[...chunk.accounts].map(([accountId, added]) => watermarkUpdate(accountId, added, at)));
  return { items, accruals };
}

/**
 * Commits the first chunk of `pending`. Cancelled: the entries whose markers exist were applied before and
 * are left out, the period or hour items found claimed join `closed` (their entries move to the next one),
 * and the caller plans again. Throws when DynamoDB refused the transaction for another reason.
 */
async function commitFirstChunk(
  pending: StreamEntry[],
  closed: Set<string>,
  markerTtlSeconds = MARKER_TTL_SECONDS,
): Promise<{ chunk: RollupChunk; committed: boolean; left: StreamEntry[] }> {
  const [chunk] = planRollups(pending, MAX_TRANSACTION_ITEMS, closed);
  const { items, accruals } = chunkTransaction(chunk!, markerTtlSeconds);
  const outcome = await transactWrite(items);
  if (outcome.committed)
    return { chunk: chunk!, committed: true, left: pending.slice(chunk!.entries.length) };
  const unexpected = unexpectedReasons(outcome);
  if (unexpected.length) throw new Error(`rollup refused by DynamoDB: ${unexpected.join('; ')}`);
  const appliedBefore = new Set(chunk!.entries.filter((_, index) => failedCondition(outcome, index)));
  const claimed = [...accruals].filter(([index]) => failedCondition(outcome, index));
  if (appliedBefore.size === 0 && claimed.length === 0) throw new Error('rollup refused without a reason');
  for (const [, id] of claimed) closed.add(id);
  return { chunk: chunk!, committed: false, left: pending.filter((entry) => !appliedBefore.has(entry)) };
}

/**
 * Applies `entries` as the consumer does, all of them or a throw (the usage backfill, shared/usage/backfill.ts,
 * whose markers live `markerTtlSeconds`); answers how many this call applied (the rest had been).
 */
export async function applyEntries(entries: StreamEntry[], markerTtlSeconds: number): Promise<number> {
  let pending = entries;
  let applied = 0;
  const closed = new Set<string>();
  while (pending.length > 0) {
    const attempt = await commitFirstChunk(pending, closed, markerTtlSeconds);
    if (attempt.committed) applied += attempt.chunk.entries.length;
    pending = attempt.left;
  }
  return applied;
}

export async function rollUpLedgerRecords(records: DynamoDBRecord[]): Promise<DynamoDBBatchResponse> {
  let pending: StreamEntry[] = [];
  for (const record of records) {
    const entry = entryOfRecord(record);
    if (entry) pending.push({ entry, sequence: record.dynamodb?.SequenceNumber ?? '' });
  }
  const received = pending;
  const applied: StreamEntry[] = [];
  let redirected = 0;
  let failure: string | undefined;
  // Claimed periods and hours only stay claimed: what this invocation learnt holds for all its chunks.
  const closed = new Set<string>();
  while (pending.length > 0) {
    try {
      const attempt = await commitFirstChunk(pending, closed);
      if (attempt.committed) {
        applied.push(...attempt.chunk.entries);
        redirected += attempt.chunk.redirected;
      }
      pending = attempt.left;
    } catch (error) {
      logger.error('rollup failed; the stream delivers the rest of the batch again', { error });
      failure = pending[0]?.sequence;
      break;
    }
  }
  // How long the oldest entry applied now waited between its ledger write and its rollup: GET /v1/usage's
  // lag, and how long invoicing and metering wait for an account's rollups.
  if (applied.length > 0) {
    const oldest = Math.min(...applied.map(({ entry }) => Date.parse(entry.created_at)));
    metrics.addMetric('UsageRollupLagMs', MetricUnit.Milliseconds, Math.max(0, nowMs() - oldest));
  }
  if (redirected > 0) {
    // A late entry (a skewed clock, a reversal long after its call) billed in a later period or hour.
    metrics.addMetric('RollupEntriesRedirected', MetricUnit.Count, redirected);
    logger.warn('accrued entries billed in a later period or hour than their own (theirs was claimed)', {
      entries: redirected,
      claimed: [...closed],
    });
  }
  // The low-balance alerts of the accounts whose entries this batch is done with (applied now or before; the
  // rest come again and are checked then). Never throws: the rollups' answer does not depend on it.
  const left = new Set(pending);
  await checkLowBalanceAlerts(
    accountsToCheck(received.filter((e) => !left.has(e)).map(({ entry }) => entry)),
  );
  return { batchItemFailures: failure === undefined ? [] : [{ itemIdentifier: failure }] };
}
