// The account-side writes of usage that is billed later instead of debited: postpaid usage accrues to the
// account's current period (UTC month) under its spend limit, marketplace usage to the buyer's hour record
// for AWS. Each builds the items that ride in the one charging transaction next to the ledger entry.
//
// Postpaid: the account item holds `period` (YYYY-MM), `period_usage`, `period_committed` (usage plus the
// estimates of open per-unit holds) and `period_headroom` (= spend_limit - period_committed while a limit is
// set, so a limit changed while holds are open still counts them). DynamoDB conditions cannot add, so the headroom is
// kept as its own attribute and the condition compares it with the cost: concurrent calls can never
// overshoot the limit. A charge names its period; when the account still holds an older one, the charge
// opens the new period itself (the "rollover" variant), so a new month unblocks with no job.

import { config } from '../config.ts';
import { INVOICE_DUE_SHARDS, keys, MARKETPLACE_PENDING_SHARDS, shardOfAccount } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import type { Micros } from '../money.ts';

export const POSTPAID = 'postpaid';
export const MARKETPLACE = 'marketplace';
/** Marketplace subscription states in which calls are served (a pending cancellation still serves). */
export const USABLE_SUBSCRIPTION_STATES = ['active', 'cancel_pending'] as const;

export type PostpaidBilling = {
  mode: 'postpaid';
  /** The charge's period, `YYYY-MM` of its time. */
  period: string;
  /** The account holds an older period (or none): this charge opens `period`. */
  rollover: boolean;
  /** Already admitted (a settle after a hold): neither the limit nor an overdue invoice refuses it. */
  admitted?: boolean;
};

export type MarketplaceBilling = { mode: 'marketplace'; hour: string; dimension: string };

export type AccrualBilling = PostpaidBilling | MarketplaceBilling;

export function periodOf(atIso: string): string {
  return atIso.slice(0, 7);
}

/** The start of the UTC hour, ISO without milliseconds: the fixed timestamp of the hour's usage record. */
export function hourOf(atIso: string): string {
  return `${atIso.slice(0, 13)}:00:00Z`;
}

const overdueClear = '(attribute_not_exists(overdue_block_at) OR overdue_block_at > :now)';
const withinLimit = '(attribute_not_exists(spend_limit) OR period_headroom >= :cost)';

/**
 * The postpaid account write of a charge of `cost`. `headroomBack` is what a settled hold gives back to
 * the headroom (its estimate); the limit is then checked only for the part of the cost above it.
 */
export function postpaidAccountCharge(
  accountId: string,
  billing: PostpaidBilling,
  cost: Micros,
  at: string,
  headroomBack = 0,
): TransactItem {
  const values: Record<string, unknown> = {
    ':postpaid': POSTPAID,
    ':p': billing.period,
    ':at': at,
    ':one': 1,
  };
  const conditions = ['billing_mode = :postpaid'];
  let set: string;
  if (billing.rollover) {
    conditions.push('(attribute_not_exists(#period) OR #period < :p)');
    if (!billing.admitted) conditions.push('(attribute_not_exists(spend_limit) OR spend_limit >= :cost)');
    set =
      '#period = :p, period_usage = :cost, period_committed = :cost, period_headroom = if_not_exists(spend_limit, :zero) - :cost';
    values[':cost'] = cost;
    values[':zero'] = 0;
  } else {
    conditions.push('#period = :p');
    const extra = cost - headroomBack;
    if (!billing.admitted) conditions.push(withinLimit);
    else if (extra > 0) conditions.push('(attribute_not_exists(spend_limit) OR period_headroom >= :extra)');
    set =
      'period_usage = period_usage + :cost, period_committed = if_not_exists(period_committed, :zero) + :extra, period_headroom = period_headroom - :extra';
    values[':cost'] = cost;
    values[':extra'] = extra;
    values[':zero'] = 0;
  }
  if (!billing.admitted) {
    conditions.push(overdueClear);
    values[':now'] = at;
  }
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET ${set}, updated_at = :at ADD entry_count :one`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { '#period': 'period' },
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Reserves a per-unit call's estimate against the period's headroom (nothing accrues yet). */
export function postpaidAccountReserve(
  accountId: string,
  billing: PostpaidBilling,
  estimate: Micros,
  at: string,
): TransactItem {
  const values: Record<string, unknown> = {
    ':postpaid': POSTPAID,
    ':p': billing.period,
    ':at': at,
    ':cost': estimate,
    ':now': at,
  };
  let set: string;
  const conditions = ['billing_mode = :postpaid'];
  if (billing.rollover) {
    conditions.push('(attribute_not_exists(#period) OR #period < :p)');
    conditions.push('(attribute_not_exists(spend_limit) OR spend_limit >= :cost)');
    set =
      '#period = :p, period_usage = :zero, period_committed = :cost, period_headroom = if_not_exists(spend_limit, :zero) - :cost';
  } else {
    conditions.push('#period = :p', withinLimit);
    set =
      'period_committed = if_not_exists(period_committed, :zero) + :cost, period_headroom = period_headroom - :cost';
  }
  values[':zero'] = 0;
  conditions.push(overdueClear);
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET ${set}, updated_at = :at`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { '#period': 'period' },
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Gives a released postpaid hold's estimate back to its period's headroom (only while that period is open). */
export function postpaidAccountRelease(
  accountId: string,
  period: string,
  estimate: Micros,
  at: string,
): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression:
        'SET period_headroom = period_headroom + :amount, period_committed = period_committed - :amount, updated_at = :at',
      ConditionExpression: '#period = :p',
      ExpressionAttributeNames: { '#period': 'period' },
      ExpressionAttributeValues: { ':amount': estimate, ':p': period, ':at': at },
    },
  };
}

