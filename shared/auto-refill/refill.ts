// The refill routine both triggers feed (the prompt one from a debit, the every-minute sweep): claim the
// account, re-read it, apply the safeguards, charge the saved method off-session with a PaymentIntent keyed
// by the refill's own id, credit through the purchases' exactly-once path, and record the attempt.
import type Stripe from 'stripe';
import type { Account } from '../accounts/repository.ts';
import { nowIso, nowMs } from '../clock.ts';
import { type BillingEvent, billingEvent } from '../events/outbox.ts';
import { newUlid } from '../ids.ts';
import { readAccountTotal } from '../ledger/balance-shards.ts';
import { isSharded, placementOf } from '../ledger/shards.ts';
import { add, type Micros, toCents, toWire, ZERO } from '../money.ts';
import { logger } from '../observability/powertools.ts';
import { openCheckout } from '../payments/checkout.ts';
import { fulfilPaymentIntent } from '../payments/fulfilment.ts';
import { stripe } from '../payments/stripe-client.ts';
import { claimRefill, finishRefill, logAttempt } from './store.ts';
import {
  ATTEMPT_WINDOW_MS,
  type AutoRefill,
  MAX_ATTEMPTS_PER_WINDOW,
  MAX_CONSECUTIVE_FAILURES,
  type RefillAttempt,
  type RefillOutcome,
} from './types.ts';

export type RefillReport = {
  account_id: string;
  outcome: RefillOutcome | 'not_claimed' | 'unknown';
  reason?: string;
};

function monthOf(iso: string): string {
  return iso.slice(0, 7);
}

function isExpired(account: Account, at: Date): boolean {
  const method = account.payment_method;
  if (!method?.exp_year || !method.exp_month) return false;
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth() + 1;
  return method.exp_year < year || (method.exp_year === year && method.exp_month < month);
}

/**
 * Writes the run's end: attempt recorded in the state and in the attempt log, and the customer's events in
 * the same write (a run that lost its claim records neither).
 */
async function conclude(
  account: Account,
  state: AutoRefill,
  refillId: string,
  attempt: RefillAttempt | undefined,
  changes: Partial<AutoRefill> & { keepRefillId?: boolean },
  events: BillingEvent[] = [],
): Promise<void> {
  const { keepRefillId, ...rest } = changes;
  const next: AutoRefill = { ...state, ...rest };
  delete next.lease_until;
  if (!keepRefillId) delete next.refill_id;
  if (attempt) next.last_attempt = attempt;
  if (!(await finishRefill(account.account_id, refillId, next, events))) return;
  if (attempt) await logAttempt(account.account_id, attempt);
}

function countRecent(state: AutoRefill, now: number): string[] {
  return state.recent_attempts.filter((at) => now - Date.parse(at) < ATTEMPT_WINDOW_MS);
}

/** One refill for one account, safe to run concurrently and repeatedly: at most one is ever in flight. */
export async function runRefill(accountId: string): Promise<RefillReport> {
  const proposedId = newUlid();
  const account = await claimRefill(accountId, proposedId, nowMs());
  const state = account?.auto_refill;
  if (!account || !state?.refill_id) return { account_id: accountId, outcome: 'not_claimed' };
  const refillId = state.refill_id;
  // A refill id left by an earlier run means that run may have charged already: finish that same charge
  // (Stripe answers the same PaymentIntent for the same key) before deciding anything anew.
  const resumed = refillId !== proposedId;
  const at = nowIso();
  const now = nowMs();
  const month = monthOf(at);
  const monthTotal = state.month === month ? state.month_total : (0 as Micros);
  const recent = countRecent(state, now);
  const attempt = (outcome: RefillOutcome, extra: Partial<RefillAttempt> = {}): RefillAttempt => ({
    refill_id: refillId,
    at,
    amount: state.amount,
    outcome,
    ...extra,
  });

  // Only prepaid accounts are refilled: a postpaid or marketplace account's usage never takes its balance.
  // A sharded account's available is the sum of its shards (the claim's item is only the account item).
  const available = isSharded(placementOf(account))
    ? ((await readAccountTotal(accountId))?.available ?? account.available)
    : account.available;
  if (!resumed && (available >= state.threshold || account.billing_mode !== 'prepaid')) {
    await conclude(account, state, refillId, undefined, { month, month_total: monthTotal });
    return { account_id: accountId, outcome: 'not_needed' };
  }
  const capReached = state.monthly_cap !== null && add(monthTotal, state.amount) > state.monthly_cap;
  // A capped account stays below its threshold, so the sweep finds it every minute: the customer is told
  // once a month, and each later run ends here without an attempt or an event.
  const toldCapped =
    state.last_attempt?.outcome === 'cap_reached' && monthOf(state.last_attempt.at) === month;
  if (!resumed && capReached && toldCapped) {
    await conclude(account, state, refillId, undefined, { month, month_total: monthTotal });
    return { account_id: accountId, outcome: 'cap_reached' };
  }
  const low = billingEvent('credits.balance.low', accountId, {
    available: toWire(account.available),
    threshold: toWire(state.threshold),
    source: 'auto_refill',
  });
  if (!resumed && recent.length >= MAX_ATTEMPTS_PER_WINDOW) {
    // Still due: the sweep retries once the window has room. No attempt is made, so none is recorded.
    await conclude(account, state, refillId, undefined, { recent_attempts: recent }, [low]);
    return { account_id: accountId, outcome: 'rate_limited' };
  }
  if (!resumed && capReached) {
    const reason = `this refill would exceed the monthly cap of ${toWire(state.monthly_cap ?? ZERO)} USD`;
    await conclude(
      account,
      state,
      refillId,
      attempt('cap_reached', { reason }),
      { month, month_total: monthTotal },
      [
        low,
        billingEvent('credits.auto_refill.failed', accountId, {
          reason,
          amount: toWire(state.amount),
          outcome: 'cap_reached',
        }),
      ],
    );
    return { account_id: accountId, outcome: 'cap_reached', reason };
  }
  const method = account.payment_method;
  if (!method || !account.stripe_customer_id) {
    return suspendRun(
      account,
      state,
      refillId,
      attempt('no_payment_method'),
      'no payment method on file',
      low,
    );
  }
  if (isExpired(account, new Date(now))) {
    return suspendRun(
      account,
      state,
      refillId,
      attempt('failed', { reason: 'card expired' }),
      'the card on file has expired',
      low,
    );
  }

  let intent: Stripe.PaymentIntent;
  try {
    intent = await (await stripe()).paymentIntents.create(
      {
        amount: toCents(state.amount),
        currency: 'usd',
        customer: account.stripe_customer_id,
        payment_method: method.id,
        off_session: true,
        confirm: true,
        description: 'Automatic credit refill',
        metadata: { account_id: accountId, refill_id: refillId },
      },
      { idempotencyKey: `refill-${refillId}` },
    );
  } catch (error) {
    return chargeFailed(account, state, refillId, recent, month, monthTotal, at, error, low);
  }
  if (intent.status !== 'succeeded') {
    return chargeFailed(
      account,
      state,
      refillId,
      recent,
      month,
      monthTotal,
      at,
      new Error(`payment ${intent.status}`),
      low,
    );
  }
  await fulfilPaymentIntent(intent.id);
  await conclude(
    account,
    state,
    refillId,
    attempt('succeeded', { payment_intent: intent.id }),
    {
      consecutive_failures: 0,
      recent_attempts: [...recent, at],
      month,
      month_total: add(monthTotal, state.amount),
    },
    [
      low,
      billingEvent('credits.auto_refill.succeeded', accountId, {
        amount: toWire(state.amount),
        payment_intent: intent.id,
        payment_method: { type: method.type, brand: method.brand, last4: method.last4 },
      }),
    ],
  );
  return { account_id: accountId, outcome: 'succeeded' };
}

