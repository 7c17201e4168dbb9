// The ledger: every change to an account's balance or holds is one transaction that writes the change and
// its record together, with conditions that make it exactly-once per request id, idempotency key or
// external reference, forever. Nothing else writes `balance`, `held` or `available`.

import { config } from '../config.ts';
import { keys, OPEN_HOLD_SHARDS } from '../dynamo/keys.ts';
import { failedCondition, reasonAt, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import type { Micros } from '../money.ts';
import { negate } from '../money.ts';
import { usageUpdate } from '../usage/aggregates.ts';
import type { AccountMoney, EntryType, Hold, LedgerEntry, UsageTag } from './types.ts';

export type Guard = { reference: string };

export type ChargeOutcome =
  | { status: 'charged'; entry: LedgerEntry }
  | { status: 'already_applied'; entryId: string; amount: Micros }
  | { status: 'insufficient'; account: AccountMoney | undefined }
  | { status: 'wrong_mode'; account: AccountMoney };

const PREPAID = 'prepaid';

function toMoney(item: Record<string, unknown> | undefined): AccountMoney | undefined {
  if (!item) return undefined;
  return {
    balance: item.balance as Micros,
    held: item.held as Micros,
    available: item.available as Micros,
    billing_mode: item.billing_mode as string,
    auto_refill_active:
      (item.auto_refill as { enabled?: boolean; status?: string } | undefined)?.status === 'active' &&
      (item.auto_refill as { enabled?: boolean }).enabled === true,
  };
}

function ledgerPut(entry: LedgerEntry): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: { ...keys.ledgerEntry(entry.account_id, entry.entry_id), kind: 'ledger', ...entry },
      ConditionExpression: 'attribute_not_exists(PK)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function guardPut(accountId: string, guard: Guard, entry: LedgerEntry): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: {
        ...keys.reference(accountId, guard.reference),
        kind: 'reference',
        reference: guard.reference,
        entry_id: entry.entry_id,
        amount: entry.amount,
        created_at: entry.created_at,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * The account write of a usage charge. `heldRelease` returns a hold to `available` at the same time
 * (settling a hold releases what was reserved and not used).
 */
function accountDebit(
  accountId: string,
  amount: Micros,
  heldRelease: Micros,
  at: string,
  refillDue?: { GSI1PK: string; GSI1SK: string },
): TransactItem {
  // available changes by (heldRelease - amount); the condition keeps it from going below zero.
  const availableDelta = heldRelease - amount;
  // A debit that takes the balance below the auto-refill threshold marks the account due in the same write.
  const due = refillDue ? ', GSI1PK = :duePk, GSI1SK = if_not_exists(GSI1SK, :dueSk)' : '';
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET balance = balance - :amount, held = held - :release, available = available + :delta, updated_at = :at${due} ADD entry_count :one`,
      // Always checked, even when nothing is taken: an account in debt (after a refund) may not use anything.
      ConditionExpression: 'billing_mode = :prepaid AND available >= :need',
      ExpressionAttributeValues: {
        ':amount': amount,
        ':release': heldRelease,
        ':delta': availableDelta,
        ':at': at,
        ':one': 1,
        ':prepaid': PREPAID,
        ':need': Math.max(0, -availableDelta),
        ...(refillDue ? { ':duePk': refillDue.GSI1PK, ':dueSk': refillDue.GSI1SK } : {}),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Interprets a cancelled charge: an existing record means it was applied before; otherwise the account said no. */
function chargeRefusal(
  outcome: Awaited<ReturnType<typeof transactWrite>>,
  accountIndex: number,
  recordIndexes: number[],
): ChargeOutcome {
  for (const index of recordIndexes) {
    if (failedCondition(outcome, index)) {
      const old = reasonAt(outcome, index)!.item ?? {};
      return {
        status: 'already_applied',
        entryId: String(old.entry_id ?? ''),
        amount: (old.amount ?? 0) as Micros,
      };
    }
  }
  const account = toMoney(reasonAt(outcome, accountIndex)?.item);
  if (account && account.billing_mode !== PREPAID) return { status: 'wrong_mode', account };
  return { status: 'insufficient', account };
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
  /** The account's due mark for auto-refill, when this charge takes it below the threshold. */
  refillDue?: { GSI1PK: string; GSI1SK: string };
};

function usageEntry(charge: UsageCharge, amount: Micros, holdId?: string): LedgerEntry {
  return {
    entry_id: charge.entryId,
    account_id: charge.accountId,
    type: 'usage',
    amount: negate(amount),
    created_at: charge.at,
    request_id: charge.requestId,
    feature: charge.feature,
    quantity: charge.quantity,
    ...(charge.tokenId ? { token_id: charge.tokenId } : {}),
    ...(charge.guard ? { reference: charge.guard.reference } : {}),
    ...(holdId ? { hold_id: holdId } : {}),
  };
}

/** A fixed-cost call's charge: one round trip, one transaction (account, entry, usage day [, guard]). */
export async function chargeUsage(charge: UsageCharge): Promise<ChargeOutcome> {
  const entry = usageEntry(charge, charge.cost);
  const tag: UsageTag = { feature: charge.feature, tokenId: charge.tokenId };
  const items: TransactItem[] = [
    accountDebit(charge.accountId, charge.cost, 0 as Micros, charge.at, charge.refillDue),
    ledgerPut(entry),
    usageUpdate(charge.accountId, tag, charge.cost, charge.at),
  ];
  if (charge.guard) items.push(guardPut(charge.accountId, charge.guard, entry));
  const outcome = await transactWrite(items);
  if (outcome.committed) return { status: 'charged', entry };
  return chargeRefusal(outcome, 0, charge.guard ? [3, 1] : [1]);
}

export type ReserveOutcome =
  | { status: 'reserved'; hold: Hold }
  | { status: 'exists'; hold: Hold }
  | { status: 'insufficient'; account: AccountMoney | undefined }
  | { status: 'wrong_mode'; account: AccountMoney };

function shardOf(holdId: string): number {
  let h = 0;
  for (const ch of holdId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % OPEN_HOLD_SHARDS;
}

/** Reserves an estimate for a variable-cost call: available goes down, held goes up, balance stays. */
export async function reserveHold(input: {
  accountId: string;
  holdId: string;
  amount: Micros;
  requestId: string;
  tokenId: string | undefined;
  feature: string;
  at: Date;
  ttlMs?: number;
}): Promise<ReserveOutcome> {
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
  };
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.account(input.accountId),
        UpdateExpression: 'SET held = held + :amount, available = available - :amount, updated_at = :at',
        ConditionExpression: 'billing_mode = :prepaid AND available >= :amount',
        ExpressionAttributeValues: { ':amount': input.amount, ':at': createdAt, ':prepaid': PREPAID },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
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
  ]);
  if (outcome.committed) return { status: 'reserved', hold };
  if (failedCondition(outcome, 1)) return { status: 'exists', hold: reasonAt(outcome, 1)!.item as Hold };
  const account = toMoney(reasonAt(outcome, 0)?.item);
  if (account && account.billing_mode !== PREPAID) return { status: 'wrong_mode', account };
  return { status: 'insufficient', account };
}

function closeHold(
  hold: Hold,
  status: 'settled' | 'released' | 'expired',
  at: string,
  settled?: Micros,
): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.hold(hold.account_id, hold.hold_id),
      UpdateExpression: `SET #status = :closed, closed_at = :at${settled === undefined ? '' : ', settled_amount = :settled'} REMOVE GSI1PK, GSI1SK`,
      ConditionExpression: '#status = :open',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':closed': status,
        ':open': 'open',
        ':at': at,
        ...(settled === undefined ? {} : { ':settled': settled }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

export type SettleOutcome =
  | { status: 'charged'; entry: LedgerEntry }
  | { status: 'already_applied'; entryId: string; amount: Micros }
  | { status: 'hold_not_open'; hold: Hold | undefined }
  | { status: 'insufficient'; account: AccountMoney | undefined };

/**
 * Settles a hold at the actual cost: charges it, releases the rest, closes the hold, records the entry and
 * the usage, all in one transaction. A cost above the hold needs the difference to be available.
 */
export async function settleHold(hold: Hold, charge: UsageCharge): Promise<SettleOutcome> {
  const entry = usageEntry(charge, charge.cost, hold.hold_id);
  const tag: UsageTag = { feature: charge.feature, tokenId: charge.tokenId };
  const items: TransactItem[] = [
    accountDebit(charge.accountId, charge.cost, hold.amount, charge.at, charge.refillDue),
    closeHold(hold, 'settled', charge.at, charge.cost),
    ledgerPut(entry),
    usageUpdate(charge.accountId, tag, charge.cost, charge.at),
  ];
  if (charge.guard) items.push(guardPut(charge.accountId, charge.guard, entry));
  const outcome = await transactWrite(items);
  if (outcome.committed) return { status: 'charged', entry };
  const refusal = chargeRefusal(outcome, 0, charge.guard ? [4, 2] : [2]);
  if (refusal.status === 'already_applied') return refusal;
  if (failedCondition(outcome, 1))
    return { status: 'hold_not_open', hold: reasonAt(outcome, 1)?.item as Hold };
  return { status: 'insufficient', account: refusal.status === 'insufficient' ? refusal.account : undefined };
}

/** Gives a hold's whole amount back to `available`: the call failed (`released`) or never settled (`expired`). */
export async function releaseHold(hold: Hold, status: 'released' | 'expired', at: string): Promise<boolean> {
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.account(hold.account_id),
        UpdateExpression: 'SET held = held - :amount, available = available + :amount, updated_at = :at',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':amount': hold.amount, ':at': at },
      },
    },
    closeHold(hold, status, at),
  ]);
  return outcome.committed;
}

