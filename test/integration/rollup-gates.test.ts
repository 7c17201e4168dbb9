// Issue 14, items 2 and 3 (jobs never read an incomplete rollup): the invoicing job claims an account's
// period, and the metering job a buyer's hour, only once the rollup consumer has applied every accrued ledger
// entry of the account; until then the period or hour is left for the job's next run (reported, never an
// error). Once the rollups caught up, invoices and reported units are exact, and what is billed in all equals
// what the ledger accrued, late entries and credits (calls reversed after their period or hour was billed)
// included. Periods here are in 2036 (the clock is moved), hours on days of their own.
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { functions } from '#infra/definitions/functions.ts';
import { streamConsumers } from '#infra/definitions/streams.ts';
import { getAccount } from '#shared/accounts/repository.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { freezeClock, nowIso, resetClock, setClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import type { UsageCharge } from '#shared/ledger/ledger.ts';
import { reverseCharge } from '#shared/ledger/reversal.ts';
import { getCarry, getHour, hourRollupUpdate } from '#shared/marketplace/hour-store.ts';
import { runMetering } from '#shared/marketplace/metering.ts';
import { dispatchDueInvoices } from '#shared/postpaid/dispatch.ts';
import { invoicePeriod } from '#shared/postpaid/invoicing.ts';
import { getPeriod, periodRollupUpdate } from '#shared/postpaid/store.ts';
import { rollupGate } from '#shared/usage/watermark.ts';
import type { MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { startStreamPoller } from '../../local/stream-poller.ts';
import { ledgerEntries, tableItem } from '../support/accounts.ts';
import { chargeAccrued } from '../support/accrued.ts';
import {
  billed,
  billedUnits,
  registeredBuyer,
  startTestEmulator,
  stopTestEmulator,
} from '../support/marketplace.ts';
import { type Payments, startPayments } from '../support/payments.ts';
import { postpaidAccount } from '../support/postpaid.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

let payments: Payments;
let emulator: MarketplaceEmulator;
const fast = { backoffMs: 5 };
/** A gate that does not wait: the test's stream delivers only when the test drains it. */
const noWait = () => rollupGate(0);

beforeAll(async () => {
  payments = await startPayments();
  emulator = await startTestEmulator();
});

afterEach(() => {
  resetClock();
  clearViews();
});

afterAll(async () => {
  await stopTestEmulator(emulator);
  await payments?.stop();
});

async function invoicesOf(accountId: string): Promise<Stripe.Invoice[]> {
  const customer = (await getAccount(accountId))?.stripe_customer_id;
  if (!customer) return [];
  return payments.stripe.invoices.list({ customer, limit: 100 }).autoPagingToArray({ limit: 1000 });
}

async function accruedOf(accountId: string): Promise<number> {
  return (await ledgerEntries(accountId)).reduce((sum, entry) => sum + (entry.accrued ?? 0), 0);
}

/** Everything invoiced to the account, in micro-USD, plus what it carries: equals what it accrued. */
async function expectInvoicesToAddUp(accountId: string) {
  const invoiced = (await invoicesOf(accountId)).reduce((sum, invoice) => sum + invoice.total, 0);
  const carry = Number((await tableItem(keys.account(accountId)))?.invoice_carry ?? 0);
  expect(invoiced * 10_000 + carry).toBe(await accruedOf(accountId));
}

/**
 * A postpaid account with `count` calls of `cost` at the end of `month`, rolled up and invoiced by the job
 * at 00:15 on the 1st: its invoice is the calls' cents; the rest is carried.
 */
async function invoicedMonth(month: string, count: number, cost: number) {
  const [year, number] = month.split('-').map(Number) as [number, number];
  setClock(new Date(Date.UTC(year, number, 1) - 2 * 3_600_000));
  const { accountId } = await postpaidAccount();
  const charges: UsageCharge[] = [];
  for (let i = 0; i < count; i++) charges.push(await chargeAccrued(accountId, 'postpaid', { cost }));
  await rollUpRecordedUsage();
  setClock(new Date(Date.UTC(year, number, 1, 0, 15)));
  expect(await invoicePeriod(accountId, month, { gate: noWait() })).toMatchObject({
    outcome: 'invoiced',
    amount_cents: Math.floor((count * cost) / 10_000),
  });
  return { accountId, charges };
}

describe('postpaid invoicing waits for the rollups', () => {
  it('leaves a period while an entry is not rolled up, for the next run; then invoices it exactly', async () => {
    setClock(new Date('2036-03-10T09:00:00Z'));
    const { accountId } = await postpaidAccount();
    for (let i = 0; i < 7; i++) await chargeAccrued(accountId, 'postpaid', { cost: 2_000 });
    await rollUpRecordedUsage();
    await chargeAccrued(accountId, 'postpaid', { cost: 12_300, feature: 'words', quantity: 123 });
    setClock(new Date('2036-04-01T00:15:00Z'));

    const direct = await invoicePeriod(accountId, '2036-03', { gate: noWait() });
    const job = await dispatchDueInvoices();

    expect(direct.outcome).toBe('rollups_behind');
    expect(job.outcomes).toEqual({ rollups_behind: 1 });
    expect(job.failed).toBeUndefined();
    const waiting = await getPeriod(accountId, '2036-03');
    expect(waiting).toMatchObject({ cost: 14_000, requests: 7 });
    expect(waiting?.invoice_state).toBeUndefined();
    expect(await invoicesOf(accountId)).toEqual([]);

    await rollUpRecordedUsage();
    const next = await dispatchDueInvoices();

    expect(next.outcomes).toEqual({ invoiced: 1 });
    const [invoice, ...others] = await invoicesOf(accountId);
    expect(others).toEqual([]);
    // 14,000 + 12,300 micros: 2 cents invoiced, 6,300 carried; one line per feature.
    expect(invoice?.total).toBe(2);
    expect(invoice?.lines.data.map((line) => [line.metadata.feature, line.amount]).sort()).toEqual([
      ['echo', 1],
      ['words', 1],
    ]);
    expect(await getPeriod(accountId, '2036-03')).toMatchObject({ cost: 26_300, invoice_state: 'sent' });
    await expectInvoicesToAddUp(accountId);
  });

  it('a busy account: the gate waits the moment the consumer needs, while the next month’s calls go on', async () => {
    const { handler } = (await import(
      new URL(`../../${functions.usageRollups.entry}`, import.meta.url).href
    )) as {
      handler: (event: unknown) => Promise<unknown>;
    };
    // The consumer as Lambda runs it: polling the stream all the time.
    const live = await startStreamPoller({
      endpoint: process.env.DYNAMODB_ENDPOINT!,
      tableName: process.env.TABLE_NAME!,
      consumers: streamConsumers.filter((consumer) => consumer.function === 'usageRollups'),
      invoke: (_name, event) => handler(event),
      intervalMs: 50,
    });
    try {
      freezeClock(new Date('2036-04-30T23:59:00Z'));
      const { accountId } = await postpaidAccount();
      for (let i = 0; i < 5; i++) await chargeAccrued(accountId, 'postpaid', { cost: 3_000 });
      freezeClock(new Date('2036-05-01T00:20:00Z'));
      let calling = true;
      const calls = (async () => {
        while (calling) await chargeAccrued(accountId, 'postpaid', { cost: 1_000 });
      })();

      const report = await invoicePeriod(accountId, '2036-04');
      calling = false;
      await calls;

      expect(report).toMatchObject({ outcome: 'invoiced', amount_cents: 1 });
      expect(await getPeriod(accountId, '2036-04')).toMatchObject({ cost: 15_000, requests: 5 });
    } finally {
      await live.stop();
    }
  });

  it('a late call into an invoiced period and a call reversed after it: both billed in the next period', async () => {
    const { accountId, charges: june } = await invoicedMonth('2036-06', 5, 2_345);

    // An instance whose clock lags charges in June; a retry reverses an invoiced June call.
    freezeClock(new Date('2036-06-30T23:59:59.900Z'));
    await chargeAccrued(accountId, 'postpaid', { cost: 3_000, feature: 'words', quantity: 30 });
    setClock(new Date('2036-07-01T00:30:00Z'));
    expect(await reverseCharge(june[0]!, nowIso())).toBe('reversed');
    for (let i = 0; i < 4; i++) await chargeAccrued(accountId, 'postpaid', { cost: 20_000 });
    await rollUpRecordedUsage();
    setClock(new Date('2036-08-01T00:15:00Z'));
    const july = await invoicePeriod(accountId, '2036-07', { gate: noWait() });

    expect(await getPeriod(accountId, '2036-06')).toMatchObject({ cost: 11_725, requests: 5 });
    expect(await getPeriod(accountId, '2036-07')).toMatchObject({
      cost: 80_000 + 3_000 - 2_345,
      'f:echo:cost': 77_655,
      'f:echo:requests': 3,
      'f:words:cost': 3_000,
    });
    // 80,655 + the 1,725 June carried: 8 cents, 2,380 carried on.
    expect(july).toMatchObject({ outcome: 'invoiced', amount_cents: 8 });
    await expectInvoicesToAddUp(accountId);
  });

  it('a credit larger than the next period’s usage invoices nothing and lowers the invoice after', async () => {
    const { accountId, charges: august } = await invoicedMonth('2036-08', 3, 12_000);
    setClock(new Date('2036-09-02T10:00:00Z'));
    for (const charge of august.slice(0, 2)) expect(await reverseCharge(charge, nowIso())).toBe('reversed');
    await rollUpRecordedUsage();

    setClock(new Date('2036-10-01T00:15:00Z'));
    const september = await invoicePeriod(accountId, '2036-09', { gate: noWait() });
    setClock(new Date('2036-10-05T10:00:00Z'));
    await chargeAccrued(accountId, 'postpaid', { cost: 50_000 });
    await rollUpRecordedUsage();
    setClock(new Date('2036-11-01T00:15:00Z'));
    const october = await invoicePeriod(accountId, '2036-10', { gate: noWait() });

    // September holds only the credit: -24,000 + the 6,000 August carried.
    expect(await getPeriod(accountId, '2036-09')).toMatchObject({ cost: -24_000, invoice_state: 'skipped' });
    expect(september.outcome).toBe('below_one_cent');
    // October: 50,000 - 18,000 carried = 3 cents, 2,000 carried on.
    expect(october).toMatchObject({ outcome: 'invoiced', amount_cents: 3 });
    expect((await tableItem(keys.account(accountId)))?.invoice_carry).toBe(2_000);
    await expectInvoicesToAddUp(accountId);
  });

  it('upgrading: a period item its charges wrote before the rollups is invoiced with what came after', async () => {
    setClock(new Date('2036-11-10T09:00:00Z'));
    const { accountId } = await postpaidAccount();
    // The previous version's charges wrote the period item themselves (no `entries` count).
    const { Update } = periodRollupUpdate(accountId, '2036-11', {
      cost: 40_000,
      requests: 2,
      entries: 0,
      features: new Map([['echo', { cost: 40_000, quantity: 2, requests: 2 }]]),
    });
    await ddb().send(
      new UpdateCommand({
        ...Update!,
        UpdateExpression: Update!.UpdateExpression!.replace(', #entries :entries', ''),
        ExpressionAttributeNames: Object.fromEntries(
          Object.entries(Update!.ExpressionAttributeNames!).filter(([name]) => name !== '#entries'),
        ),
        ExpressionAttributeValues: Object.fromEntries(
          Object.entries(Update!.ExpressionAttributeValues!).filter(([name]) => name !== ':entries'),
        ),
      }),
    );
    await chargeAccrued(accountId, 'postpaid', { cost: 15_000 });
    await rollUpRecordedUsage();
    setClock(new Date('2036-12-01T00:15:00Z'));

    const report = await invoicePeriod(accountId, '2036-11', { gate: noWait() });

    expect(report).toMatchObject({ outcome: 'invoiced', amount_cents: 5 });
    expect(await getPeriod(accountId, '2036-11')).toMatchObject({ cost: 55_000, requests: 3, entries: 1 });
  });
});

describe('Marketplace metering waits for the rollups', () => {
  const buyer = () => registeredBuyer(emulator);

  it('leaves a buyer’s hours while an entry is not rolled up, for the next run; then reports them exactly', async () => {
    setClock(new Date('2036-05-10T13:20:00Z'));
    const { accountId, customer } = await buyer();
    for (let i = 0; i < 3; i++) await chargeAccrued(accountId, 'marketplace', { cost: 2_500 });
    await rollUpRecordedUsage();
    await chargeAccrued(accountId, 'marketplace', { cost: 1_700 });
    setClock(new Date('2036-05-10T14:05:00Z'));

    const waiting = await runMetering({ ...fast, gate: noWait() });

    expect(waiting.awaiting_rollups).toBe(1);
    expect(billed(emulator, customer.customer_aws_account_id)).toEqual([]);
    expect(await getHour(accountId, '2036-05-10T13:00:00Z', 'usage')).toMatchObject({
      state: 'pending',
      cost: 7_500,
    });
    expect(waiting.oldest_unreported_hour).toBe('2036-05-10T13:00:00Z');

    await rollUpRecordedUsage();
    const next = await runMetering({ ...fast, gate: noWait() });

    expect(next.awaiting_rollups).toBe(0);
    expect(billedUnits(emulator, customer.customer_aws_account_id)).toBe(9);
    expect(await getCarry(accountId, 'usage')).toMatchObject({ carry: 200 });
  });

  it('a late call into a reported hour and a call reversed after it: billed in the next hours, exact in all', async () => {
    setClock(new Date('2036-06-10T13:20:00Z'));
    const { accountId, customer } = await buyer();
    const early: UsageCharge[] = [];
    for (let i = 0; i < 3; i++) early.push(await chargeAccrued(accountId, 'marketplace', { cost: 2_500 }));
    await rollUpRecordedUsage();
    setClock(new Date('2036-06-10T14:05:00Z'));
    await runMetering({ ...fast, gate: noWait() });

    freezeClock(new Date('2036-06-10T13:59:59.900Z'));
    await chargeAccrued(accountId, 'marketplace', { cost: 1_200 });
    setClock(new Date('2036-06-10T14:30:00Z'));
    expect(await reverseCharge(early[0]!, nowIso())).toBe('reversed');
    await rollUpRecordedUsage();
    setClock(new Date('2036-06-10T15:05:00Z'));
    await runMetering({ ...fast, gate: noWait() });
    setClock(new Date('2036-06-10T15:10:00Z'));
    await chargeAccrued(accountId, 'marketplace', { cost: 3_000 });
    await rollUpRecordedUsage();
    setClock(new Date('2036-06-10T16:05:00Z'));
    await runMetering({ ...fast, gate: noWait() });

    // 13:00 reported 7 units (500 carried); 14:00 holds 1,200 - 2,500: 0 units, -800 carried; 15:00 3,000: 2.
    expect(await getHour(accountId, '2036-06-10T14:00:00Z', 'usage')).toMatchObject({
      state: 'reported',
      cost: -1_300,
      units: 0,
      carry_out: -800,
    });
    const units = billedUnits(emulator, customer.customer_aws_account_id);
    expect(units).toBe(9);
    const { carry } = await getCarry(accountId, 'usage');
    expect(units * 1_000 + carry).toBe(await accruedOf(accountId));
  });

  it('upgrading: an hour record its charges wrote before the rollups is claimed and reported', async () => {
    setClock(new Date('2036-07-10T13:20:00Z'));
    const { accountId, customer } = await buyer();
    // The previous version's charge wrote the hour record itself (no `entries` count).
    const { Update } = hourRollupUpdate(accountId, '2036-07-10T13:00:00Z', 'usage', {
      cost: 4_000,
      requests: 1,
      entries: 0,
    });
    await ddb().send(
      new PutCommand({
        TableName: process.env.TABLE_NAME,
        Item: {
          ...Update!.Key,
          kind: 'marketplace_hour',
          account_id: accountId,
          hour: '2036-07-10T13:00:00Z',
          dimension: 'usage',
          state: 'pending',
          cost: 4_000,
          requests: 1,
          GSI1PK: Update!.ExpressionAttributeValues![':gpk'],
          GSI1SK: Update!.ExpressionAttributeValues![':gsk'],
        },
      }),
    );
    await chargeAccrued(accountId, 'marketplace', { cost: 1_500 });
    await rollUpRecordedUsage();
    setClock(new Date('2036-07-10T14:05:00Z'));

    await runMetering({ ...fast, gate: noWait() });

    expect(await getHour(accountId, '2036-07-10T13:00:00Z', 'usage')).toMatchObject({
      state: 'reported',
      cost: 5_500,
      requests: 2,
      entries: 1,
      units: 5,
    });
    expect(billedUnits(emulator, customer.customer_aws_account_id)).toBe(5);
  });
});