async function suspendRun(
  account: Account,
  state: AutoRefill,
  refillId: string,
  attempt: RefillAttempt,
  reason: string,
  low: BillingEvent,
): Promise<RefillReport> {
  await conclude(
    account,
    state,
    refillId,
    { ...attempt, reason: attempt.reason ?? reason },
    { status: 'suspended', suspended_reason: reason },
    [
      low,
      billingEvent('credits.auto_refill.suspended', account.account_id, {
        reason,
        ...(attempt.top_up_url ? { top_up_url: attempt.top_up_url } : {}),
      }),
    ],
  );
  return { account_id: account.account_id, outcome: attempt.outcome, reason };
}

type StripeFailure = { type?: string; code?: string; message?: string; payment_intent?: { id: string } };

async function chargeFailed(
  account: Account,
  state: AutoRefill,
  refillId: string,
  recent: string[],
  month: string,
  monthTotal: Micros,
  at: string,
  error: unknown,
  low: BillingEvent,
): Promise<RefillReport> {
  const failure = error as StripeFailure;
  const declined =
    failure.type === 'StripeCardError' || (error instanceof Error && error.message.startsWith('payment'));
  if (!declined) {
    // Outcome unknown (network, Stripe 5xx): keep the refill id so the retry reuses the idempotency key and
    // cannot charge twice; not counted as an attempt.
    logger.warn('refill charge outcome unknown; will retry with the same key', { error, refillId });
    await conclude(account, state, refillId, undefined, { keepRefillId: true }, [low]);
    return { account_id: account.account_id, outcome: 'unknown' };
  }
  const reason = failure.code ?? failure.message ?? 'declined';
  const base = {
    refill_id: refillId,
    at,
    amount: state.amount,
    reason,
    ...(failure.payment_intent?.id ? { payment_intent: failure.payment_intent.id } : {}),
  };
  if (failure.code === 'authentication_required') {
    // The bank wants the customer present: only a top-up they complete themselves can go on.
    const topUp = await openCheckout({
      accountId: account.account_id,
      purchaseId: `pur_${refillId}`,
      amount: state.amount,
      returnUrl: undefined,
      returnView: 'auto-refill',
    }).catch(() => undefined);
    return suspendRun(
      account,
      { ...state, recent_attempts: [...recent, at] },
      refillId,
      { ...base, outcome: 'authentication_required', ...(topUp ? { top_up_url: topUp.checkout_url } : {}) },
      'your bank asked you to authenticate this payment; top up once by hand to continue',
      low,
    );
  }
  const failures = state.consecutive_failures + 1;
  const attempt: RefillAttempt = { ...base, outcome: 'failed' };
  if (failures >= MAX_CONSECUTIVE_FAILURES) {
    return suspendRun(
      account,
      { ...state, consecutive_failures: failures, recent_attempts: [...recent, at] },
      refillId,
      attempt,
      `${failures} refills in a row failed (last: ${reason})`,
      low,
    );
  }
  await conclude(
    account,
    state,
    refillId,
    attempt,
    { consecutive_failures: failures, recent_attempts: [...recent, at], month, month_total: monthTotal },
    [
      low,
      billingEvent('credits.auto_refill.failed', account.account_id, {
        reason,
        amount: toWire(state.amount),
        consecutive_failures: failures,
      }),
    ],
  );
  return { account_id: account.account_id, outcome: 'failed', reason };
}
