// What the billing modes that bill usage later (postpaid, AWS Marketplace) share: the period and hour a
// charge's time falls in, the subscription states that serve calls, and the count of accrued entries.
//
// Every accrued entry adds one to the account's `accrual_entries`, in its own transaction: the rollup
// consumer counts the same entries on the account's watermark, and the invoicing and metering jobs claim a
// period or hour only once the two agree (shared/usage/watermark.ts).

import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';

/** Marketplace subscription states in which calls are served (a pending cancellation still serves). */
export const USABLE_SUBSCRIPTION_STATES = ['active', 'cancel_pending'] as const;

/** The account item's count of its accrued entries (each written with `billing_mode`). */
export const ACCRUAL_COUNT = 'accrual_entries';

export function periodOf(atIso: string): string {
  return atIso.slice(0, 7);
}

/** The start of the UTC hour, ISO without milliseconds: the fixed timestamp of the hour's usage record. */
export function hourOf(atIso: string): string {
  return `${atIso.slice(0, 13)}:00:00Z`;
}

/** The account write of an accrued entry that changes no total on the account: only the entry is counted. */
export function accrualBookkeeping(accountId: string, at: string): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET updated_at = :at ADD entry_count :one, ${ACCRUAL_COUNT} :one`,
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: { ':at': at, ':one': 1 },
    },
  };
}
