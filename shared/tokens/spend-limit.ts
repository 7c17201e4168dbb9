// A token's own spend limit: a small item per limited token (none for the others), written in the same
// transaction as every charge, hold, settle, release and reversal the token makes, whose condition keeps
// the token's spend in its period within the limit exactly, however many calls race. Like the postpaid
// spend limit, it names its period: `period_start` is the UTC day, the Monday of the UTC week or the first
// of the UTC month the spend counts in ('never' resets: one period forever), and the first charge of a new
// period opens it (the "rollover" variant), so a new period needs no job.
//
// Attributes: `amount` (the limit, micro-USD), `reset`, `period_start`, `spent` (charged in the period),
// `committed` (spent plus the estimates of open holds) and `headroom` (= amount − committed: DynamoDB
// conditions cannot add, so the condition compares the headroom with the cost). The item has its own
// partition, so a limited token adds no write to its account's partition.

import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import type { Micros } from '../money.ts';

export type LimitReset = 'daily' | 'weekly' | 'monthly' | 'never';
export const LIMIT_RESETS: readonly LimitReset[] = ['daily', 'weekly', 'monthly', 'never'];

/** The one period of a limit that never resets. */
const FOREVER = '0000-01-01';

/** The first day (YYYY-MM-DD, UTC) of the period `atIso` falls in. Weeks start on Monday. */
export function limitPeriodStart(reset: LimitReset, atIso: string): string {
  const day = atIso.slice(0, 10);
  switch (reset) {
    case 'daily':
      return day;
    case 'monthly':
      return `${day.slice(0, 7)}-01`;
    case 'never':
      return FOREVER;
    case 'weekly': {
      const date = new Date(`${day}T00:00:00.000Z`);
      const sinceMonday = (date.getUTCDay() + 6) % 7;
      return new Date(date.getTime() - sinceMonday * 86_400_000).toISOString().slice(0, 10);
    }
  }
}

/** A charge's terms with its token's limit: the period it counts in, and whether it opens that period. */
export type TokenLimitTerms = {
  tokenId: string;
  periodStart: string;
  /** The item holds an older period (as far as this instance knows): this charge opens `periodStart`. */
  rollover: boolean;
  /** How the limit resets: a hold records it, so that its settle by another caller counts on the limit too. */
  reset?: LimitReset;
};

export type TokenLimitItem = {
  account_id: string;
  token_id: string;
  amount: Micros;
  reset: LimitReset;
  period_start: string;
  spent: Micros;
  committed: Micros;
  headroom: Micros;
  reached_period?: string;
};

function update(
  accountId: string,
  tokenId: string,
  set: string,
  condition: string,
  values: Record<string, unknown>,
): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.tokenLimit(accountId, tokenId),
      UpdateExpression: `SET ${set}`,
      ConditionExpression: condition,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * The limit item's write in a charge of `cost`. `headroomBack` is what a settled hold gave back (its
 * estimate, reserved in the same period); `admitted`: the estimate was admitted already, so only the part
 * of the cost above it must fit.
 */
export function limitCharge(
  accountId: string,
  terms: TokenLimitTerms,
  cost: Micros,
  headroomBack = 0,
  admitted = false,
): TransactItem {
  if (terms.rollover) {
    return update(
      accountId,
      terms.tokenId,
      'period_start = :p, spent = :cost, committed = :cost, headroom = amount - :cost',
      admitted ? 'period_start < :p' : 'period_start < :p AND amount >= :cost',
      { ':p': terms.periodStart, ':cost': cost },
    );
  }
  const extra = cost - headroomBack;
  const mustFit = !admitted || extra > 0;
  return update(
    accountId,
    terms.tokenId,
    'spent = spent + :cost, committed = committed + :extra, headroom = headroom - :extra',
    mustFit ? 'period_start = :p AND headroom >= :extra' : 'period_start = :p',
    { ':p': terms.periodStart, ':cost': cost, ':extra': extra },
  );
}

/** Reserves a per-unit call's estimate against the token's headroom (nothing is spent yet). */
export function limitReserve(accountId: string, terms: TokenLimitTerms, estimate: Micros): TransactItem {
  if (terms.rollover) {
    return update(
      accountId,
      terms.tokenId,
      'period_start = :p, spent = :zero, committed = :est, headroom = amount - :est',
      'period_start < :p AND amount >= :est',
      { ':p': terms.periodStart, ':est': estimate, ':zero': 0 },
    );
  }
  return update(
    accountId,
    terms.tokenId,
    'committed = committed + :est, headroom = headroom - :est',
    'period_start = :p AND headroom >= :est',
    { ':p': terms.periodStart, ':est': estimate },
  );
}

/**
 * Gives back to the period `periodStart` what a released hold reserved (`estimate`) or a reversed charge
 * spent (`spent`, the same as its committed part). Only while the item holds that period: a new period
 * started from zero, so there is nothing to give back.
 */
export function limitGiveBack(
  accountId: string,
  tokenId: string,
  periodStart: string,
  amounts: { committed: Micros; spent: Micros },
): TransactItem {
  return update(
    accountId,
    tokenId,
    'spent = spent - :spent, committed = committed - :committed, headroom = headroom + :committed',
    'period_start = :p',
    { ':p': periodStart, ':spent': amounts.spent, ':committed': amounts.committed },
  );
}

export type LimitRefusal =
  /** The token's spend in its period leaves no room for the cost. */
  | { status: 'token_limit' }
  /** The item holds another period than the charge assumed (`held`): charge again knowing it. */
  | { status: 'limit_period'; held: string }
  /** The token has no limit (any more): charge again without one. */
  | { status: 'limit_removed' };

/** Why the limit item refused a write made with `terms`, from the item its failed condition returned. */
export function limitRefusal(terms: TokenLimitTerms, old: Record<string, unknown> | undefined): LimitRefusal {
  if (!old) return { status: 'limit_removed' };
  const held = String(old.period_start ?? '');
  if (terms.rollover ? held < terms.periodStart : held === terms.periodStart)
    return { status: 'token_limit' };
  return { status: 'limit_period', held };
}

/**
 * A charge's terms at `atIso` given the period the item was last seen holding: an older one is opened by
 * this charge; a newer one (this instance's clock is behind the one that opened it) is the one it counts in.
 */
export function limitTerms(
  tokenId: string,
  reset: LimitReset,
  atIso: string,
  held?: string,
): TokenLimitTerms {
  const periodStart = limitPeriodStart(reset, atIso);
  if (held !== undefined && held > periodStart) return { tokenId, reset, periodStart: held, rollover: false };
  return { tokenId, reset, periodStart, rollover: held !== undefined && held < periodStart };
}

/** The item of a newly set limit: its period starts now, with nothing spent. */
export function newLimitItem(
  accountId: string,
  tokenId: string,
  amount: Micros,
  reset: LimitReset,
  atIso: string,
): TokenLimitItem {
  return {
    account_id: accountId,
    token_id: tokenId,
    amount,
    reset,
    period_start: limitPeriodStart(reset, atIso),
    spent: 0 as Micros,
    committed: 0 as Micros,
    headroom: amount,
  };
}