export type CreditOutcome =
  | { status: 'applied'; entry: LedgerEntry }
  | { status: 'already_applied'; entryId: string; amount: Micros }
  | { status: 'insufficient'; account: AccountMoney | undefined };

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
  guard?: Guard;
  /**
   * Refunds and disputes take back credits the customer may already have spent: the balance may go below
   * zero (and usage is refused until it is repaid). Nothing else may.
   */
  allowNegative?: boolean;
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
  };
  const taking = input.amount < 0 && !input.allowNegative;
  const items: TransactItem[] = [
    {
      Update: {
        TableName: config.tableName,
        Key: keys.account(input.accountId),
        UpdateExpression:
          'SET balance = balance + :amount, available = available + :amount, updated_at = :at ADD entry_count :one',
        ConditionExpression: taking ? 'attribute_exists(PK) AND available >= :need' : 'attribute_exists(PK)',
        ExpressionAttributeValues: {
          ':amount': input.amount,
          ':at': input.at,
          ':one': 1,
          ...(taking ? { ':need': -input.amount } : {}),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    ledgerPut(entry),
  ];
  if (input.guard) items.push(guardPut(input.accountId, input.guard, entry));
  const outcome = await transactWrite(items);
  if (outcome.committed) return { status: 'applied', entry };
  for (const index of input.guard ? [2, 1] : [1]) {
    if (failedCondition(outcome, index)) {
      const old = reasonAt(outcome, index)!.item ?? {};
      return { status: 'already_applied', entryId: String(old.entry_id), amount: old.amount as Micros };
    }
  }
  return { status: 'insufficient', account: toMoney(reasonAt(outcome, 0)?.item) };
}
