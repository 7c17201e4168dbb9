// Refunds and disputes take credits back, bounded by what their payment credited. Rules:
// - Only a payment this deployment credited (its `stripe:pi:…` reference exists) can be taken back from.
// - Each refund and each dispute takes back once (its own `stripe:re:…` / `stripe:dp:…` reference).
// - All of a payment's refunds and disputes together take back at most what it credited: the credit's
//   reference keeps the running total (`taken_back`), changed in the same transaction as the debit, on the
//   condition that it is still the total the plan was made from (else re-read and plan again).
// - The amount is Stripe's, re-read by the caller, never an event body's.
// - The balance may go below zero (credits already spent); usage is then refused until it is repaid.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { billingEvent } from '../events/outbox.ts';
import { newUlid } from '../ids.ts';
import { applyCredit, BoundChangedError } from '../ledger/ledger.ts';
import { add, type Micros, max, min, negate, subtract, toWire, ZERO } from '../money.ts';
import { ignoreUnknown, reportCapped } from './refusals.ts';

export type TakeBackPlan = { take: Micros; capped: boolean };

/** How much of `requested` may be taken back from a payment that credited `credited`, `taken` already gone. */
export function planTakeBack(input: { requested: Micros; credited: Micros; taken: Micros }): TakeBackPlan {
  const room = max(ZERO, subtract(input.credited, input.taken));
  const take = min(max(ZERO, input.requested), room);
  return { take, capped: take < input.requested };
}

export type TakeBack = {
  accountId: string;
  paymentIntentId: string;
  chargeId: string;
  kind: 'refund' | 'dispute';
  /** The refund's or dispute's id. */
  objectId: string;
  /** Stripe's amount for it, re-read. */
  requested: Micros;
  reason: string;
};

export type TakeBackOutcome = 'applied' | 'already_applied' | 'nothing_left' | 'not_ours';

type Reference = { amount: Micros; taken_back?: Micros };

async function readReference(accountId: string, reference: string): Promise<Reference | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.reference(accountId, reference),
      ConsistentRead: true,
    }),
  );
  return result.Item as Reference | undefined;
}

/** The credit's running total moves from `seen` to `next`, only if it is still `seen`. */
function takenBackUpdate(
  accountId: string,
  creditReference: string,
  seen: Micros,
  next: Micros,
): TransactItem {
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.reference(accountId, creditReference),
      UpdateExpression: 'SET taken_back = :next',
      ConditionExpression:
        seen === ZERO ? 'attribute_exists(PK) AND attribute_not_exists(taken_back)' : 'taken_back = :seen',
      ExpressionAttributeValues: { ':next': next, ...(seen === ZERO ? {} : { ':seen': seen }) },
    },
  };
}

const MAX_PLANS = 8;

export async function takeBack(input: TakeBack): Promise<TakeBackOutcome> {
  const creditReference = `stripe:pi:${input.paymentIntentId}`;
  const ownReference = `stripe:${input.kind === 'refund' ? 're' : 'dp'}:${input.objectId}`;
  for (let attempt = 0; attempt < MAX_PLANS; attempt++) {
    const [credit, own] = await Promise.all([
      readReference(input.accountId, creditReference),
      readReference(input.accountId, ownReference),
    ]);
    if (own) return 'already_applied';
    if (!credit) return ignoreUnknown(input.kind, input.objectId, 'its payment was never credited here');
    const taken = credit.taken_back ?? ZERO;
    const plan = planTakeBack({ requested: input.requested, credited: credit.amount, taken });
    const report = {
      accountId: input.accountId,
      kind: input.kind,
      id: input.objectId,
      charge: input.chargeId,
      requested: toWire(input.requested),
      credited: toWire(credit.amount),
      already_taken_back: toWire(taken),
      taken_back_now: toWire(plan.take),
    };
    if (plan.take === ZERO) {
      reportCapped(report);
      return 'nothing_left';
    }
    const amount = negate(plan.take);
    let outcome: Awaited<ReturnType<typeof applyCredit>>;
    // The event carries the time of its ledger entry: one clock reading for both.
    const at = nowIso();
    try {
      outcome = await applyCredit({
        accountId: input.accountId,
        entryId: newUlid(),
        type: input.kind,
        amount,
        at,
        reason: plan.capped ? `${input.reason}; capped at what the payment credited` : input.reason,
        guard: { reference: ownReference },
        allowNegative: true,
        bound: takenBackUpdate(input.accountId, creditReference, taken, add(taken, plan.take)),
        events: [
          billingEvent(
            'credits.refund.applied',
            input.accountId,
            {
              amount: toWire(amount),
              [input.kind]: input.objectId,
              charge: input.chargeId,
              kind: input.kind,
            },
            at,
          ),
        ],
      });
    } catch (error) {
      // Another refund or dispute of the same payment committed since the read: plan again.
      if (error instanceof BoundChangedError) continue;
      throw error;
    }
    if (outcome.status === 'already_applied') return 'already_applied';
    if (outcome.status !== 'applied') {
      return ignoreUnknown(input.kind, input.objectId, 'its account is not in this deployment');
    }
    if (plan.capped) reportCapped(report);
    return 'applied';
  }
  throw new Error(`take-back of ${input.objectId} kept conflicting with others of the same payment`);
}
