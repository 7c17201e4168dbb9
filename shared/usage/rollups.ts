// Rollups, the plan: what a batch of new ledger entries adds to the fixed-size usage items that
// `GET /v1/usage` reads, and to the period items (postpaid) and hour records (marketplace) that invoices and
// AWS metering are made from, as transactions of at most 100 items. Pure; shared/usage/apply.ts executes it.
//
// Layout (partition `USAGE#<account>`, one item per key, ~150 bytes each, whatever the traffic):
//   D#<YYYY-MM-DD>#<feature>                 the account's day × feature
//   M#<YYYY-MM>#<feature>                    the account's month × feature
//   T#<token>#D#<YYYY-MM-DD>#<feature>       one token's day × feature
//   T#<token>#M#<YYYY-MM>#<feature>          one token's month × feature
// Each holds `cost` (micro-USD) and `requests`. Totals are sums of features, so no item lists features or
// tokens: more tokens or features make more items, never bigger ones. Token items are per feature because
// `GET /v1/usage?token_id=` answers `by_feature` too.
//
// Exactly once: every entry's transaction also puts its marker (`USAGE_APPLIED#<account>#<entry>`, condition
// attribute_not_exists, TTL 3 days, longer than the 24 h the stream keeps a record). A redelivered entry
// finds its marker and is left out; its increments were committed with that marker, all or nothing. A
// per-shard checkpoint would write less, but Lambda's DynamoDB stream events do not name their shard, and
// sequence numbers are ordered only within one: a marker needs neither, and holds under bisected batches,
// partial-batch retries and a timed-out invocation racing its retry.
//
// Billing (the accrual): an entry written with `billing_mode` (postpaid or marketplace usage, and its
// reversal) also adds to one period item `PERIOD#<YYYY-MM>` (cost, requests, its feature's line) or hour
// record `MKT_HOUR#<hour>#<dimension>` (cost, requests), the one of its time (a reversal: of its charge's
// time), in the same transaction as its marker. A period or hour its job has claimed refuses the write; the
// entry is then planned into the next one, and the next, until one is open (`closed` lists those learnt),
// so every accrued micro-dollar is billed exactly once, a late one in the next period or hour. Entries
// without `billing_mode` were summed there by their own charging transaction, before the upgrade: they add
// nothing here. Each item also counts the entries rolled in (`entries`), which never decreases: the jobs'
// claims compare it with what they read.
import { type AccrualBucket, modeNamed, rollupOf } from '../billing-modes/mode.ts';
import { keys } from '../dynamo/keys.ts';
import type { LedgerEntry } from '../ledger/types.ts';
import type { FeatureSums } from '../postpaid/store.ts';

export const ROLLUP_KIND = 'usage_rollup';
/** TransactWriteItems takes at most 100 items. */
export const MAX_TRANSACTION_ITEMS = 100;
/** A marker outlives every redelivery: the stream keeps a record 24 h, TTL deletes only after expiry. */
export const MARKER_TTL_SECONDS = 3 * 86_400;

export type Grain = 'day' | 'month';

/** The usage one ledger entry adds: a charge adds its cost and one request; its reversal takes both back. */
export type EntryUsage = { day: string; feature: string; tokenId?: string; cost: number; requests: number };

export function usageOfEntry(entry: LedgerEntry): EntryUsage | undefined {
  if ((entry.type !== 'usage' && entry.type !== 'reversal') || !entry.feature) return undefined;
  // Debited usage moves `amount` (−cost); accrued usage moves `accrued` (+cost) and leaves amount at 0.
  const cost = entry.accrued ?? -entry.amount;
  // A reversal counts on the day of the charge it gives back, so a call reversed after midnight nets to zero
  // (a reversal written before `reverses_at` existed counts on its own day).
  const at = entry.type === 'reversal' ? (entry.reverses_at ?? entry.created_at) : entry.created_at;
  return {
    day: at.slice(0, 10),
    feature: entry.feature,
    ...(entry.token_id ? { tokenId: entry.token_id } : {}),
    cost,
    requests: entry.type === 'usage' ? 1 : -1,
  };
}

