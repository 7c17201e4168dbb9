// One postpaid account's invoice for one closed period, exactly once whatever crashes or repeats: once the
// rollup consumer has rolled in every accrued entry of the account (shared/usage/watermark.ts), claim the
// period (closing it to late entries, computing the amount and moving the sub-cent carry in one
// transaction), then create, fill, finalize and send the Stripe invoice, each call with an idempotency key
// derived from the account and period, storing the invoice id as soon as it is known. A run that finds a
// claim whose lease ran out resumes it from what was stored; it never creates a second invoice.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type Stripe from 'stripe';
import { nowIso, nowMs } from '../clock.ts';
import { newUlid } from '../ids.ts';
import { add, allocateCents, type Micros, micros, splitCents } from '../money.ts';
import { logger, metrics } from '../observability/powertools.ts';
import { ensureCustomer } from '../payments/customers.ts';
import { stripe } from '../payments/stripe-client.ts';
import { type RollupGate, rollupGate } from '../usage/watermark.ts';
import { recordInvoiceStatus } from './lifecycle.ts';
import { isClosed, periodEndMs, periodStartMs } from './periods.ts';
import {
  advanceState,
  claimPeriod,
  DEFAULT_TERMS_DAYS,
  featureUsage,
  finishPeriod,
  getAccountForInvoicing,
  getPeriod,
  type InvoicePlan,
  LeaseLostError,
  leaveDueIndex,
  type PeriodItem,
  recordInvoiceId,
  takeLease,
} from './store.ts';

/** Longer than the worker's timeout, so a live run never loses its lease; shorter than SQS's redelivery. */
export const INVOICE_LEASE_MS = 90_000;

export type InvoiceOutcome =
  | 'invoiced'
  /** The rounded total was under one cent: no invoice, the amount carries into the next period. */
  | 'below_one_cent'
  | 'already_invoiced'
  /** Another run holds the claim's lease (it is working on it, or crashed and its lease has not run out). */
  | 'busy'
  | 'period_open'
  /** The rollups lag the account's ledger: the period stays due for the job's next run. */
  | 'rollups_behind'
  | 'no_usage';

export type InvoiceRunReport = {
  account_id: string;
  period: string;
  outcome: InvoiceOutcome;
  invoice_id?: string;
  amount_cents?: number;
  resumed?: boolean;
};

/** The Stripe steps, for fault injection in tests: called right after each Stripe call returned. */
export type InvoiceStep = 'created' | `item:${string}` | 'finalized' | 'sent';
export type InvoiceOptions = {
  afterStripeCall?: (step: InvoiceStep) => void | Promise<void>;
  /** The run's gate on the rollups (one per worker invocation); a call of its own by default. */
  gate?: RollupGate;
};

/**
 * The invoice for a period's usage plus the carried remainder: rounded down to cents once, lines by largest
 * remainder. Below one cent (or below zero, after calls reversed once their period was invoiced) nothing
 * is invoiced and the whole amount carries on.
 */
export function planInvoice(item: PeriodItem, carryIn: Micros, termsDays: number): InvoicePlan {
  const usage = featureUsage(item);
  const total = add(micros(Number(item.cost ?? 0)), carryIn);
  const { cents, remainder } = splitCents(total);
  const lineCents = allocateCents(
    cents,
    usage.map((line) => line.cost),
  );
  return {
    usage: micros(Number(item.cost ?? 0)),
    carry_in: carryIn,
    carry_out: remainder,
    cents,
    terms_days: termsDays,
    lines: usage.map((line, i) => ({ ...line, cents: lineCents[i]! })),
  };
}

function isFinished(item: PeriodItem): boolean {
  return item.invoice_state === 'sent' || item.invoice_state === 'skipped';
}

/** Claims the period, recomputing while charges land or the carry moves under it. */
async function claim(read: PeriodItem, owner: string): Promise<PeriodItem | undefined> {
  let item: PeriodItem | undefined = read;
  for (let attempt = 0; attempt < 10 && item && !item.invoice_state; attempt++) {
    const account = await getAccountForInvoicing(item.account_id);
    if (!account) throw new Error(`period ${item.period} of a missing account ${item.account_id}`);
    const plan = planInvoice(
      item,
      micros(Number(account.invoice_carry ?? 0)),
      Number(account.payment_terms_days ?? DEFAULT_TERMS_DAYS),
    );
    const outcome = await claimPeriod(item, plan, owner, nowMs() + INVOICE_LEASE_MS, nowIso());
    if (outcome.kind === 'claimed') return outcome.item;
    if (outcome.kind === 'period_changed') item = await getPeriod(read.account_id, read.period);
  }
  return item;
}

