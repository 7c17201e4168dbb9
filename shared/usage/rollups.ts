// Usage rollups, the plan: what a batch of new ledger entries adds to the fixed-size usage items that
// `GET /v1/usage` reads, as transactions of at most 100 items. Pure; shared/usage/apply.ts executes it.
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
import { keys } from '../dynamo/keys.ts';
import type { LedgerEntry } from '../ledger/types.ts';

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

/** One transaction: the entries' markers, their summed increments, and each account's watermark. */
export type RollupChunk = {
  entries: StreamEntry[];
  increments: Increment[];
  /** Entries per account: added to the account's watermark. */
  accounts: Map<string, number>;
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

function itemCount(chunk: {
  entries: unknown[];
  sums: Map<string, Increment>;
  accounts: Map<string, number>;
}) {
  return chunk.entries.length + chunk.sums.size + chunk.accounts.size;
}

/**
 * Splits consecutive entries into transactions of at most `maxItems` items, summing each transaction's
 * increments per rollup item (a batch of one account's calls to one feature is 4 updates, not 4 per call).
 */
export function planRollups(entries: StreamEntry[], maxItems = MAX_TRANSACTION_ITEMS): RollupChunk[] {
  const chunks: RollupChunk[] = [];
  let current = { entries: [] as StreamEntry[], sums: new Map<string, Increment>(), accounts: new Map() };
  const close = () => {
    if (current.entries.length === 0) return;
    chunks.push({
      entries: current.entries,
      increments: [...current.sums.values()],
      accounts: current.accounts,
    });
    current = { entries: [], sums: new Map(), accounts: new Map() };
  };
  for (const streamEntry of entries) {
    const increments = incrementsOf(streamEntry.entry);
    const accountId = streamEntry.entry.account_id;
    const added =
      1 +
      increments.filter((increment) => !current.sums.has(incrementId(increment))).length +
      (current.accounts.has(accountId) ? 0 : 1);
    if (itemCount(current) + added > maxItems) close();
    current.entries.push(streamEntry);
    current.accounts.set(accountId, (current.accounts.get(accountId) ?? 0) + 1);
    for (const increment of increments) {
      const sum = current.sums.get(incrementId(increment));
      if (sum) {
        sum.cost += increment.cost;
        sum.requests += increment.requests;
      } else current.sums.set(incrementId(increment), { ...increment });
    }
  }
  close();
  return chunks;
}

/** The marker of an entry rolled up: its key, for the condition that keeps the entry from counting twice. */
export function markerKey(entry: LedgerEntry) {
  return keys.usageApplied(entry.account_id, entry.entry_id);
}
