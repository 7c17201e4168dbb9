// Giving back a fixed-price call's charge when its feature failed. The charge is made before the feature
// runs (an account that cannot pay gets its 402 before any work is done), so a failure must undo it: one
// transaction writes a `reversal` ledger entry keyed by the charge's id (so it happens once, however many
// reversers race) and undoes the charge's effect on the account: the balance (prepaid), the period's usage
// and headroom (postpaid), as the charge's billing mode says (shared/billing-modes/). The usage rollups, and the period item or hour record that bills the call, follow
// the reversal entry from the stream (shared/usage/rollups.ts). Rules: ../metering/CHARGING.md.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { modeOfCharge, modeOfEntry, type ReversalScope } from '../billing-modes/mode.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { failedCondition, type TransactItem, transactWrite, unexpectedReasons } from '../dynamo/transact.ts';
import { ulidAfter } from '../ids.ts';
import { type Micros, negate } from '../money.ts';
import { metrics } from '../observability/powertools.ts';
import { limitGiveBack } from '../tokens/spend-limit.ts';
import { ledgerPut, type UsageCharge } from './ledger.ts';
import { chargeEntryKey, chargeGuardKey, type Placement, placementOf } from './shards.ts';
import type { LedgerEntry } from './types.ts';

/** The id of a charge's reversal: derived, so every reverser writes the same item and only one succeeds. */
export function reversalIdOf(chargeId: string): string {
  return ulidAfter(chargeId, 1);
}

/** The id of the request's next charge once `chargeId` was reversed (a retry that runs the feature again). */
export function nextChargeIdOf(chargeId: string): string {
  return ulidAfter(chargeId, 2);
}

export type { ReversalScope };

export type ReversalPlan = {
  entry: LedgerEntry;
  items: TransactItem[];
  indexes: { account: number; reversal: number; charge: number; limit?: number };
};

/**
 * What the reversal can still undo where the charge booked it: the account's totals (a postpaid period may
 * have ended) and the token limit's spend (its period may have ended, or the limit been removed).
 */
type Undo = ReversalScope & { limitOpen: boolean };

/**
 * Proof that the charge committed, in the same transaction: a charge whose reply was lost may not exist.
 * With an Idempotency-Key the guard points at the charge and is marked reversed, so the request's next
 * attempt may charge again; without one, the charge's own ledger entry must exist.
 */
function chargeProof(charge: UsageCharge, reversalId: string): TransactItem {
  if (charge.guard) {
    return {
      Update: {
        TableName: config.tableName,
        Key: chargeGuardKey(charge.accountId, charge.guard.reference, charge.entryId, charge.placement),
        UpdateExpression: 'SET reversed_by = :reversal',
        ConditionExpression: 'entry_id = :charge',
        ExpressionAttributeValues: { ':reversal': reversalId, ':charge': charge.entryId },
      },
    };
  }
  return {
    ConditionCheck: {
      TableName: config.tableName,
      Key: chargeEntryKey(charge.accountId, charge.entryId, charge.placement),
      ConditionExpression: 'attribute_exists(PK)',
    },
  };
}

/** The reversal transaction of `charge` at `at`, given which of its bookings can still be undone. */
export function planReversal(
  charge: UsageCharge,
  at: string,
  scope: ReversalScope,
  limitOpen = true,
): ReversalPlan {
  const mode = modeOfCharge(charge);
  const entry: LedgerEntry = {
    entry_id: reversalIdOf(charge.entryId),
    account_id: charge.accountId,
    type: 'reversal',
    ...mode.entryMoney(charge.billing, negate(charge.cost)),
    created_at: at,
    request_id: charge.requestId,
    feature: charge.feature,
    quantity: charge.quantity,
    ...(charge.tokenId ? { token_id: charge.tokenId } : {}),
    reverses: charge.entryId,
    reverses_at: charge.at,
  };
  const items = [
    mode.accountReversal(charge, charge.billing, at, scope),
    ledgerPut(entry, charge.placement),
    chargeProof(charge, entry.entry_id),
  ];
  const limit = charge.tokenLimit && limitOpen ? charge.tokenLimit : undefined;
  const limitIndex = limit
    ? items.push(
        limitGiveBack(charge.accountId, limit.tokenId, limit.periodStart, {
          committed: charge.cost,
          spent: charge.cost,
        }),
      ) - 1
    : undefined;
  return {
    entry,
    items,
    indexes: {
      account: 0,
      reversal: 1,
      charge: 2,
      ...(limitIndex === undefined ? {} : { limit: limitIndex }),
    },
  };
}

export type ReversalOutcome = 'reversed' | 'already_reversed' | 'not_charged';

