// `GET /v1/transactions`: the ledger newest first, with each entry's balance after it.
//
// A charge does not read the balance it changes (one write round trip), so `balance_after` is derived here:
// the account's balance, read together with its entry count, is the balance after the newest entry; each
// older entry's is the newer one's minus the newer entry's amount. The cursor carries that running balance
// to the next page, which is why it is signed and bound to the account (shared/http/cursor.ts): a client
// cannot make the API answer balances it invented. If an entry commits between the two reads (the count
// moved), the page is read again.
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { getAccount } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { invalidCursor, openCursor, signCursor } from '../http/cursor.ts';
import { isoTime, usd } from '../http/validation.ts';
import { isUlid } from '../ids.ts';
import { type Micros, toWire } from '../money.ts';
import { ledgerPartitions, type Placement, placementOf } from './shards.ts';
import type { EntryType, LedgerEntry } from './types.ts';

/** The entry types, as the API names them (the `type` and `exclude_type` filters take them). */
export const ENTRY_TYPES = [
  'grant',
  'correction',
  'usage',
  'reversal',
  'purchase',
  'refund',
  'dispute',
  'auto_refill',
] as const satisfies readonly EntryType[];

export const transactionPageSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      type: z.enum(ENTRY_TYPES),
      /** Signed: + adds to the balance, - takes from it. */
      amount: usd,
      /**
       * The balance after this entry. Left out of a page narrowed by `type`, `exclude_type`, `feature` or
       * `end` (it skips entries, so the running balance cannot be derived); `begin` alone keeps it.
       */
      balance_after: z.optional(usd),
      created_at: isoTime,
      request_id: z.optional(z.string()),
      token_id: z.optional(z.string()),
      feature: z.optional(z.string()),
      quantity: z.optional(z.number()),
      reference: z.optional(z.string()),
      reason: z.optional(z.string()),
      /** Postpaid and marketplace usage: billed later, so `amount` is 0 and this is the cost it accrued. */
      accrued: z.optional(usd),
      /** A reversal names the charge it gives back (a fixed-price call whose feature failed). */
      reverses: z.optional(z.string()),
      /** A purchase or auto-refill: how it was paid, e.g. "Visa •••• 4242". */
      payment_method: z.optional(z.string()),
      /** A purchase or auto-refill: Stripe's receipt, when it has one. */
      receipt_url: z.optional(z.string()),
    }),
  ),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: z.nullable(z.string()),
});

/**
 * What a page is narrowed to. `begin`/`end` (YYYY-MM-DD, inclusive, UTC) become a key range on the entry
 * ids (their ULID time prefix); `types`, `excludeTypes` and `feature` a FilterExpression, so a page may come
 * back short (or empty) with a `next_cursor` that continues.
 */
export type TransactionFilter = {
  types?: EntryType[];
  excludeTypes?: EntryType[];
  feature?: string;
  begin?: string;
  end?: string;
};

/**
 * Where the next page starts, the balance after the entry before it (micro-USD; only while the page is the
 * whole ledger, see `runningBalance`) and the filter it was made for (`f`), so a cursor is only read with
 * the filter that made it.
 */
type Cursor = { after: string; balance?: number; f?: string };

/** A filter's fingerprint for its cursor: '' when nothing narrows the ledger (the cursors made before). */
function filterKey(filter: TransactionFilter): string {
  const sorted = (list?: string[]) => (list?.length ? [...list].sort().join(',') : '');
  const parts = [
    sorted(filter.types),
    sorted(filter.excludeTypes),
    filter.feature ?? '',
    filter.begin ?? '',
    filter.end ?? '',
  ];
  return parts.some((part) => part !== '') ? JSON.stringify(parts) : '';
}

/**
 * Whether each entry's `balance_after` can be derived from the account's balance: only when every entry from
 * now back to the page is in it (no type or feature filter and no `end`; a `begin` only cuts the tail).
 */
function runningBalance(filter: TransactionFilter): boolean {
  return !filter.types?.length && !filter.excludeTypes?.length && !filter.feature && !filter.end;
}

async function decodeCursor(text: string, accountId: string, filter: TransactionFilter): Promise<Cursor> {
  // Signed by us for this account, so the shape holds; checked anyway, as any input is.
  const value = (await openCursor(accountId, text)) as Partial<Cursor> | null;
  if (
    typeof value?.after === 'string' &&
    isUlid(value.after) &&
    (value.f ?? '') === filterKey(filter) &&
    (!runningBalance(filter) || Number.isSafeInteger(value.balance))
  ) {
    return value as Cursor;
  }
  throw invalidCursor();
}