/** `period`: YYYY-MM-DD for a day, YYYY-MM for a month. */
export function rollupSortKey(period: string, feature: string, tokenId?: string): string {
  return `${tokenId ? `T#${tokenId}#` : ''}${period.length === 10 ? 'D' : 'M'}#${period}#${feature}`;
}

/** The sort key range of every feature's rollup from period `from` to `to` (same grain), inclusive. */
export function rollupRange(grain: Grain, from: string, to: string, tokenId?: string) {
  const prefix = `${tokenId ? `T#${tokenId}#` : ''}${grain === 'day' ? 'D' : 'M'}#`;
  // '~' sorts after every character a feature id may hold ([A-Za-z0-9_-]).
  return { from: `${prefix}${from}#`, to: `${prefix}${to}#~` };
}

export type Increment = {
  accountId: string;
  sortKey: string;
  period: string;
  feature: string;
  tokenId?: string;
  cost: number;
  requests: number;
};

/** A ledger entry as the stream delivered it; `sequence` names its record in a partial-batch failure. */
export type StreamEntry = { entry: LedgerEntry; sequence: string };

export type { AccrualBucket };

/** What one accrued entry adds to its bucket: a charge its cost and one request; its reversal takes both back. */
export type EntryAccrual = { bucket: AccrualBucket; feature: string } & FeatureSums;

/** Where an entry is billed, as its mode keeps it (the entry's `billing_mode`); undefined: nothing to bill. */
export function accrualOfEntry(entry: LedgerEntry): EntryAccrual | undefined {
  const rollup = entry.billing_mode ? modeNamed(entry.billing_mode).accrual : undefined;
  if (!rollup || entry.accrued === undefined) return undefined;
  if (entry.type !== 'usage' && entry.type !== 'reversal') return undefined;
  const sign = entry.type === 'usage' ? 1 : -1;
  // Like usage, a reversal is billed where its charge was: the charge's period or hour.
  const at = entry.type === 'reversal' ? (entry.reverses_at ?? entry.created_at) : entry.created_at;
  return {
    bucket: rollup.bucketOf(entry, at),
    feature: entry.feature ?? '',
    cost: entry.accrued,
    quantity: sign * (entry.quantity ?? 1),
    requests: sign,
  };
}

export function bucketId(bucket: AccrualBucket): string {
  return rollupOf(bucket).id(bucket);
}

/** The period or hour after `bucket`: where an entry goes when `bucket` was claimed before it was rolled in. */
export function nextBucket(bucket: AccrualBucket): AccrualBucket {
  return rollupOf(bucket).next(bucket);
}

/** The first bucket from `bucket` on that is not known to be claimed. */
export function openBucket(bucket: AccrualBucket, closed: ReadonlySet<string>): AccrualBucket {
  let target = bucket;
  while (closed.has(bucketId(target))) target = nextBucket(target);
  return target;
}

/** What a chunk's entries add to one bucket (a postpaid one per feature too). */
export type AccrualIncrement = {
  bucket: AccrualBucket;
  cost: number;
  requests: number;
  entries: number;
  features: Map<string, FeatureSums>;
};

/** What a chunk adds to an account's watermark: every entry, and the accrued ones among them. */
export type WatermarkIncrement = { entries: number; accrued: number };

/** One transaction: the entries' markers, their summed increments, and each account's watermark. */
export type RollupChunk = {
  entries: StreamEntry[];
  increments: Increment[];
  accruals: AccrualIncrement[];
  /** Accrued entries planned into a later bucket than their own (theirs was claimed). */
  redirected: number;
  accounts: Map<string, WatermarkIncrement>;
};

function incrementsOf(entry: LedgerEntry): Increment[] {
  const usage = usageOfEntry(entry);
  if (!usage) return [];
  const scopes = usage.tokenId ? [undefined, usage.tokenId] : [undefined];
  return scopes.flatMap((tokenId) =>
    [usage.day, usage.day.slice(0, 7)].map((period) => ({
      accountId: entry.account_id,
      sortKey: rollupSortKey(period, usage.feature, tokenId),
      period,
      feature: usage.feature,
      ...(tokenId ? { tokenId } : {}),
      cost: usage.cost,
      requests: usage.requests,
    })),
  );
}