/**
 * The period item's share of a postpaid charge: per-feature sums for the invoice, and the account-period in
 * the invoicing index. Once the invoicing job has claimed the period (`invoice_state`), a late charge is
 * refused here and books itself into the current period instead. A reversal passes `requests` -1 with the
 * cost and quantity negated.
 */
export function periodAccrual(
  accountId: string,
  period: string,
  feature: string,
  quantity: number,
  cost: Micros,
  requests: 1 | -1 = 1,
): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.period(accountId, period),
      UpdateExpression:
        'SET kind = :kind, account_id = :account, #period = :p, GSI1PK = :gpk, GSI1SK = :gsk ADD #cost :cost, #requests :one, #fc :cost, #fq :quantity, #fr :one',
      ConditionExpression: 'attribute_not_exists(invoice_state)',
      ExpressionAttributeNames: {
        '#period': 'period',
        '#cost': 'cost',
        '#requests': 'requests',
        '#fc': `f:${feature}:cost`,
        '#fq': `f:${feature}:quantity`,
        '#fr': `f:${feature}:requests`,
      },
      ExpressionAttributeValues: {
        ':kind': 'period',
        ':account': accountId,
        ':p': period,
        ':gpk': keys.invoiceDueIndex(period, shardOfAccount(accountId, INVOICE_DUE_SHARDS), accountId).GSI1PK,
        ':gsk': accountId,
        ':cost': cost,
        ':one': requests,
        ':quantity': quantity,
      },
    },
  };
}

/** The marketplace account write of a charge: nothing is debited; the subscription must be usable. */
export function marketplaceAccountCharge(accountId: string, at: string): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: 'SET updated_at = :at ADD entry_count :one',
      ConditionExpression: 'billing_mode = :marketplace AND subscription_status IN (:active, :pending)',
      ExpressionAttributeValues: {
        ':marketplace': MARKETPLACE,
        ':active': USABLE_SUBSCRIPTION_STATES[0],
        ':pending': USABLE_SUBSCRIPTION_STATES[1],
        ':at': at,
        ':one': 1,
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * The buyer's hour record: the exact cost summed per hour and dimension for the metering job. An hour the
 * job has already claimed refuses the charge, which then books itself into the current hour. A reversal
 * passes `requests` -1 with the cost negated.
 */
export function marketplaceHourAccrual(
  accountId: string,
  billing: MarketplaceBilling,
  cost: Micros,
  requests: 1 | -1 = 1,
): TransactItem {
  const index = keys.marketplacePendingIndex(
    shardOfAccount(accountId, MARKETPLACE_PENDING_SHARDS),
    billing.hour,
    accountId,
    billing.dimension,
  );
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.marketplaceHour(accountId, billing.hour, billing.dimension),
      UpdateExpression:
        'SET kind = :kind, account_id = :account, #hour = :hour, dimension = :dimension, #state = if_not_exists(#state, :pending), GSI1PK = if_not_exists(GSI1PK, :gpk), GSI1SK = if_not_exists(GSI1SK, :gsk) ADD #cost :cost, #requests :one',
      ConditionExpression: 'attribute_not_exists(#state) OR #state = :pending',
      ExpressionAttributeNames: {
        '#hour': 'hour',
        '#state': 'state',
        '#cost': 'cost',
        '#requests': 'requests',
      },
      ExpressionAttributeValues: {
        ':kind': 'marketplace_hour',
        ':account': accountId,
        ':hour': billing.hour,
        ':dimension': billing.dimension,
        ':pending': 'pending',
        ':gpk': index.GSI1PK,
        ':gsk': index.GSI1SK,
        ':cost': cost,
        ':one': requests,
      },
    },
  };
}

export type AccrualRefusal =
  | { status: 'spend_limit' }
  | { status: 'invoice_overdue' }
  | { status: 'subscription_inactive' }
  /** The account holds a newer period than the charge's: the charge is late and re-stamps itself. */
  | { status: 'period_moved'; accountPeriod: string | undefined };

/** Why the account refused an accrual, from the account item its failed condition returned. */
export function accrualRefusal(
  billing: AccrualBilling,
  account: Record<string, unknown>,
  at: string,
): AccrualRefusal {
  if (billing.mode === 'marketplace') return { status: 'subscription_inactive' };
  const accountPeriod = account.period as string | undefined;
  const periodMatches = billing.rollover
    ? accountPeriod === undefined || accountPeriod < billing.period
    : accountPeriod === billing.period;
  if (!periodMatches) return { status: 'period_moved', accountPeriod };
  const blockAt = account.overdue_block_at as string | undefined;
  if (blockAt !== undefined && blockAt <= at) return { status: 'invoice_overdue' };
  return { status: 'spend_limit' };
}