const DAY_MS = 86_400_000;
/** How many entries a filtered page reads at most, over all its partitions (about 0.5 MB at most). */
const FILTERED_READ_BUDGET = 2_000;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The ULID time prefix (10 characters) of a millisecond. */
function timePrefix(ms: number): string {
  let text = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    text = CROCKFORD[t % 32] + text;
    t = Math.floor(t / 32);
  }
  return text;
}

/** The sort-key range of the entries from `begin` 00:00 to `end` 23:59:59.999 UTC, below `after`. */
function keyRange(accountId: string, filter: TransactionFilter, after: string | undefined) {
  const low = filter.begin
    ? keys.ledgerEntry(accountId, `${timePrefix(Date.parse(`${filter.begin}T00:00:00Z`))}${'0'.repeat(16)}`)
        .SK
    : keys.ledgerPrefix;
  const endId = filter.end
    ? `${timePrefix(Date.parse(`${filter.end}T00:00:00Z`) + DAY_MS - 1)}${'Z'.repeat(16)}`
    : undefined;
  const upper = after && (!endId || after < endId) ? after : endId;
  // '~' sorts after every ULID character: the end of the ledger's keys.
  return { low, high: upper ? keys.ledgerEntry(accountId, upper).SK : `${keys.ledgerPrefix}~` };
}

function filterExpression(filter: TransactionFilter) {
  const clauses: string[] = [];
  const values: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  const list = (prefix: string, types: EntryType[]) =>
    types.map((type, index) => {
      values[`:${prefix}${index}`] = type;
      return `:${prefix}${index}`;
    });
  if (filter.types?.length) {
    names['#type'] = 'type';
    clauses.push(`#type IN (${list('t', filter.types).join(', ')})`);
  }
  if (filter.excludeTypes?.length) {
    names['#type'] = 'type';
    clauses.push(`NOT (#type IN (${list('x', filter.excludeTypes).join(', ')}))`);
  }
  if (filter.feature) {
    values[':feature'] = filter.feature;
    clauses.push('feature = :feature');
  }
  return clauses.length
    ? {
        FilterExpression: clauses.join(' AND '),
        ExpressionAttributeValues: values,
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
      }
    : undefined;
}

/**
 * The newest entries below `after` in the filter's range. An account that was ever sharded keeps its charges'
 * entries in ledger slots too (shards.ts): each partition is read (up to `limit + 1` items, before the
 * filter) and the matches merged by entry id (time order). Only matches at or above every unfinished
 * partition's last read id are certain to be complete, so the page stops there: `more` is where the next
 * page continues (undefined when every partition is read to the end of the range).
 */