const MAX_REVERSAL_ATTEMPTS = 3;

/**
 * Reverses `charge` once. When the account refuses the undo where the charge booked it (a postpaid account
 * moved on to a newer period, which keeps its own totals), it is undone out of scope: the reversal still
 * reaches the invoice, as the rollup consumer takes it back from the charge's period item, or from the next
 * open one if that period was claimed already.
 */
export async function reverseCharge(charge: UsageCharge, at: string): Promise<ReversalOutcome> {
  const undo: Undo = { periodOpen: true, limitOpen: true };
  for (let attempt = 0; attempt < MAX_REVERSAL_ATTEMPTS; attempt++) {
    const plan = planReversal(charge, at, { periodOpen: undo.periodOpen }, undo.limitOpen);
    const outcome = await transactWrite(plan.items);
    if (outcome.committed) {
      metrics.addMetric('ChargeReversed', MetricUnit.Count, 1);
      return 'reversed';
    }
    const unexpected = unexpectedReasons(outcome);
    if (unexpected.length)
      throw new Error(`reversal of ${charge.entryId} refused by DynamoDB: ${unexpected.join('; ')}`);
    if (failedCondition(outcome, plan.indexes.reversal)) return 'already_reversed';
    if (failedCondition(outcome, plan.indexes.charge)) return 'not_charged';
    // The token limit moved to a new period (it starts from zero) or was removed: nothing to give back there.
    const limitClosed = plan.indexes.limit !== undefined && failedCondition(outcome, plan.indexes.limit);
    const periodClosed = failedCondition(outcome, plan.indexes.account) && undo.periodOpen;
    if (!limitClosed && !periodClosed) throw new Error(`reversal of ${charge.entryId} refused`);
    if (limitClosed) undo.limitOpen = false;
    if (periodClosed) undo.periodOpen = false;
  }
  throw new Error(`reversal of ${charge.entryId} did not settle after ${MAX_REVERSAL_ATTEMPTS} attempts`);
}

/** A request's earlier charge as found by a retry: the charge (as it was made) and whether it was reversed. */
export type EarlierCharge = { charge: UsageCharge; reversed: boolean };

/**
 * Reads a charge found by a retry (its entry, its reversal and the account's mode, in one consistent round
 * trip) and rebuilds it as it was made, so a failure of the retry reverses exactly what it booked.
 */
export async function readEarlierCharge(
  accountId: string,
  chargeId: string,
): Promise<EarlierCharge | undefined> {
  // A charge of an account that was ever sharded may sit in a ledger slot (shards.ts): both places are read.
  const slotted: Placement = { shards: 1, slotsSince: '' };
  const result = await ddb().send(
    new TransactGetCommand({
      TransactItems: [
        { Get: { TableName: config.tableName, Key: keys.ledgerEntry(accountId, chargeId) } },
        { Get: { TableName: config.tableName, Key: keys.ledgerEntry(accountId, reversalIdOf(chargeId)) } },
        {
          Get: {
            TableName: config.tableName,
            Key: keys.account(accountId),
            ProjectionExpression: 'billing_mode, balance_shards, ledger_slots_since',
          },
        },
        { Get: { TableName: config.tableName, Key: chargeEntryKey(accountId, chargeId, slotted) } },
        {
          Get: {
            TableName: config.tableName,
            Key: chargeEntryKey(accountId, reversalIdOf(chargeId), slotted),
          },
        },
      ],
    }),
  );
  const [ownEntry, ownReversal, accountItem, slotEntry, slotReversal] = (result.Responses ?? []).map(
    (response) => response.Item,
  );
  const entryItem = ownEntry ?? slotEntry;
  const reversalItem = ownReversal ?? slotReversal;
  const entry = entryItem as LedgerEntry | undefined;
  if (!entry) return undefined;
  const billing = modeOfEntry(entry, accountItem?.billing_mode).billingOfEntry(entry);
  const charge: UsageCharge = {
    accountId,
    entryId: entry.entry_id,
    requestId: entry.request_id ?? '',
    tokenId: entry.token_id,
    feature: entry.feature ?? '',
    quantity: entry.quantity ?? 1,
    cost: (entry.accrued ?? negate(entry.amount)) as Micros,
    at: entry.created_at,
    ...(entry.reference ? { guard: { reference: entry.reference } } : {}),
    ...(billing ? { billing } : {}),
    ...(accountItem ? { placement: placementOf(accountItem) } : {}),
    ...(entry.limit_period && entry.token_id
      ? { tokenLimit: { tokenId: entry.token_id, periodStart: entry.limit_period, rollover: false } }
      : {}),
  };
  return { charge, reversed: reversalItem !== undefined };
}
