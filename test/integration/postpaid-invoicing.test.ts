// Monthly postpaid invoicing through the real `stripe` SDK and the emulator: one invoice per account and
// closed period, whatever repeats, overlaps or crashes; exact per-feature lines; the sub-cent carry over a
// year; the fan-out across shards, batches and workers (its 1,000-account run is `npm run bench:invoicing`).
// Periods here are in 2035–2037 (the clock is moved), so other test files' periods never fall in this file's
// job runs.
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { advanceClock, resetClock, setClock } from '#shared/clock.ts';
import { INVOICE_DUE_SHARDS, shardOfAccount } from '#shared/dynamo/keys.ts';
import { dispatchDueInvoices } from '#shared/postpaid/dispatch.ts';
import { INVOICE_LEASE_MS, type InvoiceStep, invoicePeriod } from '#shared/postpaid/invoicing.ts';
import { SQS_BATCH } from '#shared/postpaid/queue.ts';
import { getPeriod } from '#shared/postpaid/store.ts';
import { type Payments, startPayments } from '../support/payments.ts';
import { accrue, installInvoiceQueue, postpaidAccount } from '../support/postpaid.ts';

let payments: Payments;
let queue: ReturnType<typeof installInvoiceQueue>;
/** Batches the queue hands to workers at once (the SQS event source's concurrency). */
const QUEUE_CONCURRENCY = 5;
/** Batches the dispatcher keeps in flight (`PARALLEL_BATCHES` in shared/postpaid/dispatch.ts, not exported). */
const DISPATCH_IN_FLIGHT = 8;

beforeAll(async () => {
  payments = await startPayments();
  queue = installInvoiceQueue(QUEUE_CONCURRENCY);
});

afterEach(() => {
  resetClock();
});

afterAll(async () => {
  queue?.uninstall();
  await payments?.stop();
});

async function invoicesOf(accountId: string): Promise<Stripe.Invoice[]> {
  const customer = (await getAccount(accountId))?.stripe_customer_id;
  if (!customer) return [];
  return payments.stripe.invoices.list({ customer, limit: 100 }).autoPagingToArray({ limit: 1000 });
}

async function itemsOf(accountId: string): Promise<Stripe.InvoiceItem[]> {
  const customer = (await getAccount(accountId))?.stripe_customer_id;
  if (!customer) return [];
  return payments.stripe.invoiceItems.list({ customer, limit: 100 }).autoPagingToArray({ limit: 1000 });
}

/** An account with November 2035 usage of two features: 0.002 × 7 echo calls and 123 words at 0.0001. */
async function novemberAccount() {
  const account = await postpaidAccount();
  for (let i = 0; i < 7; i++) await accrue(account.accountId, '2035-11', 'echo', 2_000);
  await accrue(account.accountId, '2035-11', 'words', 12_300, 123);
  return account;
}
/** 14,000 + 12,300 micros = 2.63 cents: invoiced 2 cents, 6,300 micros carried. */
const NOVEMBER_CENTS = 2;