async function readPage(
  accountId: string,
  limit: number,
  after: string | undefined,
  filter: TransactionFilter,
): Promise<{ entries: LedgerEntry[]; more: string | undefined }> {
  const placement = await readPlacement(accountId);
  const { low, high } = keyRange(accountId, filter, after);
  const narrowed = filterExpression(filter);
  const partitions = ledgerPartitions(accountId, placement);
  // A filtered page reads on (following LastEvaluatedKey) until it has a page of matches or has read its
  // budget of items, so a filter that matches few entries among many (purchases among a day's 2,000 calls)
  // still fills a page in one request; an unfiltered one reads a page's worth once.
  const want = limit + (after ? 2 : 1);
  const budget = narrowed ? Math.max(want, Math.floor(FILTERED_READ_BUDGET / partitions.length)) : want;
  const pages = await Promise.all(
    partitions.map(async (pk) => {
      const items: LedgerEntry[] = [];
      let read = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const result = await ddb().send(
          new QueryCommand({
            TableName: config.tableName,
            KeyConditionExpression: 'PK = :pk AND SK BETWEEN :low AND :high',
            ...(narrowed?.FilterExpression ? { FilterExpression: narrowed.FilterExpression } : {}),
            ...(narrowed?.ExpressionAttributeNames
              ? { ExpressionAttributeNames: narrowed.ExpressionAttributeNames }
              : {}),
            ExpressionAttributeValues: {
              ':pk': pk,
              ':low': low,
              ':high': high,
              ...narrowed?.ExpressionAttributeValues,
            },
            ScanIndexForward: false,
            ConsistentRead: true,
            // One extra to know whether another page exists (`after` itself is excluded below); reading on,
            // twice as much each time, within the budget.
            Limit: Math.min(budget - read, Math.max(want, read * 2)),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        items.push(...((result.Items ?? []) as LedgerEntry[]));
        read += result.ScannedCount ?? result.Items?.length ?? 0;
        start = result.LastEvaluatedKey;
      } while (start && items.length < want && read < budget);
      const last = start?.SK;
      return {
        items,
        lastRead: typeof last === 'string' ? last.slice(keys.ledgerPrefix.length) : undefined,
      };
    }),
  );
  // The highest id any unfinished partition stopped at: below it, that partition may hold more matches.
  const frontier = pages.reduce<string | undefined>(
    (highest, page) =>
      page.lastRead !== undefined && (highest === undefined || page.lastRead > highest)
        ? page.lastRead
        : highest,
    undefined,
  );
  const merged = pages
    .flatMap((page) => page.items)
    .filter((e) => e.entry_id !== after && (frontier === undefined || e.entry_id >= frontier))
    .sort((a, b) => (a.entry_id < b.entry_id ? 1 : a.entry_id > b.entry_id ? -1 : 0));
  if (merged.length > limit) return { entries: merged.slice(0, limit), more: merged[limit - 1]!.entry_id };
  // A short page: continue below the frontier, unless that is where this page began (nothing new was read).
  return { entries: merged, more: frontier !== undefined && frontier !== after ? frontier : undefined };
}

async function readPlacement(accountId: string): Promise<Placement> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.account(accountId),
      ProjectionExpression: 'balance_shards, ledger_slots_since',
      ConsistentRead: true,
    }),
  );
  return placementOf(result.Item ?? {});
}

const SNAPSHOT_ATTEMPTS = 5;

export async function listTransactions(
  accountId: string,
  limit: number,
  cursorText: string | undefined,
  filter: TransactionFilter = {},
): Promise<z.output<typeof transactionPageSchema>> {
  const cursor = cursorText ? await decodeCursor(cursorText, accountId, filter) : undefined;
  const withBalance = runningBalance(filter);
  let read: Awaited<ReturnType<typeof readPage>>;
  let balance = cursor?.balance ?? 0;
  if (cursor || !withBalance) {
    read = await readPage(accountId, limit, cursor?.after, filter);
  } else {
    for (let attempt = 1; ; attempt++) {
      const before = await getAccount(accountId);
      read = await readPage(accountId, limit, undefined, filter);
      const after = await getAccount(accountId);
      balance = after?.balance ?? 0;
      if (before?.entry_count === after?.entry_count || attempt === SNAPSHOT_ATTEMPTS) break;
    }
  }
  const data = read.entries.map((entry) => {
    const row = {
      id: entry.entry_id,
      type: entry.type,
      amount: toWire(entry.amount),
      ...(withBalance ? { balance_after: toWire(balance as Micros) } : {}),
      created_at: entry.created_at,
      ...(entry.request_id ? { request_id: entry.request_id } : {}),
      ...(entry.token_id ? { token_id: entry.token_id } : {}),
      ...(entry.feature ? { feature: entry.feature } : {}),
      ...(entry.quantity !== undefined ? { quantity: entry.quantity } : {}),
      ...(entry.reference && !entry.reference.startsWith('idem:') ? { reference: entry.reference } : {}),
      ...(entry.reason ? { reason: entry.reason } : {}),
      // Postpaid and marketplace usage: billed later, so `amount` is 0 and this is the cost it accrued.
      ...(entry.accrued !== undefined ? { accrued: toWire(entry.accrued) } : {}),
      // A reversal names the charge it gives back (a fixed-price call whose feature failed).
      ...(entry.reverses ? { reverses: entry.reverses } : {}),
      // A purchase or auto-refill: how it was paid ("Visa •••• 4242") and Stripe's receipt.
      ...(entry.payment_method ? { payment_method: entry.payment_method } : {}),
      ...(entry.receipt_url ? { receipt_url: entry.receipt_url } : {}),
    };
    balance -= entry.amount;
    return row;
  });
  const f = filterKey(filter);
  const next_cursor = read.more
    ? await signCursor(accountId, {
        after: read.more,
        ...(withBalance ? { balance } : {}),
        ...(f ? { f } : {}),
      } satisfies Cursor)
    : null;
  return { data, next_cursor };
}
