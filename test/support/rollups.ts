// The usage rollups a ledger implies, and the check that an account's rollups equal them item for item
// (test/integration/usage-rollups.test.ts, usage-backfill.test.ts).
import { expect } from 'vitest';
import { keys } from '#shared/dynamo/keys.ts';
import { queryAll } from '#shared/dynamo/query.ts';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import { ledgerEntries } from './accounts.ts';

export type Sums = Map<string, { cost: number; requests: number }>;

/**
 * The rollups the ledger implies, computed from the entries alone: a usage entry adds its cost and one
 * request to its day and month, overall and for its token; a reversal takes back exactly what its charge added.
 */
export function sumsOfLedger(entries: LedgerEntry[]): Sums {
  const sums: Sums = new Map();
  const byId = new Map(entries.map((entry) => [entry.entry_id, entry]));
  const add = (entry: LedgerEntry, sign: 1 | -1) => {
    const cost = entry.accrued ?? -entry.amount;
    const day = entry.created_at.slice(0, 10);
    const scopes = ['', ...(entry.token_id ? [`T#${entry.token_id}#`] : [])];
    for (const scope of scopes) {
      for (const period of [`D#${day}`, `M#${day.slice(0, 7)}`]) {
        const key = `${scope}${period}#${entry.feature}`;
        const sum = sums.get(key) ?? { cost: 0, requests: 0 };
        sums.set(key, { cost: sum.cost + sign * cost, requests: sum.requests + sign });
      }
    }
  };
  for (const entry of entries) {
    if (entry.type === 'usage') add(entry, 1);
    if (entry.type === 'reversal') add(byId.get(entry.reverses ?? '')!, -1);
  }
  return sums;
}

export async function rollupItems(accountId: string) {
  return queryAll({
    TableName: process.env.TABLE_NAME,
    KeyConditionExpression: 'PK = :pk',
    ExpressionAttributeValues: { ':pk': keys.usagePartition(accountId) },
    ConsistentRead: true,
  });
}

/** The account's rollups equal the ledger's sums, item for item, and its watermark counts every entry once. */
export async function expectRollupsToMatchLedger(accountId: string) {
  const entries = await ledgerEntries(accountId);
  const items = await rollupItems(accountId);
  const rollups: Sums = new Map(
    items
      .filter((item) => item.kind === 'usage_rollup')
      .map((item) => [String(item.SK), { cost: Number(item.cost), requests: Number(item.requests) }]),
  );
  expect(rollups).toEqual(sumsOfLedger(entries));
  expect(items.find((item) => item.SK === 'WATERMARK')?.entries_applied).toBe(entries.length);
}
