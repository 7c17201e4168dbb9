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
import type { LedgerEntry } from './types.ts';

export const transactionPageSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      type: z.enum([
        'grant',
        'correction',
        'usage',
        'reversal',
        'purchase',
        'refund',
        'dispute',
        'auto_refill',
      ]),
      /** Signed: + adds to the balance, - takes from it. */
      amount: usd,
      balance_after: usd,
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
    }),
  ),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: z.nullable(z.string()),
});

/** Where the next page starts, and the balance after the entry before it (micro-USD). */
type Cursor = { after: string; balance: number };

async function decodeCursor(text: string, accountId: string): Promise<Cursor> {
  // Signed by us for this account, so the shape holds; checked anyway, as any input is.
  const value = (await openCursor(accountId, text)) as Partial<Cursor> | null;
  if (typeof value?.after === 'string' && isUlid(value.after) && Number.isSafeInteger(value.balance)) {
    return value as Cursor;
  }
  throw invalidCursor();
}

/**
 * The newest entries before `after`. An account that was ever sharded keeps its charges' entries in ledger
 * slots too (shards.ts): each partition is read for a page and the pages merged by entry id (time order).
 */
async function readPage(accountId: string, limit: number, after: string | undefined) {
  const placement = await readPlacement(accountId);
  const pages = await Promise.all(
    ledgerPartitions(accountId, placement).map(async (pk) => {
      const result = await ddb().send(
        new QueryCommand({
          TableName: config.tableName,
          KeyConditionExpression: after
            ? 'PK = :pk AND SK BETWEEN :prefix AND :before'
            : 'PK = :pk AND begins_with(SK, :prefix)',
          ExpressionAttributeValues: {
            ':pk': pk,
            ':prefix': keys.ledgerPrefix,
            ...(after ? { ':before': keys.ledgerEntry(accountId, after).SK } : {}),
          },
          ScanIndexForward: false,
          ConsistentRead: true,
          // One extra to know whether another page exists; `after` itself is excluded below.
          Limit: limit + (after ? 2 : 1),
        }),
      );
      return (result.Items ?? []) as LedgerEntry[];
    }),
  );
  const merged = pages
    .flat()
    .sort((a, b) => (a.entry_id < b.entry_id ? 1 : a.entry_id > b.entry_id ? -1 : 0));
  return merged.filter((e) => e.entry_id !== after).slice(0, limit + 1);
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
): Promise<z.output<typeof transactionPageSchema>> {
  const cursor = cursorText ? await decodeCursor(cursorText, accountId) : undefined;
  let entries: LedgerEntry[] = [];
  let balance = cursor?.balance ?? 0;
  if (cursor) {
    entries = await readPage(accountId, limit, cursor.after);
  } else {
    for (let attempt = 1; ; attempt++) {
      const before = await getAccount(accountId);
      entries = await readPage(accountId, limit, undefined);
      const after = await getAccount(accountId);
      balance = after?.balance ?? 0;
      if (before?.entry_count === after?.entry_count || attempt === SNAPSHOT_ATTEMPTS) break;
    }
  }
  const page = entries.slice(0, limit);
  const data = page.map((entry) => {
    const row = {
      id: entry.entry_id,
      type: entry.type,
      amount: toWire(entry.amount),
      balance_after: toWire(balance as Micros),
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
    };
    balance -= entry.amount;
    return row;
  });
  const last = page.at(-1);
  const next_cursor =
    entries.length > limit && last
      ? await signCursor(accountId, { after: last.entry_id, balance } satisfies Cursor)
      : null;
  return { data, next_cursor };
}
