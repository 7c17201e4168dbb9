// Postpaid: usage accrues to the account's current period (UTC month) and is invoiced after it, under an
// optional monthly spend limit. The account item holds `period` (YYYY-MM), `period_usage`,
// `period_committed` (usage plus the estimates of open per-unit holds) and `period_headroom`
// (= spend_limit - period_committed while a limit is set, so a limit changed while holds are open still
// counts them). DynamoDB conditions cannot add, so the headroom is kept as its own attribute and the
// condition compares it with the cost: concurrent calls can never overshoot the limit. A charge names its
// period; when the account still holds an older one, the charge opens the new period itself (the "rollover"
// variant), so a new month unblocks with no job. The period item that invoices the usage is a rollup the
// stream derives from the ledger entries (shared/usage/rollups.ts), never part of the charge.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { markSpendLimitNotified } from '../accounts/repository.ts';
import { applyAccrualToView, periodOfView, setPeriodOfView } from '../accounts/view.ts';
import { BoundedMap } from '../bounded-map.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { InvoiceOverdueError, SpendLimitReachedError } from '../errors.ts';
import { billingEvent } from '../events/outbox.ts';
import { ACCRUAL_COUNT, accrualBookkeeping, periodOf } from '../ledger/accrual.ts';
import type { Micros } from '../money.ts';
import { toWire } from '../money.ts';
import { metrics } from '../observability/powertools.ts';
import { periodRollupUpdate } from '../postpaid/store.ts';
import type { BillingModeRules, PeriodBucket, PostpaidBilling } from './mode.ts';

const POSTPAID = 'postpaid';
/** `credits.spend_limit.warning` fires once a period when usage passes this share of the limit. */
const SPEND_WARNING_PERCENT = 80;

const overdueClear = '(attribute_not_exists(overdue_block_at) OR overdue_block_at > :now)';
const withinLimit = '(attribute_not_exists(spend_limit) OR period_headroom >= :cost)';

/**
 * The account write of a charge of `cost`. `headroomBack` is what a settled hold gives back to the
 * headroom (its estimate); the limit is then checked only for the part of the cost above it.
 */
