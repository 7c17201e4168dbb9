// Accrued usage through the ledger's own charging transaction (the one every metered route makes), for
// postpaid accounts and Marketplace buyers: what the rollup consumer turns into period items and hour records,
// and the check that those equal what the ledger implies.
import { expect } from 'vitest';
import { nowIso } from '#shared/clock.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { queryAll } from '#shared/dynamo/query.ts';
import { newUlid } from '#shared/ids.ts';
import { periodOf } from '#shared/ledger/accrual.ts';
import { chargeUsage, type UsageCharge } from '#shared/ledger/ledger.ts';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import type { Micros } from '#shared/money.ts';
import { ledgerEntries, tableItem } from './accounts.ts';

export type AccrualMode = 'postpaid' | 'marketplace';

/** Charges a call of `cost` micro-USD now, in the account's billing mode; answers the charge as made. */
export async function chargeAccrued(
  accountId: string,
  mode: AccrualMode,
  input: { cost: number; feature?: string; quantity?: number; tokenId?: string },
): Promise<UsageCharge> {
  const entryId = newUlid();
  const at = nowIso();
  const base = {
    accountId,
    entryId,
    requestId: `req_${entryId}`,
    tokenId: input.tokenId,
    feature: input.feature ?? 'echo',
    quantity: input.quantity ?? 1,
    cost: input.cost as Micros,
    at,
  };
  if (mode === 'marketplace') {
    const charge: UsageCharge = { ...base, billing: { mode: 'marketplace', dimension: 'usage' } };
    expect((await chargeUsage(charge)).status).toBe('charged');
    return charge;
  }
  // The first charge of a period opens it on the account (`rollover`); the others add to it.
  for (const rollover of [false, true]) {
    const charge: UsageCharge = { ...base, billing: { mode: 'postpaid', period: periodOf(at), rollover } };
    const outcome = await chargeUsage(charge);
    if (outcome.status === 'charged') return charge;
    expect(outcome.status).toBe('period_moved');
  }
  throw new Error('the postpaid charge was refused');
}

/** Catalog features: a period item has one line per feature used. */
export const FEATURES = ['echo', 'words', 'sample_translate', 'sample_complete'];

export type Sums = Map<string, Record<string, number>>;

function add(sums: Sums, sk: string, values: Record<string, number>) {
  const sum = sums.get(sk) ?? {};
  for (const [name, value] of Object.entries(values)) sum[name] = (sum[name] ?? 0) + value;
  sums.set(sk, sum);
}

/**
 * The period items and hour records the ledger implies, from the entries alone: an accrued entry written
 * with its billing mode adds its cost, a request and (postpaid) its feature's line to the period or hour of
 * its time; a reversal takes back exactly what its charge added there.
 */
export function billingOfLedger(entries: LedgerEntry[]): Sums {
  const byId = new Map(entries.map((entry) => [entry.entry_id, entry]));
  const sums: Sums = new Map();
  for (const entry of entries) {
    if (!entry.billing_mode || (entry.type !== 'usage' && entry.type !== 'reversal')) continue;
    const charge = entry.type === 'usage' ? entry : byId.get(entry.reverses ?? '')!;
    const sign = entry.type === 'usage' ? 1 : -1;
    const cost = sign * (charge.accrued ?? 0);
    if (entry.billing_mode === 'postpaid') {
      const line = `f:${charge.feature}:`;
      add(sums, `PERIOD#${charge.created_at.slice(0, 7)}`, {
        cost,
        requests: sign,
        entries: 1,
        [`${line}cost`]: cost,
        [`${line}quantity`]: sign * (charge.quantity ?? 1),
        [`${line}requests`]: sign,
      });
    } else {
      add(sums, `MKT_HOUR#${charge.created_at.slice(0, 13)}:00:00Z#${entry.dimension}`, {
        cost,
        requests: sign,
        entries: 1,
      });
    }
  }
  return sums;
}

/** The account's period items and hour records: their sums (cost, requests, entries, feature lines). */
export async function billingItems(accountId: string): Promise<Sums> {
  const items = await queryAll({
    TableName: process.env.TABLE_NAME,
    KeyConditionExpression: 'PK = :pk',
    ExpressionAttributeValues: { ':pk': keys.account(accountId).PK },
    ConsistentRead: true,
  });
  const sums: Sums = new Map();
  for (const item of items) {
    const sk = String(item.SK);
    if (!sk.startsWith(keys.periodPrefix) && !sk.startsWith(keys.marketplaceHourPrefix)) continue;
    const values = Object.entries(item).filter(
      ([name]) => ['cost', 'requests', 'entries'].includes(name) || name.startsWith('f:'),
    );
    sums.set(sk, Object.fromEntries(values.map(([name, value]) => [name, Number(value)])));
  }
  return sums;
}

export async function watermarkOf(accountId: string) {
  return Number((await tableItem(keys.usageWatermark(accountId)))?.accrual_entries_applied ?? 0);
}

/**
 * Every period item and hour record of the account equals the ledger's sums, item by item, and the
 * consumer's count of accrued entries is the account's.
 */
export async function expectBillingToMatchLedger(accountId: string) {
  const entries = await ledgerEntries(accountId);
  expect(await billingItems(accountId)).toEqual(billingOfLedger(entries));
  const accrued = entries.filter((entry) => entry.billing_mode).length;
  expect((await tableItem(keys.account(accountId)))?.accrual_entries ?? 0).toBe(accrued);
  expect(await watermarkOf(accountId)).toBe(accrued);
}

/** `count` calls of a postpaid account and a buyer, each with its own token: several transactions a batch. */
export async function callsOfBoth(postpaidId: string, buyerId: string, count: number) {
  for (let i = 0; i < count; i++) {
    const call = { tokenId: `tok_${i}`, feature: FEATURES[i % FEATURES.length]!, quantity: 1 + (i % 3) };
    await chargeAccrued(postpaidId, 'postpaid', { ...call, cost: 1_000 + i });
    await chargeAccrued(buyerId, 'marketplace', { ...call, cost: 700 + i });
  }
}
