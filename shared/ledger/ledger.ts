// The ledger: every change to an account's balance or holds is one transaction that writes the change and
// its record together, with conditions that make it exactly-once per request id, idempotency key or
// external reference, forever. Nothing else writes `balance`, `held` or `available`, except `reversal.ts`,
// which gives a failed fixed-price call's charge back with the same guarantees. Every write that moves
// `available` moves the auto-refill headroom with it (shared/auto-refill/headroom.ts).
//
// A usage charge, hold, settle or release is the same transaction in every billing mode: the account write
// the charge's mode builds (its condition decides whether the account pays), the ledger entry with the
// money fields the mode gives it, and the request's guard. A failed condition is read back through the
// mode as its refusal. The modes' rules: shared/billing-modes/.

import { headroomFollows } from '../auto-refill/headroom.ts';
import {
  type Billing,
  type BillingModeRules,
  modeOfCharge,
  modeOfHold,
  type Refusal,
} from '../billing-modes/mode.ts';
import { config } from '../config.ts';
import { keys, OPEN_HOLD_SHARDS } from '../dynamo/keys.ts';
import {
  failedCondition,
  reasonAt,
  type TransactItem,
  type TransactOutcome,
  transactWrite,
  unexpectedReasons,
} from '../dynamo/transact.ts';
import { TemporarilyUnavailableError } from '../errors.ts';
import { type BillingEvent, eventPut } from '../events/outbox.ts';
import type { Micros } from '../money.ts';
import {
  type LimitRefusal,
  limitCharge,
  limitGiveBack,
  limitRefusal,
  limitReserve,
  type TokenLimitTerms,
} from '../tokens/spend-limit.ts';
import { gatherForTakeBack } from './balance-shards.ts';
import { chargeEntryKey, chargeGuardKey, isSlotted, type Placement } from './shards.ts';
import {
  type AccountMoney,
  accountMoney,
  type EntryType,
  type Hold,
  LEDGER_ITEM_KIND,
  type LedgerEntry,
} from './types.ts';

export type Guard = { reference: string };

/** The account is billed in another mode than the charge assumed: the caller retries in that mode. */
export type ChargeRetry = { status: 'wrong_mode'; account: AccountMoney; item: Record<string, unknown> };

/**
 * DynamoDB refused the write for a reason that is not a failed condition (e.g. a `ValidationError`: an item
 * over 400 KB). Nothing was written and nothing is known about the account's money: never a 402.
 */
export type ChargeRejected = { status: 'rejected'; reasons: string[] };

export type ChargeOutcome =
  | { status: 'charged'; entry: LedgerEntry }
  | { status: 'already_applied'; entryId: string; amount: Micros; accrued?: Micros }
  | Refusal
  | LimitRefusal
  | ChargeRetry
  | ChargeRejected;