describe('monthly invoicing: exactly once', () => {
  it('invoices a closed period once with one line per feature, sent with 30-day terms; a second run does nothing', async () => {
    const { accountId } = await novemberAccount();
    setClock(new Date('2035-12-01T00:15:00Z'));

    const first = await dispatchDueInvoices();
    const second = await dispatchDueInvoices();

    expect(first.periods.at(-1)).toBe('2035-11');
    expect(first.outcomes?.invoiced).toBeGreaterThanOrEqual(1);
    expect(second.outcomes?.invoiced ?? 0).toBe(0);
    const invoices = await invoicesOf(accountId);
    expect(invoices).toHaveLength(1);
    const [invoice] = invoices;
    expect(invoice).toMatchObject({
      status: 'open',
      collection_method: 'send_invoice',
      total: NOVEMBER_CENTS,
      metadata: { account_id: accountId, period: '2035-11' },
    });
    expect(invoice!.due_date! - invoice!.created).toBe(30 * 86_400);
    const lines = invoice!.lines.data.map((line) => [line.metadata.feature, line.amount]);
    // 1.4 cents and 1.23 cents: one cent each, the spare cent to the larger remainder (echo's 0.4).
    expect(lines.sort()).toEqual([
      ['echo', 1],
      ['words', 1],
    ]);
    expect(
      payments.emulator.control.events('invoice.sent').filter((e) => objectIdOf(e) === invoice!.id),
    ).toHaveLength(1);
    const period = await getPeriod(accountId, '2035-11');
    expect(period).toMatchObject({
      invoice_state: 'sent',
      stripe_invoice_id: invoice!.id,
      invoice_status: 'open',
    });
    expect(period?.GSI1PK).toBeUndefined();
    expect((await getAccount(accountId)) as unknown).toMatchObject({ invoice_carry: 6_300 });
  });

  it('makes one invoice when job runs overlap', async () => {
    const accounts = await Promise.all([novemberAccount(), novemberAccount(), novemberAccount()]);
    setClock(new Date('2035-12-01T00:20:00Z'));

    const runs = await Promise.all([dispatchDueInvoices(), dispatchDueInvoices(), dispatchDueInvoices()]);

    expect(runs.every((run) => !run.failed)).toBe(true);
    for (const { accountId } of accounts) {
      const invoices = await invoicesOf(accountId);
      expect(invoices).toHaveLength(1);
      expect(invoices[0]!.total).toBe(NOVEMBER_CENTS);
      expect(await itemsOf(accountId)).toHaveLength(2);
    }
  });

  it('does nothing for a period that has not closed yet (inside the safety margin)', async () => {
    const { accountId } = await novemberAccount();
    setClock(new Date('2035-12-01T00:05:00Z'));

    expect(await invoicePeriod(accountId, '2035-11')).toMatchObject({ outcome: 'period_open' });
    expect((await dispatchDueInvoices()).periods).not.toContain('2035-11');
    expect(await invoicesOf(accountId)).toHaveLength(0);
  });

  const steps: InvoiceStep[] = ['created', 'item:echo', 'item:words', 'finalized', 'sent'];
  it.each(steps)('a crash right after the Stripe call "%s" is resumed into the one invoice', async (step) => {
    const { accountId } = await novemberAccount();
    setClock(new Date('2035-12-01T00:30:00Z'));
    const crash = async (at: InvoiceStep) => {
      if (at === step) throw new Error(`crash after ${at}`);
    };

    await expect(invoicePeriod(accountId, '2035-11', { afterStripeCall: crash })).rejects.toThrow('crash');
    // The crashed run's lease still holds: a run now stays away from the claim.
    expect(await invoicePeriod(accountId, '2035-11')).toMatchObject({ outcome: 'busy' });
    advanceClock(INVOICE_LEASE_MS + 1);
    const resumed = await dispatchDueInvoices();
    const again = await dispatchDueInvoices();

    expect(resumed.outcomes?.invoiced).toBeGreaterThanOrEqual(1);
    expect(again.outcomes?.invoiced ?? 0).toBe(0);
    const invoices = await invoicesOf(accountId);
    expect(invoices).toHaveLength(1);
    expect(invoices[0]).toMatchObject({ status: 'open', total: NOVEMBER_CENTS });
    expect(await itemsOf(accountId)).toHaveLength(2);
    expect(await getPeriod(accountId, '2035-11')).toMatchObject({
      invoice_state: 'sent',
      stripe_invoice_id: invoices[0]!.id,
    });
    expect((await getAccount(accountId)) as unknown).toMatchObject({ invoice_carry: 6_300 });
  });

  it('finds the invoice by its metadata when the crash outlived Stripe’s 24-hour idempotency', async () => {
    const { accountId } = await novemberAccount();
    setClock(new Date('2035-12-01T00:30:00Z'));
    const crash = async (at: InvoiceStep) => {
      if (at === 'created') throw new Error('crash after create');
    };
    await expect(invoicePeriod(accountId, '2035-11', { afterStripeCall: crash })).rejects.toThrow('crash');

    advanceClock(25 * 3600_000);
    const resumed = await invoicePeriod(accountId, '2035-11');

    expect(resumed).toMatchObject({ outcome: 'invoiced', resumed: true });
    expect(await invoicesOf(accountId)).toHaveLength(1);
  });

  it('closes the period to late charges once claimed', async () => {
    const { accountId } = await novemberAccount();
    setClock(new Date('2035-12-01T00:30:00Z'));
    await invoicePeriod(accountId, '2035-11');

    await expect(accrue(accountId, '2035-11', 'echo', 2_000)).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
    });
  });
});

