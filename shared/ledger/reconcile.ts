// Reconciliation: checks every account's balance against the sum of its ledger and its held amount against
// its open holds (invariant 3), and reports drift. A daily job and an operator tool, never part of a request.
//
// Incremental: each account keeps a checkpoint (the last ledger sort key summed, the sum and the count up to
// it, and the first hold that may still be open), so a run reads only what was written since the last one.
// Exact: the account's entry_count changes in the same transaction as every ledger entry, so when the
// checkpoint's count plus the entries read equals the entry_count read after them, those entries are exactly
// the ones the balance reflects. Anything else (a write meanwhile, an entry that landed below the checkpoint)
// is read again, from the start of the ledger if need be, before an account is reported.
// Bounded: the walk over the accounts stops when the invocation's time runs low and the next run resumes it.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DeleteCommand, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type Account, getAccount } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { queryPages } from '../dynamo/query.ts';
import { logger, metrics } from '../observability/powertools.ts';
import { ledgerPartitions, type Placement, placementOf } from './shards.ts';

export type Drift = {
  account_id: string;
  balance: number;
  ledger_sum: number;
  held: number;
  open_holds: number;
};

export type ReconcileReport = {
  /** Accounts checked by this run. */
  accounts: number;
  drifted: Drift[];
  /** Ledger entries and holds read: what the checkpoints save. */
  items_read: number;
  /** False when the time budget ran out first; the next run resumes where this one stopped. */
  complete: boolean;
};

export type ReconcileOptions = {
  segments?: number;
  /** The invocation's remaining time (context.getRemainingTimeInMillis); without it, no budget. */
  remainingMs?: () => number;
  /** Stop starting new accounts when less than this is left. @default 60 s */
  reserveMs?: number;
  /** Items a page of the account walk evaluates (DynamoDB's 1 MB pages by default). */
  pageLimit?: number;
};

/** The prefix of an account's ledger already summed: every entry with a sort key up to `through`. */
type Checkpoint = {
  through: string;
  sum: number;
  count: number;
  /** Every hold before this sort key is closed (a closed hold never reopens). */
  holds_from: string;
};

const START: Checkpoint = { through: keys.ledgerPrefix, sum: 0, count: 0, holds_from: keys.holdPrefix };
/** The sort key just above every ledger key: the end of a `SK > :after AND SK < :end` range. */
const LEDGER_END = `${keys.ledgerPrefix}\uffff`;
const HOLDS_END = `${keys.holdPrefix}\uffff`;

async function readCheckpoint(accountId: string): Promise<Checkpoint> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.reconcileCheckpoint(accountId),
      ConsistentRead: true,
    }),
  );
  const item = result.Item;
  if (!item) return START;
  return {
    through: String(item.through),
    sum: Number(item.sum),
    count: Number(item.count),
    holds_from: String(item.holds_from),
  };
}

async function saveCheckpoint(accountId: string, checkpoint: Checkpoint): Promise<void> {
  await ddb().send(
    new PutCommand({
      TableName: config.tableName,
      Item: { ...keys.reconcileCheckpoint(accountId), kind: 'reconcile_checkpoint', ...checkpoint },
    }),
  );
}

type Tail = { sum: number; count: number; last: string | undefined };

/**
 * Sums the ledger entries after `after` (a sort key), in every partition holding the account's entries (its
 * own, and its ledger slots once it was sharded: shards.ts); `last` is the highest sort key read.
 */
async function ledgerAfter(accountId: string, after: string, placement: Placement): Promise<Tail> {
  const tail: Tail = { sum: 0, count: 0, last: undefined };
  for (const pk of ledgerPartitions(accountId, placement)) {
    for await (const page of queryPages({
      TableName: config.tableName,
      KeyConditionExpression: 'PK = :pk AND SK BETWEEN :after AND :end',
      ExpressionAttributeValues: { ':pk': pk, ':after': after, ':end': LEDGER_END },
      ProjectionExpression: 'SK, amount',
      ConsistentRead: true,
    })) {
      for (const item of page) {
        if (item.SK === after) continue;
        tail.sum += Number(item.amount ?? 0);
        tail.count++;
        if (tail.last === undefined || String(item.SK) > tail.last) tail.last = String(item.SK);
      }
    }
  }
  return tail;
}

type Holds = { open: number; read: number; firstOpen: string | undefined; last: string | undefined };

/** Sums the open holds from `from` (a sort key) on; every hold before it is known to be closed. */
async function holdsFrom(accountId: string, from: string): Promise<Holds> {
  const holds: Holds = { open: 0, read: 0, firstOpen: undefined, last: undefined };
  for await (const page of queryPages({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :end',
    ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':from': from, ':end': HOLDS_END },
    ExpressionAttributeNames: { '#status': 'status' },
    ProjectionExpression: 'SK, amount, #status',
    ConsistentRead: true,
  })) {
    for (const item of page) {
      holds.read++;
      holds.last = String(item.SK);
      if (item.status !== 'open') continue;
      holds.open += Number(item.amount ?? 0);
      holds.firstOpen ??= String(item.SK);
    }
  }
  return holds;
}

type Check = { drift: Drift | undefined; read: number };

/**
 * Checks one account from its checkpoint. Counts that disagree are read once more from where the first
 * read stopped (writes made meanwhile), then from the start of the ledger (an entry below the checkpoint);
 * a held amount that disagrees is checked against all the account's holds, then once more.
 */
