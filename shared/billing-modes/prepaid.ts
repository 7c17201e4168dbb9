// Prepaid: usage is debited from the balance the customer bought. A charge's condition is the account's
// `available` (balance less open holds) covering it, so the balance never goes below zero through usage;
// an account in debt (a refund or dispute took back spent credits) may use nothing. Every write that moves
// `available` moves the auto-refill headroom with it (shared/auto-refill/headroom.ts).

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { markDepletedNotified } from '../accounts/repository.ts';
import {
  applyToView,
  noteMarkedDue,
  recentlyMarkedDue,
  refillDueAfter,
  setView,
  viewOf,
} from '../accounts/view.ts';
import { headroomFollows } from '../auto-refill/headroom.ts';
import { relist } from '../auto-refill/store.ts';
import { requestRefill } from '../auto-refill/trigger.ts';
import { BoundedMap } from '../bounded-map.ts';
import { nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { InsufficientCreditsError } from '../errors.ts';
import { billingEvent } from '../events/outbox.ts';
import { totalAfterCommit } from '../ledger/balance-shards.ts';
import { isSharded, isSlotted, shardKey } from '../ledger/shards.ts';
import { accountMoney } from '../ledger/types.ts';
import { type Micros, negate, toWire } from '../money.ts';
import { metrics } from '../observability/powertools.ts';
import type { BillingModeRules, ContractBilling, PrepaidBilling, Refusal } from './mode.ts';

const PREPAID = 'prepaid';
/** A depleted account's `credits.balance.depleted` event fires at most once in this time. */
const DEPLETED_QUIET_MS = 60 * 60_000;
/**
 * When this instance last recorded an account's depletion notice: within the quiet time a refusal sends no
 * second request to find the notice already recorded, so a refused call costs its refused transaction only.
 */
const depletedNoted = new BoundedMap<string, number>(10_000);

/** Out of credits: make sure a refill is under way, say so once, and refuse with 402. */
async function refuseForCredits(accountId: string, refusal: Refusal): Promise<never> {
  const account = refusal.status === 'insufficient' ? refusal.account : undefined;
  if (account) setView(accountId, account.available);
  // Out of credits with auto-refill on: make sure a refill is under way now rather than at the sweep (the
  // crossing debit may have been made by an instance that did not know the threshold), and that the account
  // is listed for the sweep (auto-refill switched on before accounts were listed).
  if (account?.auto_refill_active && !recentlyMarkedDue(accountId)) {
    noteMarkedDue(accountId);
    if (!account.refill_listed) await relist(accountId);
    await requestRefill(accountId);
  }
  metrics.addMetric('InsufficientCredits', MetricUnit.Count, 1);
  const noted = depletedNoted.get(accountId);
  if (noted !== undefined && nowMs() - noted < DEPLETED_QUIET_MS) throw new InsufficientCreditsError();
  const quietSince = new Date(nowMs() - DEPLETED_QUIET_MS).toISOString();
  await markDepletedNotified(
    accountId,
    quietSince,
    billingEvent('credits.balance.depleted', accountId, {
      available: account ? toWire(account.available) : 0,
      balance: account ? toWire(account.balance) : 0,
    }),
  );
  depletedNoted.set(accountId, nowMs());
  throw new InsufficientCreditsError();
}

/**
 * The rules of a mode whose usage is debited from a balance: prepaid, and the AWS Marketplace contract mode
 * (marketplace-contract.ts), funded from a contract's entitlements instead of purchases. They differ only in
 * the mode their account writes require and the billing their charges carry (`billing`): prepaid charges may
 * carry none, a contract's charge carries its mode so its hold and retries find the contract's rules.
 */
export function debitedMode<B extends PrepaidBilling | ContractBilling | undefined>(
  name: 'prepaid' | 'marketplace_contract',
  billing: (refillDue: boolean) => B,
): BillingModeRules<B> {
  return {
    name,

    entryMoney: (_billing, used) => ({ amount: negate(used) }),

    accountCharge(charge, _billing, hold) {
      // Settling a hold releases what it reserved: available changes by (released - cost), and the condition
      // keeps it from going below zero. Always checked, even when nothing is taken: an account in debt may not
      // use anything.
      const released = hold?.amount ?? 0;
      const availableDelta = released - charge.cost;
      const values = {
        ':amount': charge.cost,
        ':release': released,
        ':delta': availableDelta,
        ':at': charge.at,
        ':one': 1,
        ':need': Math.max(0, -availableDelta),
      };
      const shard = charge.shard ?? 0;
      if (shard !== 0) {
        // Another balance shard of a sharded account (shared/ledger/balance-shards.ts): its own money decides.
        return {
          Update: {
            TableName: config.tableName,
            Key: shardKey(charge.accountId, shard),
            UpdateExpression:
              'SET balance = balance - :amount, held = held - :release, available = available + :delta, updated_at = :at ADD entry_count :one',
            ConditionExpression: 'available >= :need',
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        };
      }
      // The entry goes where the account's layout says (shared/ledger/shards.ts): a charge built on an older
      // view of an account sharded since is refused here and built again, so a request's records are never in
      // two places.
      const placed = isSlotted(charge.entryId, charge.placement)
        ? 'ledger_slots_since <= :entry'
        : '(attribute_not_exists(ledger_slots_since) OR ledger_slots_since > :entry)';
      return {
        Update: {
          TableName: config.tableName,
          Key: keys.account(charge.accountId),
          UpdateExpression: `SET balance = balance - :amount, held = held - :release, available = available + :delta, ${headroomFollows('+', ':delta')}, updated_at = :at ADD entry_count :one`,
          ConditionExpression: `billing_mode = :mode AND available >= :need AND ${placed}`,
          ExpressionAttributeValues: { ...values, ':mode': name, ':entry': charge.entryId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      };
    },

    accountReserve: (request) => ({
      Update: {
        TableName: config.tableName,
        Key: keys.account(request.accountId),
        UpdateExpression: `SET held = held + :amount, available = available - :amount, ${headroomFollows('-', ':amount')}, updated_at = :at`,
        ConditionExpression: 'billing_mode = :mode AND available >= :amount',
        ExpressionAttributeValues: { ':amount': request.amount, ':at': request.at, ':mode': name },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    }),

    // A prepaid hold records no mode (holds without one are prepaid); another debited mode's records its own.
    holdFields: (billing) => (billing?.mode === 'marketplace_contract' ? { mode: billing.mode } : {}),

    accountRelease: (hold, at): TransactItem => ({
      Update: {
        TableName: config.tableName,
        Key: keys.account(hold.account_id),
        UpdateExpression: `SET held = held - :amount, available = available + :amount, ${headroomFollows('+', ':amount')}, updated_at = :at`,
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':amount': hold.amount, ':at': at },
      },
    }),

    accountReversal: (charge, _billing, at) => ({
      Update: {
        TableName: config.tableName,
        Key: keys.account(charge.accountId),
        UpdateExpression: `SET balance = balance + :cost, available = available + :cost, ${headroomFollows('+', ':cost')}, updated_at = :at ADD entry_count :one`,
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':cost': charge.cost, ':at': at, ':one': 1 },
      },
    }),

    refusal: (_billing, account) => ({ status: 'insufficient', account: accountMoney(account) }),

    billingOfEntry: () => billing(false),

    billingAt: (accountId, _at, availableDrop) => billing(refillDueAfter(accountId, availableDrop)),

    admit: async () => true,

    afterReserved: (accountId, _billing, amount) => applyToView(accountId, -amount),

    async afterCharged(charge, billing, availableDrop) {
      if (isSharded(charge.placement)) {
        // Other shards move without this instance seeing it: what is left is the total read after the commit.
        const total = await totalAfterCommit(charge.accountId, charge.placement?.shards ?? 1);
        if (total) setView(charge.accountId, total.available);
      } else applyToView(charge.accountId, -availableDrop);
      // This instance saw the debit cross the threshold: start the refill now, not at the sweep.
      if (!(billing && 'refillDue' in billing && billing.refillDue) || recentlyMarkedDue(charge.accountId))
        return;
      noteMarkedDue(charge.accountId);
      await requestRefill(charge.accountId);
    },

    gaveBack: (accountId, amount: Micros) => applyToView(accountId, amount),

    remaining: (accountId) => viewOf(accountId),

    retryAt: () => undefined,

    refuse: (charge, _billing, refusal) => refuseForCredits(charge.accountId, refusal),
  };
}

export const prepaid = debitedMode<PrepaidBilling | undefined>(PREPAID, (refillDue) =>
  refillDue ? { mode: PREPAID, refillDue: true } : undefined,
);
