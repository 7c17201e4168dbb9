// AWS Marketplace (pay as you go): the buyer pays AWS, so nothing is debited and there is no limit; a call
// is served while the subscription is usable, and its cost accrues to the hour record the metering job
// reports to AWS (a rollup the stream derives from the ledger entry: shared/usage/rollups.ts). Per-unit
// calls hold nothing, so the subscription is checked with a read before their work runs.

import { getAccount } from '../accounts/repository.ts';
import { setView } from '../accounts/view.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { SubscriptionInactiveError } from '../errors.ts';
import { ACCRUAL_COUNT, accrualBookkeeping, hourOf, USABLE_SUBSCRIPTION_STATES } from '../ledger/accrual.ts';
import { hourRollupUpdate } from '../marketplace/hour-store.ts';
import type { Micros } from '../money.ts';
import type { BillingModeRules, HourBucket, MarketplaceBilling } from './mode.ts';

const MARKETPLACE = 'marketplace';

/** True while the subscription serves calls; false when the account is no longer a buyer (the view learns). */
async function buyerMayUse(accountId: string): Promise<boolean> {
  const account = await getAccount(accountId);
  if (account?.billing_mode !== MARKETPLACE) {
    if (account) setView(accountId, account.available, account);
    return false;
  }
  if (!(USABLE_SUBSCRIPTION_STATES as readonly (string | undefined)[]).includes(account.subscription_status))
    throw new SubscriptionInactiveError();
  return true;
}

export const marketplace: BillingModeRules<MarketplaceBilling, HourBucket> = {
  name: MARKETPLACE,

  accrual: {
    bucketOf: (entry, at) => ({
      mode: MARKETPLACE,
      accountId: entry.account_id,
      hour: hourOf(at),
      dimension: entry.dimension ?? config.marketplaceDimension,
    }),
    next: (bucket) => ({
      ...bucket,
      hour: hourOf(new Date(Date.parse(bucket.hour) + 3_600_000).toISOString()),
    }),
    id: (bucket) => `${bucket.accountId} MKT_HOUR#${bucket.hour}#${bucket.dimension}`,
    linesPerFeature: false,
    update: (bucket, sums) => hourRollupUpdate(bucket.accountId, bucket.hour, bucket.dimension, sums),
  },

  entryMoney: (billing, used) => ({
    amount: 0 as Micros,
    accrued: used,
    billing_mode: MARKETPLACE,
    dimension: billing.dimension,
  }),

  accountCharge: (charge) => ({
    Update: {
      TableName: config.tableName,
      Key: keys.account(charge.accountId),
      UpdateExpression: `SET updated_at = :at ADD entry_count :one, ${ACCRUAL_COUNT} :one`,
      ConditionExpression: 'billing_mode = :marketplace AND subscription_status IN (:active, :pending)',
      ExpressionAttributeValues: {
        ':marketplace': MARKETPLACE,
        ':active': USABLE_SUBSCRIPTION_STATES[0],
        ':pending': USABLE_SUBSCRIPTION_STATES[1],
        ':at': charge.at,
        ':one': 1,
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  }),

  // Buyers have no limit to reserve against: `admit` reads the subscription instead.
  accountReserve: () => undefined,
  holdFields: () => ({}),
  accountRelease: () => undefined,

  accountReversal: (charge, _billing, at) => accrualBookkeeping(charge.accountId, at),

  refusal: () => ({ status: 'subscription_inactive' }),

  billingOfEntry: (entry) => ({
    mode: MARKETPLACE,
    dimension: entry.dimension ?? config.marketplaceDimension,
  }),

  billingAt: () => ({ mode: MARKETPLACE, dimension: config.marketplaceDimension }),

  admit: buyerMayUse,

  afterReserved: () => {},
  afterCharged: async () => {},
  gaveBack: () => {},
  remaining: () => undefined,
  retryAt: () => undefined,

  refuse() {
    throw new SubscriptionInactiveError();
  },
};
