// Accounts in the table: the account item holds the money fields that only the ledger writes.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { AutoRefill } from '../auto-refill/types.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { type BillingEvent, updateWithEvents } from '../events/outbox.ts';
import { withShardTotals } from '../ledger/balance-shards.ts';
import type { Micros } from '../money.ts';

/**
 * `prepaid`: debited, funded by purchases; `postpaid`: accrued, invoiced monthly; `marketplace`: accrued,
 * reported to AWS hourly (pay as you go); `marketplace_contract`: debited, funded by an AWS Marketplace
 * contract's entitlements (shared/marketplace/entitlements.ts).
 */
export type BillingMode = 'prepaid' | 'postpaid' | 'marketplace' | 'marketplace_contract';

/** What an AWS Marketplace contract account was last found entitled to and granted (micro-USD). */
export type ContractSummary = {
  entitled: Micros;
  granted: Micros;
  /** The current contract's end (the entitlements' expiration); null when it states none. */
  contract_end: string | null;
  /** When the entitlements this summarises were read: an older read never replaces a newer one. */
  read_at: string;
};

export type Account = {
  account_id: string;
  name: string;
  email?: string;
  billing_mode: BillingMode;
  balance: Micros;
  held: Micros;
  available: Micros;
  entry_count: number;
  created_at: string;
  updated_at: string;
  depleted_notified_at?: string;
  stripe_customer_id?: string;
  payment_method?: PaymentMethodOnFile;
  auto_refill?: AutoRefill;
  /** Postpaid: invoice terms, the latest period written (`YYYY-MM`), its usage and the headroom left under the limit. */
  payment_terms_days?: number;
  period?: string;
  period_usage?: Micros;
  period_headroom?: Micros;
  /** The period's usage plus the estimates of its open per-unit holds. */
  period_committed?: Micros;
  spend_limit?: Micros;
  /** Marketplace: the subscription's state (calls are served while `active` or `cancel_pending`). */
  subscription_status?: string;
  /** Marketplace contract: what its entitlements grant (shared/marketplace/entitlements.ts). */
  marketplace_contract?: ContractSummary;
  /** Prepaid: how many balance items the spendable balance is split across (absent: 1; shared/ledger/shards.ts). */
  balance_shards?: number;
  /** Set when the account is first sharded: charges from this entry id on keep their records in ledger slots. */
  ledger_slots_since?: string;
  /** Listed for the auto-refill sweep (shared/auto-refill/headroom.ts); as read by `getAccount`. */
  refill_listed?: true;
};

/** The saved payment method that auto-refill charges off-session. */
export type PaymentMethodOnFile = {
  id: string;
  type: string;
  brand?: string;
  last4?: string;
  exp_month?: number;
  exp_year?: number;
  /** Stripe's `created` (seconds) of the fact this was learnt from: an older fact never replaces it. */
  version: number;
};

export function newAccountPut(account: Account): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: { ...keys.account(account.account_id), kind: 'account', ...account },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

export async function getAccount(accountId: string): Promise<Account | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.account(accountId), ConsistentRead: true }),
  );
  if (!result.Item) return undefined;
  // A sharded account's money is the sum of its shards, read in one snapshot (shared/ledger/balance-shards.ts).
  const item = await withShardTotals(accountId, result.Item);
  if (!item) return undefined;
  return {
    ...(stripKeys(item) as Account),
    ...(item.GSI2PK === undefined ? {} : { refill_listed: true }),
  };
}

/**
 * Marks the account as told that it ran dry, at most once per quiet period, with `credits.balance.depleted`
 * recorded in the same write; true when this caller won the mark.
 */
export async function markDepletedNotified(
  accountId: string,
  quietSinceIso: string,
  depleted: BillingEvent,
): Promise<boolean> {
  return updateWithEvents(
    {
      Key: keys.account(accountId),
      UpdateExpression: 'SET depleted_notified_at = :at',
      ConditionExpression:
        'attribute_exists(PK) AND (attribute_not_exists(depleted_notified_at) OR depleted_notified_at < :quiet)',
      ExpressionAttributeValues: { ':at': depleted.at, ':quiet': quietSinceIso },
    },
    [depleted],
  );
}

/**
 * Marks a postpaid spend-limit notice (`spend_limit_warned_period` or `spend_limit_reached_period`) as sent
 * for `period`, with its event recorded in the same write; true for the one caller that won the mark.
 */
export async function markSpendLimitNotified(
  accountId: string,
  attribute: 'spend_limit_warned_period' | 'spend_limit_reached_period',
  period: string,
  notice: BillingEvent,
): Promise<boolean> {
  return updateWithEvents(
    {
      Key: keys.account(accountId),
      UpdateExpression: 'SET #mark = :p',
      ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(#mark) OR #mark < :p)',
      ExpressionAttributeNames: { '#mark': attribute },
      ExpressionAttributeValues: { ':p': period },
    },
    [notice],
  );
}

export function stripKeys(item: Record<string, unknown>): Record<string, unknown> {
  const {
    PK: _pk,
    SK: _sk,
    GSI1PK: _g1,
    GSI1SK: _g2,
    GSI2PK: _g3,
    refill_headroom: _h,
    kind: _kind,
    ...rest
  } = item;
  return rest;
}
