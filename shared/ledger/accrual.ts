// The account-side writes of usage that is billed later instead of debited: postpaid usage accrues to the
// account's current period (UTC month) under its spend limit, marketplace usage needs a usable
// subscription. Each builds the account item's write in the one charging transaction next to the ledger
// entry; the period item and the hour record that bill the usage are rollups the stream derives from the
// entry afterwards (shared/usage/rollups.ts), never part of the charge.
//
// Postpaid: the account item holds `period` (YYYY-MM), `period_usage`, `period_committed` (usage plus the
// estimates of open per-unit holds) and `period_headroom` (= spend_limit - period_committed while a limit is
// set, so a limit changed while holds are open still counts them). DynamoDB conditions cannot add, so the headroom is
// kept as its own attribute and the condition compares it with the cost: concurrent calls can never
// overshoot the limit. A charge names its period; when the account still holds an older one, the charge
// opens the new period itself (the "rollover" variant), so a new month unblocks with no job.
//
// Every accrued entry also adds one to the account's `accrual_entries`, in its own transaction: the rollup
// consumer counts the same entries on the account's watermark, and the invoicing and metering jobs claim a
// period or hour only once the two agree (shared/usage/watermark.ts).

import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
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

export type MarketplaceBilling = { mode: 'marketplace'; dimension: string };

export type AccrualBilling = PostpaidBilling | MarketplaceBilling;

/** The account item's count of its accrued entries (each written with `billing_mode`). */
export const ACCRUAL_COUNT = 'accrual_entries';

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
      UpdateExpression: `SET ${set}, updated_at = :at ADD entry_count :one, ${ACCRUAL_COUNT} :one`,
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

/** The marketplace account write of a charge: nothing is debited; the subscription must be usable. */
export function marketplaceAccountCharge(accountId: string, at: string): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET updated_at = :at ADD entry_count :one, ${ACCRUAL_COUNT} :one`,
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
