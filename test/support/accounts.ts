// Test fixtures: accounts with money and tokens, made through the real services.

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { createAccount, grantCredits } from '#shared/accounts/service.ts';
import { nowIso } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { queryAll } from '#shared/dynamo/query.ts';
import { newUlid } from '#shared/ids.ts';
import { chargeUsage } from '#shared/ledger/ledger.ts';
import { ledgerPartitions, placementOf } from '#shared/ledger/shards.ts';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import type { Micros } from '#shared/money.ts';

export async function fundedAccount(usd: number, name = 'Test account') {
  const { account, token } = await createAccount({ name });
  if (usd > 0) await grantCredits({ accountId: account.account_id, amountUsd: usd, reason: 'test funds' });
  return { accountId: account.account_id, token };
}

export async function accountMoney(accountId: string) {
  const account = await getAccount(accountId);
  if (!account) throw new Error(`no account ${accountId}`);
  return account;
}

/** Every ledger entry of the account, read straight from the table. */
export async function ledgerEntries(accountId: string): Promise<LedgerEntry[]> {
  // A sharded account's charges are in its ledger slots too (shared/ledger/shards.ts).
  const placement = placementOf((await tableItem(keys.account(accountId))) ?? {});
  const pages = await Promise.all(
    ledgerPartitions(accountId, placement).map((pk) =>
      queryAll({
        TableName: process.env.TABLE_NAME,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': keys.ledgerPrefix },
        ConsistentRead: true,
      }),
    ),
  );
  return (pages.flat() as LedgerEntry[]).sort((a, b) => (a.entry_id < b.entry_id ? -1 : 1));
}

export function ledgerSum(entries: LedgerEntry[]): number {
  return entries.reduce((total, entry) => total + entry.amount, 0);
}

/** One item of the table, read consistently (undefined when absent). */
export async function tableItem(key: {
  PK: string;
  SK: string;
}): Promise<Record<string, unknown> | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: process.env.TABLE_NAME, Key: key, ConsistentRead: true }),
  );
  return result.Item;
}

/** One charge of `usd` (at most 6 decimals) through the ledger's own charging transaction, now. */
export async function spend(accountId: string, usd: number, feature = 'alerts'): Promise<void> {
  const entryId = newUlid();
  const outcome = await chargeUsage({
    accountId,
    entryId,
    requestId: `req_${entryId}`,
    feature,
    quantity: 1,
    tokenId: undefined,
    cost: Math.round(usd * 1_000_000) as Micros,
    at: nowIso(),
  });
  expect(outcome.status).toBe('charged');
}