/** `placement`: a charge's or reversal's entry goes where its account's layout puts it (shards.ts). */
export function ledgerPut(entry: LedgerEntry, placement?: Placement): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: {
        ...chargeEntryKey(entry.account_id, entry.entry_id, placement),
        kind: LEDGER_ITEM_KIND,
        ...entry,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * The permanent guard of an Idempotency-Key or external reference. `replaces`: the request's earlier charge,
 * reversed (its reversal marked the guard), which this charge may take the guard over from.
 */
function guardPut(
  accountId: string,
  guard: Guard,
  entry: LedgerEntry,
  replaces?: string,
  placement?: Placement,
): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: {
        ...chargeGuardKey(accountId, guard.reference, entry.entry_id, placement),
        kind: 'reference',
        reference: guard.reference,
        entry_id: entry.entry_id,
        amount: entry.amount,
        ...(entry.accrued === undefined ? {} : { accrued: entry.accrued }),
        created_at: entry.created_at,
      },
      ConditionExpression: replaces
        ? 'attribute_not_exists(PK) OR (entry_id = :replaces AND attribute_exists(reversed_by))'
        : 'attribute_not_exists(PK)',
      ...(replaces ? { ExpressionAttributeValues: { ':replaces': replaces } } : {}),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** An item of the charge's own records (its guard or ledger entry) exists: it was applied before. */
function appliedBefore(
  outcome: TransactOutcome,
  records: number[],
): { status: 'already_applied'; entryId: string; amount: Micros; accrued?: Micros } | undefined {
  for (const index of records) {
    if (failedCondition(outcome, index)) {
      const old = reasonAt(outcome, index)!.item ?? {};
      return {
        status: 'already_applied',
        entryId: String(old.entry_id ?? ''),
        amount: (old.amount ?? 0) as Micros,
        ...(old.accrued === undefined ? {} : { accrued: old.accrued as Micros }),
      };
    }
  }
  return undefined;
}

function rejected(outcome: TransactOutcome): ChargeRejected | undefined {
  const reasons = unexpectedReasons(outcome);
  return reasons.length ? { status: 'rejected', reasons } : undefined;
}

/**
 * Why the account's write was refused: the account is in another mode than the charge assumed (the caller
 * retries in that mode), or its mode reads the refusal from the item its condition returned. No account at
 * all cannot pay either.
 */
function accountRefusal(
  outcome: TransactOutcome,
  index: number,
  mode: BillingModeRules,
  billing: Billing | undefined,
  at: string,
): Refusal | ChargeRetry | ChargeRejected {
  // Only the account's own condition failing is a refusal about money.
  if (!failedCondition(outcome, index)) return { status: 'rejected', reasons: [] };
  const item = reasonAt(outcome, index)?.item;
  const account = accountMoney(item);
  if (!item || !account) return { status: 'insufficient', account: undefined };
  if (account.billing_mode !== mode.name) return { status: 'wrong_mode', account, item };
  return mode.refusal(billing, item, at);
}

/** The account item refused a charge whose records it would place elsewhere (the charge's view is old). */
function misplaced(charge: UsageCharge, item: Record<string, unknown>): boolean {
  const since = item.ledger_slots_since;
  const slotted = typeof since === 'string' && charge.entryId >= since;
  return slotted !== isSlotted(charge.entryId, charge.placement);
}

/** Interprets a cancelled charge: an existing record means it was applied before; otherwise the account said no. */
function chargeRefusal(
  outcome: TransactOutcome,
  charge: UsageCharge,
  indexes: { account: number; records: number[] },
): ChargeOutcome {
  const unexpected = rejected(outcome);
  if (unexpected) return unexpected;
  const before = appliedBefore(outcome, indexes.records);
  if (before) return before;
  if (failedCondition(outcome, indexes.account)) {
    // A balance shard said no (or is missing): the sharded charge decides what next (balance-shards.ts).
    if ((charge.shard ?? 0) !== 0) return { status: 'insufficient', account: undefined };
    // A charge built on an older view of an account sharded since: learn the account and build it again.
    const item = reasonAt(outcome, indexes.account)?.item;
    const account = accountMoney(item);
    if (item && account && modeOfCharge(charge).name === 'prepaid' && misplaced(charge, item))
      return { status: 'wrong_mode', account, item };
  }
  return refusalOf(outcome, indexes, modeOfCharge(charge), charge, charge.at);
}

/** The account's refusal when its condition failed, else the token limit's when that one failed. */
function refusalOf(
  outcome: TransactOutcome,
  indexes: { account: number; limit?: number },
  mode: BillingModeRules,
  charge: Pick<UsageCharge, 'billing' | 'tokenLimit'>,
  at: string,
): Refusal | LimitRefusal | ChargeRetry | ChargeRejected {
  const limitFailed = indexes.limit !== undefined && failedCondition(outcome, indexes.limit);
  if (failedCondition(outcome, indexes.account) || !limitFailed || !charge.tokenLimit)
    return accountRefusal(outcome, indexes.account, mode, charge.billing, at);
  return limitRefusal(charge.tokenLimit, reasonAt(outcome, indexes.limit!)?.item);
}

export type UsageCharge = {
  accountId: string;
  /** The request's ULID: the ledger entry's id, so a redelivered request finds its own entry. */
  entryId: string;
  requestId: string;
  tokenId: string | undefined;
  feature: string;
  quantity: number;
  cost: Micros;
  at: string;
  guard?: Guard;
  /** The charge's billing mode and what the mode decides on (shared/billing-modes/); none: prepaid. */
  billing?: Billing;
  /** The token's own spend limit: its item is written in the charge's transaction (shared/tokens/spend-limit.ts). */
  tokenLimit?: TokenLimitTerms;
  /** The request's earlier charge, reversed: this one charges the request again (a retry after a failure). */
  replaces?: string;
  /** A settle capped at its hold: the cost that was asked (recorded on the hold, so a re-settle can say so). */
  cappedFrom?: Micros;
  /** How the account lays out its shards and records, as this instance knows it (shards.ts). */
  placement?: Placement;
  /** The balance shard this charge debits (prepaid; 0, the account item, unless sharded). */
  shard?: number;
  /**
   * One more conditional put in the charge's transaction (the Idempotency-Key's completed record of a
   * metering API charge): when it exists already, nothing is written and the outcome is `companion_exists`.
   */
  companion?: TransactItem;
};

function usageEntry(charge: UsageCharge, amount: Micros, holdId?: string): LedgerEntry {
  return {
    entry_id: charge.entryId,
    account_id: charge.accountId,
    type: 'usage',
    ...modeOfCharge(charge).entryMoney(charge.billing, amount),
    created_at: charge.at,
    request_id: charge.requestId,
    feature: charge.feature,
    quantity: charge.quantity,
    ...(charge.tokenId ? { token_id: charge.tokenId } : {}),
    ...(charge.guard ? { reference: charge.guard.reference } : {}),
    ...(holdId ? { hold_id: holdId } : {}),
    ...(charge.tokenLimit ? { limit_period: charge.tokenLimit.periodStart } : {}),
  };
}

/**
 * The token limit's write in a charge. A settle whose hold reserved its estimate on the limit was admitted
 * then: only the cost above the estimate must fit, and in the hold's own period the estimate is given back.
 */
function limitWrite(charge: UsageCharge, terms: TokenLimitTerms, hold?: Hold): TransactItem {
  const admitted = hold?.limit_period !== undefined;
  const samePeriod = admitted && hold.limit_period === terms.periodStart && !terms.rollover;
  return limitCharge(charge.accountId, terms, charge.cost, samePeriod ? hold.amount : 0, admitted);
}

/** The account write of a charge in the charge's billing mode; `hold`: the hold the charge settles. */
function accountCharge(charge: UsageCharge, hold?: Hold): TransactItem {
  return modeOfCharge(charge).accountCharge(charge, charge.billing, hold);
}

/**
 * One charging transaction, in every billing mode: the account write (whose condition decides: balance,
 * spend limit and period, or subscription) and the ledger entry, with the request's guard when it has one.
 * `extra` rides along (a hold's close, a metering API key's record). Usage rollups, postpaid period items
 * and marketplace hour records are derived from the ledger entry by the stream (shared/usage/rollups.ts),
 * outside the charge.
 */
async function commitCharge(
  charge: UsageCharge,
  entry: LedgerEntry,
  account: TransactItem,
  extra?: TransactItem,
  hold?: Hold,
): Promise<{
  outcome: Awaited<ReturnType<typeof transactWrite>>;
  indexes: { account: number; records: number[]; extra?: number; limit?: number };
}> {
  const items: TransactItem[] = [account];
  const extraIndex = extra ? items.push(extra) - 1 : undefined;
  const limitIndex = charge.tokenLimit
    ? items.push(limitWrite(charge, charge.tokenLimit, hold)) - 1
    : undefined;
  const ledgerIndex = items.push(ledgerPut(entry, charge.placement)) - 1;
  const guardIndex = charge.guard
    ? items.push(guardPut(charge.accountId, charge.guard, entry, charge.replaces, charge.placement)) - 1
    : undefined;
  const outcome = await transactWrite(items);
  return {
    outcome,
    indexes: {
      account: 0,
      records: guardIndex === undefined ? [ledgerIndex] : [guardIndex, ledgerIndex],
      ...(extraIndex === undefined ? {} : { extra: extraIndex }),
      ...(limitIndex === undefined ? {} : { limit: limitIndex }),
    },
  };
}

/** A call's charge without a hold: one round trip, one transaction. */
export async function chargeUsage(
  charge: UsageCharge,
): Promise<ChargeOutcome | { status: 'companion_exists'; item: Record<string, unknown> }> {
  const entry = usageEntry(charge, charge.cost);
  const { outcome, indexes } = await commitCharge(charge, entry, accountCharge(charge), charge.companion);
  if (outcome.committed) return { status: 'charged', entry };
  if (indexes.extra !== undefined && failedCondition(outcome, indexes.extra) && !rejected(outcome))
    return { status: 'companion_exists', item: reasonAt(outcome, indexes.extra)?.item ?? {} };
  return chargeRefusal(outcome, charge, indexes);
}

/** A charge's companion put found its item already there: the charge was not made (the caller decides). */
export class CompanionExistsError extends Error {
  override readonly name = 'CompanionExistsError';
  readonly item: Record<string, unknown>;
  constructor(item: Record<string, unknown>) {
    super('the charge transaction found its companion item already written');
    this.item = item;
  }
}

export type ReserveOutcome =
  | { status: 'reserved'; hold: Hold }
  | { status: 'exists'; hold: Hold }
  | Refusal
  | LimitRefusal
  | ChargeRetry
  | ChargeRejected;

function shardOf(holdId: string): number {
  let h = 0;
  for (const ch of holdId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % OPEN_HOLD_SHARDS;
}

/**
 * Reserves an estimate for a per-unit call against what its mode limits (prepaid: available goes down, held
 * goes up, balance stays). A mode that holds nothing (`admit` decides instead) may not be asked.
 */
export async function reserveHold(input: {
  accountId: string;
  holdId: string;
  amount: Micros;
  requestId: string;
  tokenId: string | undefined;
  feature: string;
  at: Date;
  ttlMs?: number;
  billing?: Billing;
  tokenLimit?: TokenLimitTerms;
}): Promise<ReserveOutcome> {
  const mode = modeOfCharge(input);
  const createdAt = input.at.toISOString();
  const expiresAt = new Date(input.at.getTime() + (input.ttlMs ?? config.holdTtlMs)).toISOString();
  const hold: Hold = {
    hold_id: input.holdId,
    account_id: input.accountId,
    amount: input.amount,
    status: 'open',
    hold_expires_at: expiresAt,
    created_at: createdAt,
    request_id: input.requestId,
    feature: input.feature,
    ...(input.tokenId ? { token_id: input.tokenId } : {}),
    ...mode.holdFields(input.billing),
    ...(input.tokenLimit ? { limit_period: input.tokenLimit.periodStart } : {}),
    ...(input.tokenLimit?.reset ? { limit_reset: input.tokenLimit.reset } : {}),
  };
  const account = mode.accountReserve(
    { accountId: input.accountId, amount: input.amount, at: createdAt },
    input.billing,
  );
  if (!account) throw new Error(`${mode.name} accounts hold nothing: hold ${input.holdId} is not reserved`);
  const outcome = await transactWrite([
    account,
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.hold(input.accountId, input.holdId),
          ...keys.openHoldIndex(shardOf(input.holdId), expiresAt, input.accountId, input.holdId),
          kind: 'hold',
          ...hold,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    ...(input.tokenLimit ? [limitReserve(input.accountId, input.tokenLimit, input.amount)] : []),
  ]);
  if (outcome.committed) return { status: 'reserved', hold };
  const unexpected = rejected(outcome);
  if (unexpected) return unexpected;
  if (failedCondition(outcome, 1)) return { status: 'exists', hold: reasonAt(outcome, 1)!.item as Hold };
  return refusalOf(
    outcome,
    { account: 0, ...(input.tokenLimit ? { limit: 2 } : {}) },
    mode,
    input,
    createdAt,
  );
}

function closeHold(
  hold: Hold,
  status: 'settled' | 'released' | 'expired',
  at: string,
  settled?: Micros,
  cappedFrom?: Micros,
): TransactItem {
  const settledSet = settled === undefined ? '' : ', settled_amount = :settled';
  const cappedSet = cappedFrom === undefined ? '' : ', capped_from = :cappedFrom';
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.hold(hold.account_id, hold.hold_id),
      UpdateExpression: `SET #status = :closed, closed_at = :at${settledSet}${cappedSet} REMOVE GSI1PK, GSI1SK`,
      ConditionExpression: '#status = :open',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':closed': status,
        ':open': 'open',
        ':at': at,
        ...(settled === undefined ? {} : { ':settled': settled }),
        ...(cappedFrom === undefined ? {} : { ':cappedFrom': cappedFrom }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

export type SettleOutcome =
  | { status: 'charged'; entry: LedgerEntry }
  | { status: 'already_applied'; entryId: string; amount: Micros; accrued?: Micros }
  | { status: 'hold_not_open'; hold: Hold | undefined }
  /** The hold was made in another billing mode than the account's now: release it and charge anew. */
  | { status: 'mode_changed' }
  | Refusal
  | LimitRefusal
  | ChargeRetry
  | ChargeRejected;

/**
 * Settles a hold at the actual cost: charges it, releases the rest, closes the hold and records the entry,
 * all in one transaction. A cost above the hold needs the difference to pass the mode's condition (prepaid:
 * available; postpaid: within the spend limit).
 */
export async function settleHold(hold: Hold, charge: UsageCharge): Promise<SettleOutcome> {
  if (modeOfHold(hold).name !== modeOfCharge(charge).name) return { status: 'mode_changed' };
  const account = accountCharge(charge, hold);
  const entry = usageEntry(charge, charge.cost, hold.hold_id);
  const { outcome, indexes } = await commitCharge(
    charge,
    entry,
    account,
    closeHold(hold, 'settled', charge.at, charge.cost, charge.cappedFrom),
    hold,
  );
  if (outcome.committed) return { status: 'charged', entry };
  const closedBefore =
    indexes.extra !== undefined &&
    failedCondition(outcome, indexes.extra) &&
    !rejected(outcome) &&
    !appliedBefore(outcome, indexes.records);
  if (closedBefore) return { status: 'hold_not_open', hold: reasonAt(outcome, indexes.extra!)?.item as Hold };
  return chargeRefusal(outcome, charge, indexes);
}

/**
 * Gives a hold's whole estimate back where its mode took it from, and closes it: the call failed
 * (`released`) or never settled (`expired`). When the account no longer takes it back (a postpaid period
 * that ended: the next period has its own headroom), only the hold is closed. False: it was closed before.
 */
export async function releaseHold(hold: Hold, status: 'released' | 'expired', at: string): Promise<boolean> {
  let account = modeOfHold(hold).accountRelease(hold, at);
  let limit =
    hold.limit_period && hold.token_id
      ? limitGiveBack(hold.account_id, hold.token_id, hold.limit_period, {
          committed: hold.amount,
          spent: 0 as Micros,
        })
      : undefined;
  // Each part the account or the token's limit no longer takes back (a period ended, a limit removed) is
  // left out of the next attempt; the hold is closed in every one.
  for (;;) {
    const items = [closeHold(hold, status, at)];
    const accountIndex = account ? items.push(account) - 1 : undefined;
    const limitIndex = limit ? items.push(limit) - 1 : undefined;
    const outcome = await transactWrite(items);
    if (outcome.committed) return true;
    if (failedCondition(outcome, 0)) return false;
    const accountGone = accountIndex !== undefined && failedCondition(outcome, accountIndex);
    const limitGone = limitIndex !== undefined && failedCondition(outcome, limitIndex);
    if (!accountGone && !limitGone)
      throw new Error(`release of hold ${hold.hold_id} refused: ${unexpectedReasons(outcome).join('; ')}`);
    if (accountGone) account = undefined;
    if (limitGone) limit = undefined;
  }
}

export type CreditOutcome =
  | { status: 'applied'; entry: LedgerEntry }
  | { status: 'already_applied'; entryId: string; amount: Micros; accrued?: Micros }
  | { status: 'insufficient'; account: AccountMoney | undefined };

/** The `bound` write of `applyCredit` found the state it was planned on changed: re-read and plan again. */
export class BoundChangedError extends Error {
  override readonly name = 'BoundChangedError';
}

/**
 * A grant (positive) or correction (negative) by an operator, or a credit from a payment. A negative amount
 * never takes the available balance below zero. `guard` makes it exactly-once per external reference.
 */
export async function applyCredit(input: {
  accountId: string;
  entryId: string;
  type: EntryType;
  amount: Micros;
  at: string;
  reason?: string;
  requestId?: string;
  /** A payment's credit: how it was paid and its receipt, shown with the entry. */
  paymentMethod?: string;
  receiptUrl?: string;
  guard?: Guard;
  /**
   * Refunds and disputes take back credits the customer may already have spent: the balance may go below
   * zero (and usage is refused until it is repaid). Nothing else may.
   */
  allowNegative?: boolean;
  /**
   * One more conditional write in the same transaction (a refund's or dispute's running total on the credit
   * it takes back). When only its condition fails, nothing is written and `BoundChangedError` is thrown.
   */
  bound?: TransactItem;
  /** The events that announce this credit: recorded in its transaction, so they exist exactly when it does. */
  events?: BillingEvent[];
  /** The audit entry of the operator's grant or correction: it too exists exactly when the credit does. */
  audit?: TransactItem;
}): Promise<CreditOutcome> {
  const entry: LedgerEntry = {
    entry_id: input.entryId,
    account_id: input.accountId,
    type: input.type,
    amount: input.amount,
    created_at: input.at,
    ...(input.reason ? { reason: input.reason } : {}),
    ...(input.requestId ? { request_id: input.requestId } : {}),
    ...(input.guard ? { reference: input.guard.reference } : {}),
    ...(input.paymentMethod ? { payment_method: input.paymentMethod } : {}),
    ...(input.receiptUrl ? { receipt_url: input.receiptUrl } : {}),
  };
  const taking = input.amount < 0 && !input.allowNegative;
  for (let attempt = 1; ; attempt++) {
    // Taking credit back works on the account total: a sharded account's credit is gathered onto its
    // account item in the same transaction, each shard conditioned on what was read (balance-shards.ts).
    const gather = input.amount < 0 ? await gatherForTakeBack(input.accountId) : undefined;
    const gathered = gather?.gathered ?? 0;
    const items: TransactItem[] = [
      {
        Update: {
          TableName: config.tableName,
          Key: keys.account(input.accountId),
          UpdateExpression: `SET balance = balance + :move, available = available + :move, ${headroomFollows('+', ':move')}, updated_at = :at ADD entry_count :one`,
          ConditionExpression: taking
            ? 'attribute_exists(PK) AND available >= :need'
            : 'attribute_exists(PK)',
          ExpressionAttributeValues: {
            ':move': input.amount + gathered,
            ':at': input.at,
            ':one': 1,
            ...(taking ? { ':need': -input.amount - gathered } : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      ledgerPut(entry),
    ];
    if (input.guard) items.push(guardPut(input.accountId, input.guard, entry));
    const boundIndex = items.length;
    if (input.bound) items.push(input.bound);
    items.push(...(input.events ?? []).map(eventPut));
    if (input.audit) items.push(input.audit);
    const gatherFrom = items.length;
    items.push(...(gather?.items ?? []));
    const outcome = await transactWrite(items);
    if (outcome.committed) return { status: 'applied', entry };
    const shardMoved = items.some((_, index) => index >= gatherFrom && failedCondition(outcome, index));
    if (shardMoved && attempt < MAX_GATHER_ATTEMPTS) continue;
    if (shardMoved) throw new TemporarilyUnavailableError();
    return creditRefusal(outcome, input, boundIndex);
  }
}

const MAX_GATHER_ATTEMPTS = 5;

function creditRefusal(
  outcome: TransactOutcome,
  input: { guard?: Guard; bound?: TransactItem },
  boundIndex: number,
): CreditOutcome {
  for (const index of input.guard ? [2, 1] : [1]) {
    if (failedCondition(outcome, index)) {
      const old = reasonAt(outcome, index)!.item ?? {};
      return { status: 'already_applied', entryId: String(old.entry_id), amount: old.amount as Micros };
    }
  }
  if (input.bound && failedCondition(outcome, boundIndex)) throw new BoundChangedError();
  return { status: 'insufficient', account: accountMoney(reasonAt(outcome, 0)?.item) };
}