function accountCharge(
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
function accountReserve(
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
    ':zero': 0,
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

/** Records a committed charge in the instance's view; the first to pass 80 % of the limit warns once. */
async function noteAccrual(accountId: string, billing: PostpaidBilling, cost: Micros): Promise<void> {
  const seen = applyAccrualToView(accountId, billing.period, cost);
  if (!seen?.limit) return;
  const warnAt = (seen.limit * SPEND_WARNING_PERCENT) / 100;
  if (seen.before >= warnAt || seen.after < warnAt) return;
  await markSpendLimitNotified(
    accountId,
    'spend_limit_warned_period',
    billing.period,
    billingEvent('credits.spend_limit.warning', accountId, {
      period: billing.period,
      period_usage: toWire(seen.after as Micros),
      monthly_spend_limit: toWire(seen.limit),
      percent: SPEND_WARNING_PERCENT,
    }),
  );
}

/** The period whose spend-limit notice this instance recorded per account: later refusals skip the write. */
const limitNoted = new BoundedMap<string, string>(10_000);

async function refuseForSpendLimit(accountId: string, period: string): Promise<never> {
  metrics.addMetric('SpendLimitReached', MetricUnit.Count, 1);
  if (limitNoted.get(accountId) === period) throw new SpendLimitReachedError();
  await markSpendLimitNotified(
    accountId,
    'spend_limit_reached_period',
    period,
    billingEvent('credits.spend_limit.reached', accountId, { period }),
  );
  limitNoted.set(accountId, period);
  throw new SpendLimitReachedError();
}

function latest(a: string, b: string): string {
  return a > b ? a : b;
}

export const postpaid: BillingModeRules<PostpaidBilling, PeriodBucket> = {
  name: POSTPAID,

  accrual: {
    bucketOf: (entry, at) => ({ mode: POSTPAID, accountId: entry.account_id, period: periodOf(at) }),
    next(bucket) {
      const [year, month] = bucket.period.split('-').map(Number) as [number, number];
      return { ...bucket, period: periodOf(new Date(Date.UTC(year, month, 1)).toISOString()) };
    },
    id: (bucket) => `${bucket.accountId} PERIOD#${bucket.period}`,
    linesPerFeature: true,
    update: (bucket, sums) => periodRollupUpdate(bucket.accountId, bucket.period, sums),
  },

  entryMoney: (_billing, used) => ({ amount: 0 as Micros, accrued: used, billing_mode: POSTPAID }),

  accountCharge(charge, billing, hold) {
    if (!hold) return accountCharge(charge.accountId, billing, charge.cost, charge.at);
    // A settle: admitted when its hold was reserved. Settled in a later period than the hold was made in,
    // it is charged to the new period, whose headroom never held the estimate.
    const samePeriod = hold.period === billing.period && !billing.rollover;
    return accountCharge(
      charge.accountId,
      { ...billing, admitted: true },
      charge.cost,
      charge.at,
      samePeriod ? hold.amount : 0,
    );
  },

  accountReserve: (request, billing) =>
    accountReserve(request.accountId, billing, request.amount, request.at),

  holdFields: (billing) => ({ mode: POSTPAID, period: billing.period }),

  // The estimate goes back to the headroom of the period it was taken from, if that period is still the
  // account's; a later period has its own headroom, and then only the hold is closed.
  accountRelease: (hold, at) => ({
    Update: {
      TableName: config.tableName,
      Key: keys.account(hold.account_id),
      UpdateExpression:
        'SET period_headroom = period_headroom + :amount, period_committed = period_committed - :amount, updated_at = :at',
      ConditionExpression: '#period = :p',
      ExpressionAttributeNames: { '#period': 'period' },
      ExpressionAttributeValues: { ':amount': hold.amount, ':p': hold.period ?? '', ':at': at },
    },
  }),

  accountReversal(charge, billing, at, scope) {
    // A period the account has left keeps its own totals (its invoice takes the reversal from the rollups).
    if (!scope.periodOpen) return accrualBookkeeping(charge.accountId, at);
    return {
      Update: {
        TableName: config.tableName,
        Key: keys.account(charge.accountId),
        UpdateExpression: `SET period_usage = period_usage - :cost, period_committed = period_committed - :cost, period_headroom = period_headroom + :cost, updated_at = :at ADD entry_count :one, ${ACCRUAL_COUNT} :one`,
        ConditionExpression: '#period = :p',
        ExpressionAttributeNames: { '#period': 'period' },
        ExpressionAttributeValues: { ':cost': charge.cost, ':p': billing.period, ':at': at, ':one': 1 },
      },
    };
  },

  refusal(billing, account, at) {
    const accountPeriod = account.period as string | undefined;
    const periodMatches = billing.rollover
      ? accountPeriod === undefined || accountPeriod < billing.period
      : accountPeriod === billing.period;
    if (!periodMatches) return { status: 'period_moved', accountPeriod };
    const blockAt = account.overdue_block_at as string | undefined;
    if (blockAt !== undefined && blockAt <= at) return { status: 'invoice_overdue' };
    return { status: 'spend_limit' };
  },

  billingOfEntry: (entry) => ({ mode: POSTPAID, period: periodOf(entry.created_at), rollover: false }),

  billingAt(accountId, at) {
    const period = periodOf(at);
    const held = periodOfView(accountId);
    return { mode: POSTPAID, period, rollover: held === undefined || held < period };
  },

  admit: async () => true,

  afterReserved: (accountId, billing) => setPeriodOfView(accountId, billing.period),

  afterCharged: (charge, billing) => noteAccrual(charge.accountId, billing, charge.cost),

  gaveBack: () => {},

  remaining: () => undefined,

  // The account holds another period than the charge named: learn it, and charge at a time inside the
  // account's period (a postpaid charge never lands before the period the account holds).
  retryAt(charge, billing, refusal) {
    if (refusal.status !== 'period_moved') return undefined;
    const accountPeriod = refusal.accountPeriod;
    setPeriodOfView(charge.accountId, accountPeriod);
    if (accountPeriod === undefined || accountPeriod < billing.period) return charge.at;
    return latest(nowIso(), `${accountPeriod}-01T00:00:00.000Z`);
  },

  refuse(charge, billing, refusal) {
    if (refusal.status === 'spend_limit') return refuseForSpendLimit(charge.accountId, billing.period);
    if (refusal.status === 'invoice_overdue') throw new InvoiceOverdueError();
    throw new Error(`unexpected postpaid refusal ${refusal.status}`);
  },
};