const incrementId = (increment: Increment) => `${increment.accountId} ${increment.sortKey}`;

type Building = {
  entries: StreamEntry[];
  sums: Map<string, Increment>;
  accruals: Map<string, AccrualIncrement>;
  redirected: number;
  accounts: Map<string, WatermarkIncrement>;
};

const emptyChunk = (): Building => ({
  entries: [],
  sums: new Map(),
  accruals: new Map(),
  redirected: 0,
  accounts: new Map(),
});

function itemCount(chunk: Building) {
  return chunk.entries.length + chunk.sums.size + chunk.accruals.size + chunk.accounts.size;
}

function addAccrual(chunk: Building, accrual: EntryAccrual, target: AccrualBucket) {
  const id = bucketId(target);
  const sum = chunk.accruals.get(id) ?? {
    bucket: target,
    cost: 0,
    requests: 0,
    entries: 0,
    features: new Map<string, FeatureSums>(),
  };
  sum.cost += accrual.cost;
  sum.requests += accrual.requests;
  sum.entries += 1;
  if (rollupOf(target).linesPerFeature) {
    const line = sum.features.get(accrual.feature) ?? { cost: 0, quantity: 0, requests: 0 };
    line.cost += accrual.cost;
    line.quantity += accrual.quantity;
    line.requests += accrual.requests;
    sum.features.set(accrual.feature, line);
  }
  chunk.accruals.set(id, sum);
}

/**
 * Splits consecutive entries into transactions of at most `maxItems` items, summing each transaction's
 * increments per rollup item (a batch of one account's calls to one feature is 4 updates, not 4 per call),
 * and its accruals per period item or hour record, each in the first bucket from its own that is not in
 * `closed` (the buckets found claimed).
 */
export function planRollups(
  entries: StreamEntry[],
  maxItems = MAX_TRANSACTION_ITEMS,
  closed: ReadonlySet<string> = new Set(),
): RollupChunk[] {
  const chunks: RollupChunk[] = [];
  let current = emptyChunk();
  const close = () => {
    if (current.entries.length === 0) return;
    chunks.push({
      entries: current.entries,
      increments: [...current.sums.values()],
      accruals: [...current.accruals.values()],
      redirected: current.redirected,
      accounts: current.accounts,
    });
    current = emptyChunk();
  };
  for (const streamEntry of entries) {
    const increments = incrementsOf(streamEntry.entry);
    const accrual = accrualOfEntry(streamEntry.entry);
    const target = accrual && openBucket(accrual.bucket, closed);
    const accountId = streamEntry.entry.account_id;
    const added =
      1 +
      increments.filter((increment) => !current.sums.has(incrementId(increment))).length +
      (target && !current.accruals.has(bucketId(target)) ? 1 : 0) +
      (current.accounts.has(accountId) ? 0 : 1);
    if (itemCount(current) + added > maxItems) close();
    current.entries.push(streamEntry);
    const watermark = current.accounts.get(accountId) ?? { entries: 0, accrued: 0 };
    watermark.entries += 1;
    if (accrual) watermark.accrued += 1;
    current.accounts.set(accountId, watermark);
    for (const increment of increments) {
      const sum = current.sums.get(incrementId(increment));
      if (sum) {
        sum.cost += increment.cost;
        sum.requests += increment.requests;
      } else current.sums.set(incrementId(increment), { ...increment });
    }
    if (accrual && target) {
      addAccrual(current, accrual, target);
      if (target !== accrual.bucket) current.redirected += 1;
    }
  }
  close();
  return chunks;
}

/** The marker of an entry rolled up: its key, for the condition that keeps the entry from counting twice. */
export function markerKey(entry: LedgerEntry) {
  return keys.usageApplied(entry.account_id, entry.entry_id);
}
