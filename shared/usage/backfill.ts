// The one-off usage backfill for a deployment upgraded from the usage-day items: every ledger entry written
// before the table's stream existed is rolled up by the same plan and transactions as the stream consumer
// (shared/usage/apply.ts), so `GET /v1/usage` covers the account's whole history.
//
// Exactly once, with the consumer running: an entry is applied with the same marker
// (`USAGE_APPLIED#<account>#<entry>`) the consumer puts, so an entry that both see (written around the
// moment the stream was enabled) counts once, whichever comes first. The backfill's markers live 30 days
// (the consumer's 3): an interrupted backfill run again within that time skips what it applied. A finished
// backfill records itself (`USAGE_BACKFILL`) and a second run stops at once; entries after `before` are
// the stream's.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { LEDGER_ITEM_KIND, type LedgerEntry } from '../ledger/types.ts';
import { applyEntries } from './apply.ts';
import type { StreamEntry } from './rollups.ts';

/** How long the backfill's markers outlive it: the window in which an interrupted run can be resumed. */
export const BACKFILL_MARKER_TTL_SECONDS = 30 * 86_400;

/** The record of a finished backfill (one per table). */
export const BACKFILL_DONE_KEY = { PK: 'USAGE_BACKFILL', SK: 'USAGE_BACKFILL' };

export type BackfillReport = {
  before: string;
  /** Ledger entries older than `before` that the scan found. */
  entries: number;
  /** Of those, the ones this run rolled up (the rest had been: by the stream, or by an earlier run). */
  applied: number;
  /** Set when a finished backfill was found: nothing was done. */
  alreadyDoneAt?: string;
  dryRun: boolean;
};

/**
 * When the table's stream was enabled: DynamoDB names a stream by that moment (`LatestStreamLabel`, an ISO
 * time without a zone, UTC). Every ledger entry since then reached the consumer.
 */
export async function streamEnabledAt(): Promise<string> {
  const { Table } = await ddb().send(new DescribeTableCommand({ TableName: config.tableName }));
  const label = Table?.LatestStreamLabel;
  if (!label) throw new Error(`table ${config.tableName} has no stream: deploy the upgrade first`);
  return new Date(/[zZ]|[+-]\d\d:\d\d$/.test(label) ? label : `${label}Z`).toISOString();
}

export async function backfillUsage(options: {
  before?: string;
  dryRun?: boolean;
  /** Items a scan page reads at most (DynamoDB's 1 MB page when unset). */
  pageSize?: number;
  /** Each page's progress (the CLI prints it). */
  onPage?: (report: BackfillReport) => void;
}): Promise<BackfillReport> {
  const before = options.before ?? (await streamEnabledAt());
  const dryRun = options.dryRun ?? false;
  const report: BackfillReport = { before, entries: 0, applied: 0, dryRun };
  const done = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: BACKFILL_DONE_KEY, ConsistentRead: true }),
  );
  if (done.Item)
    return { ...report, before: done.Item.before as string, alreadyDoneAt: done.Item.completed_at as string };

  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb().send(
      new ScanCommand({
        TableName: config.tableName,
        FilterExpression: 'kind = :ledger AND created_at < :before',
        ExpressionAttributeValues: { ':ledger': LEDGER_ITEM_KIND, ':before': before },
        ExclusiveStartKey: startKey,
        ...(options.pageSize ? { Limit: options.pageSize } : {}),
        ConsistentRead: true,
      }),
    );
    const entries: StreamEntry[] = (page.Items ?? []).map((item) => ({
      entry: item as LedgerEntry,
      sequence: (item as LedgerEntry).entry_id,
    }));
    report.entries += entries.length;
    if (!dryRun) report.applied += await applyEntries(entries, BACKFILL_MARKER_TTL_SECONDS);
    options.onPage?.(report);
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  if (!dryRun)
    await ddb().send(
      new PutCommand({
        TableName: config.tableName,
        Item: {
          ...BACKFILL_DONE_KEY,
          kind: 'usage_backfill',
          before,
          completed_at: nowIso(),
          entries: report.entries,
        },
      }),
    );
  return report;
}