/** Invoices one account's closed period; safe to run concurrently and repeatedly. */
export async function invoicePeriod(
  accountId: string,
  period: string,
  options: InvoiceOptions = {},
): Promise<InvoiceRunReport> {
  const report = (outcome: InvoiceOutcome, extra: Partial<InvoiceRunReport> = {}): InvoiceRunReport => ({
    account_id: accountId,
    period,
    outcome,
    ...extra,
  });
  if (!isClosed(period, nowMs())) return report('period_open');
  const owner = newUlid();
  let item = await getPeriod(accountId, period);
  if (!item?.invoice_state) {
    // Not claimed yet: only once every accrued entry is rolled up, and from a read made after that.
    const rollups = await (options.gate ?? rollupGate()).check(accountId);
    if (!rollups.caughtUp) {
      metrics.addMetric('InvoiceAwaitingRollups', MetricUnit.Count, 1);
      logger.warn('rollups lag the ledger: the period is left for the next run', {
        accountId,
        period,
        entriesBehind: rollups.behind,
      });
      return report('rollups_behind');
    }
    item = await getPeriod(accountId, period);
  }
  if (!item) return report('no_usage');
  const claimedNow = !item.invoice_state;
  if (claimedNow) item = await claim(item, owner);
  if (!item?.invoice_state) throw new Error(`could not claim ${accountId} ${period}`);
  if (isFinished(item)) {
    if (claimedNow && item.invoice_state === 'skipped') return report('below_one_cent', { amount_cents: 0 });
    if (item.GSI1PK) await leaveDueIndex(accountId, period);
    return report('already_invoiced', {
      ...(item.stripe_invoice_id ? { invoice_id: item.stripe_invoice_id } : {}),
    });
  }
  const resumed = item.lease_owner !== owner;
  if (resumed) {
    item = await takeLease(accountId, period, owner, nowMs(), nowMs() + INVOICE_LEASE_MS);
    if (!item) return report('busy');
  }
  try {
    const invoice = await completeInvoice(item, owner, resumed, options);
    return report('invoiced', {
      invoice_id: invoice.id,
      amount_cents: invoice.total,
      ...(resumed ? { resumed } : {}),
    });
  } catch (error) {
    if (error instanceof LeaseLostError) return report('busy');
    throw error;
  }
}

export class InvoiceMismatchError extends Error {
  override readonly name = 'InvoiceMismatchError';
}

/** The invoice this period's routine already created, found by its metadata (Stripe's list is consistent). */
async function findCreatedInvoice(
  client: Stripe,
  customer: string,
  item: PeriodItem,
): Promise<Stripe.Invoice | undefined> {
  const claimedAt = Date.parse(item.claimed_at ?? nowIso()) / 1000;
  for await (const invoice of client.invoices.list({ customer, limit: 100 })) {
    if (invoice.created < claimedAt - 3600) return undefined;
    if (invoice.metadata?.account_id === item.account_id && invoice.metadata?.period === item.period) {
      return invoice;
    }
  }
  return undefined;
}

function monthName(period: string): string {
  return new Date(periodStartMs(period)).toLocaleString('en-US', {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });
}

async function completeInvoice(
  item: PeriodItem,
  owner: string,
  resumed: boolean,
  options: InvoiceOptions,
): Promise<Stripe.Invoice> {
  const { account_id: accountId, period } = item;
  const plan = item.invoice;
  if (!plan) throw new Error(`claimed period ${accountId} ${period} has no invoice plan`);
  const after = async (step: InvoiceStep) => options.afterStripeCall?.(step);
  const client = await stripe();
  const customer = await ensureCustomer(accountId);
  const keyBase = `postpaid-${accountId}-${period}`;
  const metadata = { account_id: accountId, period };

  let invoice: Stripe.Invoice | undefined;
  if (item.stripe_invoice_id) {
    invoice = await client.invoices.retrieve(item.stripe_invoice_id);
  } else {
    // A resumed claim may have created its invoice and crashed before storing the id: the idempotency key
    // finds it within Stripe's 24 hours, the metadata after that.
    if (resumed) invoice = await findCreatedInvoice(client, customer, item);
    invoice ??= await client.invoices.create(
      {
        customer,
        collection_method: 'send_invoice',
        days_until_due: plan.terms_days,
        pending_invoice_items_behavior: 'exclude',
        auto_advance: false,
        description: `API usage, ${monthName(period)}`,
        metadata,
      },
      { idempotencyKey: `${keyBase}-invoice` },
    );
    await after('created');
    await recordInvoiceId(accountId, period, owner, invoice.id);
  }

  if (invoice.status === 'draft') {
    const present = new Map<string, number>();
    if (resumed || item.stripe_invoice_id) {
      for await (const line of client.invoices.listLineItems(invoice.id, { limit: 100 })) {
        const feature = line.metadata?.feature;
        if (feature) present.set(feature, line.amount);
      }
    }
    const start = Math.floor(periodStartMs(period) / 1000);
    const end = Math.floor(periodEndMs(period) / 1000);
    for (const line of plan.lines) {
      if (present.has(line.feature)) continue;
      const created = await client.invoiceItems.create(
        {
          customer,
          invoice: invoice.id,
          amount: line.cents,
          currency: 'usd',
          description: `${line.feature}: ${line.quantity} units, ${line.requests} requests (${monthName(period)})`,
          period: { start, end },
          metadata: { ...metadata, feature: line.feature, quantity: String(line.quantity) },
        },
        { idempotencyKey: `${keyBase}-item-${line.feature}` },
      );
      present.set(line.feature, created.amount);
      await after(`item:${line.feature}`);
    }
    const total = [...present.values()].reduce((sum, amount) => sum + amount, 0);
    if (total !== plan.cents || present.size !== plan.lines.length) {
      throw new InvoiceMismatchError(
        `draft ${invoice.id} holds ${total} cents in ${present.size} lines; ${accountId} ${period} owes ${plan.cents} in ${plan.lines.length}`,
      );
    }
    invoice = await client.invoices.finalizeInvoice(
      invoice.id,
      { auto_advance: false },
      { idempotencyKey: `${keyBase}-finalize` },
    );
    await after('finalized');
  }
  await recordInvoiceStatus(invoice);
  if (item.invoice_state !== 'finalized') await advanceState(accountId, period, owner, 'finalized');

  if (invoice.status === 'open') {
    await client.invoices.sendInvoice(invoice.id, {}, { idempotencyKey: `${keyBase}-send` });
    await after('sent');
  }
  await finishPeriod(accountId, period, owner);
  return invoice;
}