describe('rounding carry', () => {
  it('over 12 months: the invoices’ cents × 10⁴ plus the final carry equal the exact usage', async () => {
    const { accountId } = await postpaidAccount();
    // Irregular sub-cent amounts, one month under a cent (no invoice: it all carries).
    const monthly = [
      123_456_789, 1_999, 50_505, 7_777_777, 3_000, 999_999, 10_001, 4_444_444, 12_345, 9_999, 1, 333_333_333,
    ];
    let exact = 0;
    let invoicedCents = 0;
    let invoiceCount = 0;
    for (let month = 1; month <= 12; month++) {
      const period = `2036-${String(month).padStart(2, '0')}`;
      setClock(new Date(`${period}-15T12:00:00Z`));
      const cost = monthly[month - 1]!;
      await accrue(accountId, period, 'words', cost - Math.floor(cost / 3), 7);
      await accrue(accountId, period, 'echo', Math.floor(cost / 3));
      exact += cost;
      const carryBefore = Number(
        ((await getAccount(accountId)) as { invoice_carry?: number }).invoice_carry ?? 0,
      );
      setClock(
        new Date(`${month === 12 ? '2037-01' : `2036-${String(month + 1).padStart(2, '0')}`}-01T00:15:00Z`),
      );

      await dispatchDueInvoices();

      const expectedCents = Math.floor((cost + carryBefore) / 10_000);
      const invoice = (await invoicesOf(accountId)).find((i) => i.metadata?.period === period);
      if (expectedCents === 0) expect(invoice).toBeUndefined();
      else {
        expect(invoice?.total).toBe(expectedCents);
        invoiceCount++;
      }
      invoicedCents += invoice?.total ?? 0;
    }
    const carry = Number(((await getAccount(accountId)) as { invoice_carry?: number }).invoice_carry);
    expect(carry).toBeGreaterThanOrEqual(0);
    expect(carry).toBeLessThan(10_000);
    expect(invoicedCents * 10_000 + carry).toBe(exact);
    expect(await invoicesOf(accountId)).toHaveLength(invoiceCount);
    expect(invoiceCount).toBeLessThan(12);
  });
});

describe('the fan-out', () => {
  /**
   * Postpaid accounts with March 2037 usage, added ten at a time until the run must cross every boundary of
   * the fan-out that 1,000 accounts cross (that run is `npm run bench:invoicing`): a due shard holding more
   * than one batch (a full batch of ten, then the rest), more batches than the dispatcher keeps in flight
   * (so it waits for one to finish) and than the queue runs at once (so batches wait for a worker).
   */
  async function accountsAcrossTheFanOut(): Promise<{ accounts: string[]; batches: number }> {
    const accounts: string[] = [];
    const perShard = new Array<number>(INVOICE_DUE_SHARDS).fill(0);
    const batches = () => perShard.reduce((sum, count) => sum + Math.ceil(count / SQS_BATCH), 0);
    while (
      accounts.length < 60 ||
      Math.max(...perShard) <= SQS_BATCH ||
      batches() <= Math.max(DISPATCH_IN_FLIGHT, QUEUE_CONCURRENCY)
    ) {
      const created = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const { accountId } = await postpaidAccount();
          await accrue(accountId, '2037-03', 'echo', 2_000 * 13);
          return accountId;
        }),
      );
      for (const accountId of created) perShard[shardOfAccount(accountId, INVOICE_DUE_SHARDS)]! += 1;
      accounts.push(...created);
    }
    return { accounts, batches: batches() };
  }

  it('invoices every due account once through the fan-out (batches of 10 to concurrent workers)', async () => {
    setClock(new Date('2037-03-10T00:00:00Z'));
    const { accounts, batches } = await accountsAcrossTheFanOut();
    setClock(new Date('2037-04-01T00:15:00Z'));
    const before = { ...queue.stats };

    const report = await dispatchDueInvoices();

    expect(report.due).toBe(accounts.length);
    expect(report.outcomes).toEqual({ invoiced: accounts.length });
    // One worker invocation per batch: each shard's full batches of ten, then its rest.
    expect(queue.stats.invocations - before.invocations).toBe(batches);
    expect(queue.stats.messages - before.messages).toBe(accounts.length);
    expect(queue.stats.maxConcurrent).toBeGreaterThan(1);
    // Pages of 25, so the listing itself pages as it did over 1,000 invoices.
    const invoices = await payments.stripe.invoices.list({ limit: 25 }).autoPagingToArray({ limit: 10_000 });
    const march = invoices.filter((invoice) => invoice.metadata?.period === '2037-03');
    expect(march).toHaveLength(accounts.length);
    expect(new Set(march.map((invoice) => invoice.metadata?.account_id))).toEqual(new Set(accounts));
    expect(march.every((invoice) => invoice.total === 2 && invoice.status === 'open')).toBe(true);
    expect((await dispatchDueInvoices()).due).toBe(0);
  }, 300_000);
});

function objectIdOf(event: Stripe.Event): string {
  return (event.data.object as { id: string }).id;
}