export async function reconcileAccount(accountId: string): Promise<Check> {
  let read = 0;
  const saved = await readCheckpoint(accountId);
  let base = saved;
  let account: Account | undefined;
  let ledgerSum = 0;
  let settled: Checkpoint | undefined;
  // The layout before the entries: an account sharded meanwhile is read again (its counts disagree).
  let placement = placementOf((await getAccount(accountId)) ?? {});
  for (const fallback of ['extend', 'restart', 'last'] as const) {
    const tail = await ledgerAfter(accountId, base.through, placement);
    read += tail.count;
    account = await getAccount(accountId);
    if (!account) return { drift: undefined, read };
    placement = placementOf(account);
    const counted = base.count + tail.count;
    ledgerSum = base.sum + tail.sum;
    const reached = { ...base, through: tail.last ?? base.through, sum: ledgerSum, count: counted };
    if (counted === account.entry_count) {
      settled = reached;
      break;
    }
    if (fallback === 'extend') base = counted < account.entry_count ? reached : START;
    else base = START;
  }
  if (!account) return { drift: undefined, read };

  // A hold reserved or closed meanwhile, or created below holds_from (a retried request keeps its old
  // id): read all the account's holds, and once more with the held amount read again.
  let held = account.held;
  let holds = await holdsFrom(accountId, saved.holds_from);
  read += holds.read;
  for (let attempt = 0; holds.open !== held && attempt < 2; attempt++) {
    if (attempt > 0) held = (await getAccount(accountId))?.held ?? held;
    holds = await holdsFrom(accountId, keys.holdPrefix);
    read += holds.read;
  }
  const holdsFromNext = holds.firstOpen ?? holds.last ?? saved.holds_from;

  if (settled) await saveCheckpoint(accountId, { ...settled, holds_from: holdsFromNext });
  if (ledgerSum === account.balance && holds.open === held) return { drift: undefined, read };
  return {
    drift: {
      account_id: accountId,
      balance: account.balance,
      ledger_sum: ledgerSum,
      held,
      open_holds: holds.open,
    },
    read,
  };
}

type Cursor = Record<string, unknown> | undefined;

async function readCursors(segments: number): Promise<Cursor[]> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.reconcileRun, ConsistentRead: true }),
  );
  const saved = result.Item?.cursors as (Cursor | null)[] | undefined;
  // A pass started with another segment count cannot be resumed segment by segment: start it again.
  if (!saved || saved.length !== segments) return Array.from({ length: segments }, () => undefined);
  return saved.map((cursor) => cursor ?? undefined);
}

/** `done` marks a segment whose walk is finished (resumed runs skip it). */
const DONE = { done: true } as const;

async function saveCursors(cursors: (Cursor | typeof DONE)[]): Promise<void> {
  await ddb().send(
    new PutCommand({
      TableName: config.tableName,
      Item: { ...keys.reconcileRun, kind: 'reconcile_run', cursors: cursors.map((c) => c ?? null) },
    }),
  );
}

/**
 * Walks every account (a parallel scan that keeps account items only) and checks each from its checkpoint.
 * When the time left falls below `reserveMs`, it stops and records where each segment stopped.
 */
export async function reconcileAll(options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const segments = options.segments ?? 4;
  const reserveMs = options.reserveMs ?? 60_000;
  const outOfTime = () => options.remainingMs !== undefined && options.remainingMs() < reserveMs;
  const report: ReconcileReport = { accounts: 0, drifted: [], items_read: 0, complete: true };
  const cursors: (Cursor | typeof DONE)[] = await readCursors(segments);
  await Promise.all(
    cursors.map(async (start, segment) => {
      if (start && 'done' in start) return;
      let startKey = start;
      for (;;) {
        if (outOfTime()) {
          cursors[segment] = startKey;
          report.complete = false;
          return;
        }
        const page = await scanPage(segment, segments, startKey, options.pageLimit);
        for (const accountId of page.accountIds) {
          const check = await reconcileAccount(accountId);
          report.accounts++;
          report.items_read += check.read;
          if (check.drift) report.drifted.push(check.drift);
        }
        startKey = page.next;
        if (!startKey) {
          cursors[segment] = DONE;
          return;
        }
      }
    }),
  );
  if (report.complete) {
    await ddb().send(new DeleteCommand({ TableName: config.tableName, Key: keys.reconcileRun }));
  } else {
    await saveCursors(cursors);
  }
  metrics.addMetric('LedgerDriftAccounts', MetricUnit.Count, report.drifted.length);
  if (report.drifted.length) logger.error('ledger drift found', { drifted: report.drifted });
  return report;
}

/** One page of the account walk: a page ends between accounts, so a stop never splits one. */
async function scanPage(
  segment: number,
  segments: number,
  startKey: Cursor,
  limit: number | undefined,
): Promise<{ accountIds: string[]; next: Cursor }> {
  const page = await ddb().send(
    new ScanCommand({
      TableName: config.tableName,
      Segment: segment,
      TotalSegments: segments,
      FilterExpression: 'SK = :sk',
      ExpressionAttributeValues: { ':sk': 'ACCOUNT' },
      ProjectionExpression: 'account_id',
      ExclusiveStartKey: startKey,
      ...(limit ? { Limit: limit } : {}),
    }),
  );
  return {
    accountIds: (page.Items ?? []).map((item) => String(item.account_id)),
    next: page.LastEvaluatedKey,
  };
}
