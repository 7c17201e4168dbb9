// The hourly metering job against DynamoDB Local and the Marketplace emulator (through the real SDK): every
// buyer-hour billed exactly once, whatever crashes, overlaps, throttles or leaves records unprocessed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advanceClock, resetClock, setClock } from '#shared/clock.ts';
import { getCarry, getHour } from '#shared/marketplace/hour-store.ts';
import { runMetering } from '#shared/marketplace/metering.ts';
import type { MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { DEFAULT_PRODUCT_CODE } from '../../local/marketplace/ids.ts';
import {
  accrue,
  billed,
  billedUnits,
  registeredBuyer,
  startTestEmulator,
  stopTestEmulator,
  useFreshTable,
} from '../support/marketplace.ts';

let emulator: MarketplaceEmulator;
const fast = { backoffMs: 5 };

beforeEach(async () => {
  await useFreshTable();
  emulator = await startTestEmulator();
});

afterEach(async () => {
  await stopTestEmulator(emulator);
  resetClock();
  delete process.env.MARKETPLACE_PRODUCT_CODE;
  delete process.env.MARKETPLACE_IDENTITY;
  delete process.env.MARKETPLACE_WINDOW_HOURS;
});

describe('marketplace metering', () => {
  it('reports an hour once, at its fixed timestamp, however often the job runs', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    for (let i = 0; i < 10; i++) await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 2000);

    setClock(new Date('2026-12-10T14:05:00Z'));
    const first = await runMetering(fast);
    const second = await runMetering(fast);

    expect(first.reported).toEqual({ records: 1, units: 20 });
    expect(second.reported).toEqual({ records: 0, units: 0 });
    const records = billed(emulator, buyer.customer.customer_aws_account_id);
    expect(records).toHaveLength(1);
    expect(records[0]?.usage_record).toMatchObject({
      Timestamp: '2026-12-10T13:00:00.000Z',
      Dimension: 'usage',
      Quantity: 20,
      CustomerAWSAccountId: buyer.customer.customer_aws_account_id,
      LicenseArn: buyer.customer.license_arn,
    });
    expect(records[0]?.usage_record.CustomerIdentifier).toBeUndefined();
    expect(records[0]?.product_code).toBeUndefined();
    const hour = await getHour(buyer.accountId, '2026-12-10T13:00:00Z', 'usage');
    expect(hour).toMatchObject({
      state: 'reported',
      units: 20,
      metering_record_id: records[0]?.metering_record_id,
    });
    expect(hour?.GSI1PK).toBeUndefined();
  });

  it('bills nothing twice when the run crashes after BatchMeterUsage succeeded and before marking', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 7_500);
    setClock(new Date('2026-12-10T14:05:00Z'));

    await expect(
      runMetering({
        ...fast,
        afterSend: () => {
          throw new Error('crash between the send and the mark');
        },
      }),
    ).rejects.toThrow(/crash/);
    expect(billedUnits(emulator)).toBe(7);
    expect((await getHour(buyer.accountId, '2026-12-10T13:00:00Z', 'usage'))?.state).toBe('claimed');

    // While the crashed run's lease lasts, nobody else sends the hour.
    expect((await runMetering(fast)).skipped_claimed).toBe(1);
    advanceClock(16 * 60_000);
    const resumed = await runMetering(fast);

    expect(resumed.reported).toEqual({ records: 1, units: 7 });
    const sent = emulator.control
      .records()
      .filter((r) => r.customer_aws_account_id === buyer.customer.customer_aws_account_id);
    expect(sent.map((r) => [r.usage_record.Quantity, r.status, r.replayed ?? false])).toEqual([
      [7, 'Success', false],
      [7, 'Success', true],
    ]);
    expect(sent[1]?.metering_record_id).toBe(sent[0]?.metering_record_id);
    expect(billedUnits(emulator)).toBe(7);
    expect(await getCarry(buyer.accountId, 'usage')).toMatchObject({ carry: 500, seq: 1 });
  });

  it('bills each hour once when two runs overlap', async () => {
    setClock(new Date('2026-12-10T10:20:00Z'));
    const buyers = await Promise.all(Array.from({ length: 6 }, () => registeredBuyer(emulator)));
    for (const [i, buyer] of buyers.entries()) {
      for (const hour of ['10', '11', '12'])
        await accrue(buyer.accountId, `2026-12-10T${hour}:00:00Z`, 1000 * (i + 1));
    }
    setClock(new Date('2026-12-10T13:05:00Z'));

    const runs = await Promise.all([runMetering(fast), runMetering(fast), runMetering(fast)]);

    const expected = buyers.reduce((sum, _, i) => sum + 3 * (i + 1), 0);
    expect(runs.reduce((sum, run) => sum + run.reported.units, 0)).toBe(expected);
    expect(billedUnits(emulator)).toBe(expected);
    expect(billed(emulator)).toHaveLength(18);
    expect(runs.reduce((sum, run) => sum + run.rejected.records, 0)).toBe(0);
  });

  it('retries throttled calls and unprocessed records until every record is accepted', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyers = await Promise.all(Array.from({ length: 5 }, () => registeredBuyer(emulator)));
    for (const buyer of buyers) await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 3000);
    setClock(new Date('2026-12-10T14:05:00Z'));
    emulator.control.throttle(2);
    emulator.control.leaveUnprocessed(3);

    const summary = await runMetering(fast);

    expect(summary.reported).toEqual({ records: 5, units: 15 });
    expect(summary.unsent).toBe(0);
    expect(emulator.control.records().filter((r) => r.status === 'Unprocessed')).toHaveLength(3);
    expect(billedUnits(emulator)).toBe(15);
    for (const buyer of buyers) expect(billedUnits(emulator, buyer.customer.customer_aws_account_id)).toBe(3);
  });

  it('leaves records still throttled after every retry claimed, for the next run to send', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 4000);
    setClock(new Date('2026-12-10T14:05:00Z'));
    emulator.control.throttle(100);

    const throttled = await runMetering({ ...fast, maxSendAttempts: 3 });
    expect(throttled.unsent).toBe(1);
    expect(throttled.oldest_unreported_hour).toBe('2026-12-10T13:00:00Z');
    emulator.control.throttle(0);
    advanceClock(16 * 60_000);
    const next = await runMetering(fast);

    expect(next.reported).toEqual({ records: 1, units: 4 });
    expect(next.oldest_unreported_hour).toBeNull();
    expect(billedUnits(emulator)).toBe(4);
  });

  it('sends at most 25 records a call', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyers = await Promise.all(Array.from({ length: 30 }, () => registeredBuyer(emulator)));
    for (const buyer of buyers) await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 1000);
    setClock(new Date('2026-12-10T14:05:00Z'));

    const summary = await runMetering(fast);

    expect(summary.reported).toEqual({ records: 30, units: 30 });
    const records = emulator.control.records();
    expect(records.every((r) => r.status === 'Success')).toBe(true);
    const perCall = new Map<string, number>();
    for (const r of records) perCall.set(r.received_at, (perCall.get(r.received_at) ?? 0) + 1);
    expect(Math.max(...perCall.values())).toBeLessThanOrEqual(25);
  });

  it('flags a record AWS refuses (CustomerNotSubscribed) as rejected and never sends it again', async () => {
    setClock(new Date('2026-12-10T11:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T12:00:00Z', 2000);
    // Cancelled at AWS, and the event never reached us: AWS refuses the usage after its grace hour.
    setClock(new Date('2026-12-10T11:30:00Z'));
    emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);
    setClock(new Date('2026-12-10T13:05:00Z'));

    const summary = await runMetering(fast);
    const again = await runMetering(fast);

    expect(summary.rejected.records).toBeGreaterThanOrEqual(1);
    expect(summary.records).toContainEqual(
      expect.objectContaining({ hour: '2026-12-10T12:00:00Z', units: 2, status: 'CustomerNotSubscribed' }),
    );
    expect(await getHour(buyer.accountId, '2026-12-10T12:00:00Z', 'usage')).toMatchObject({
      state: 'rejected',
      aws_status: 'CustomerNotSubscribed',
    });
    expect(again.rejected.records).toBe(0);
    expect(billedUnits(emulator)).toBe(0);
  });

  it('sends a record every hour for an idle buyer, quantity 0', async () => {
    setClock(new Date('2026-12-10T10:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    setClock(new Date('2026-12-10T14:05:00Z'));

    const summary = await runMetering(fast);

    const records = billed(emulator, buyer.customer.customer_aws_account_id);
    expect(records.map((r) => [r.usage_record.Timestamp, r.usage_record.Quantity])).toEqual([
      ['2026-12-10T10:00:00.000Z', 0],
      ['2026-12-10T11:00:00.000Z', 0],
      ['2026-12-10T12:00:00.000Z', 0],
      ['2026-12-10T13:00:00.000Z', 0],
    ]);
    expect(summary.hours_ensured).toBe(4);
    // The next hour's run adds exactly one more.
    setClock(new Date('2026-12-10T15:05:00Z'));
    expect((await runMetering(fast)).reported.records).toBe(1);
  });

  it('moves an hour that missed the window into the next hour instead of sinking the batch', async () => {
    setClock(new Date('2026-12-10T10:20:00Z'));
    const late = await registeredBuyer(emulator);
    await accrue(late.accountId, '2026-12-10T10:00:00Z', 1500);
    // 5 h 55 min later the 10:00 record is inside the default 6-hour window, but not with the job's
    // safety margin.
    setClock(new Date('2026-12-10T15:55:00Z'));
    const fresh = await registeredBuyer(emulator);
    await accrue(fresh.accountId, '2026-12-10T14:00:00Z', 2000);
    setClock(new Date('2026-12-10T16:00:00Z'));

    const summary = await runMetering(fast);

    expect(summary.rolled_over).toEqual({ hours: 1, micros: 1500 });
    expect(emulator.control.records().filter((r) => r.status.endsWith('Exception'))).toEqual([]);
    const lateRecords = billed(emulator, late.customer.customer_aws_account_id);
    expect(lateRecords[0]?.usage_record).toMatchObject({
      Timestamp: '2026-12-10T11:00:00.000Z',
      Quantity: 1,
    });
    expect(billedUnits(emulator, late.customer.customer_aws_account_id)).toBe(1);
    expect(billedUnits(emulator, fresh.customer.customer_aws_account_id)).toBe(2);
    expect(await getCarry(late.accountId, 'usage')).toMatchObject({ carry: 500 });
    expect(await getHour(late.accountId, '2026-12-10T10:00:00Z', 'usage')).toMatchObject({
      state: 'rolled_over',
      carry_out: 1500,
    });
  });

  it("sends last month's last hour until 06:00 UTC on the 1st", async () => {
    // The cut-off only binds with a window longer than 7 hours.
    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    setClock(new Date('2026-11-30T23:10:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-11-30T23:00:00Z', 2500);
    setClock(new Date('2026-12-01T05:30:00Z'));

    await runMetering(fast);

    expect(billed(emulator, buyer.customer.customer_aws_account_id)[0]?.usage_record).toMatchObject({
      Timestamp: '2026-11-30T23:00:00.000Z',
      Quantity: 2,
    });
  });

  it("books last month's unreported hour into this month after the 06:00 UTC cut-off", async () => {
    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    setClock(new Date('2026-11-30T23:10:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-11-30T23:00:00Z', 2500);
    setClock(new Date('2026-12-01T06:30:00Z'));

    const summary = await runMetering(fast);

    expect(summary.rolled_over.hours).toBe(1);
    expect(emulator.control.records().filter((r) => r.status === 'TimestampOutOfBoundsException')).toEqual(
      [],
    );
    const records = billed(emulator, buyer.customer.customer_aws_account_id);
    expect(records[0]?.usage_record).toMatchObject({ Timestamp: '2026-12-01T00:00:00.000Z', Quantity: 2 });
    expect(billedUnits(emulator)).toBe(2);
  });

  // 200 hours of random usage in runs of 20 (one BatchMeterUsage call each, a carry across every hour),
  // crossing a month end as the 1,000 hours from 1 June did: a run at 00:01 on 1 July sends June's last
  // hours. The count is no boundary of the job's: more hours only repeat the same carry.
  const BLOCKS = 10;
  const HOURS_PER_RUN = 20;
  it(`carries the remainder over ${BLOCKS * HOURS_PER_RUN} hours and bills the exact total`, async () => {
    const seed = Number(process.env.MKT_SEED ?? Date.now() % 100_000);
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const start = Date.parse('2026-06-27T16:00:00Z'); // 80 hours (4 runs) before 1 July
    // A run every 20 hours needs a window that long: every hour is sent, none rolled over.
    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    setClock(new Date(start + 5 * 60_000));
    const buyer = await registeredBuyer(emulator);
    let total = 0;
    for (let block = 0; block < BLOCKS; block++) {
      for (let h = 0; h < HOURS_PER_RUN; h++) {
        const hour = new Date(start + (block * HOURS_PER_RUN + h) * 3_600_000)
          .toISOString()
          .replace('.000Z', 'Z');
        const cost = random() < 0.2 ? 0 : Math.floor(random() * 7_777);
        if (cost > 0) await accrue(buyer.accountId, hour, cost);
        total += cost;
      }
      setClock(new Date(start + (block + 1) * HOURS_PER_RUN * 3_600_000 + 60_000));
      await runMetering(fast);
    }

    expect(billed(emulator)).toHaveLength(BLOCKS * HOURS_PER_RUN);
    expect(billedUnits(emulator), `seed ${seed}`).toBe(Math.floor(total / 1000));
    expect(await getCarry(buyer.accountId, 'usage')).toMatchObject({
      carry: total % 1000,
      seq: BLOCKS * HOURS_PER_RUN,
    });
  }, 120_000);

  it('sends the hours that leave the window soonest first, across buyers and batches', async () => {
    // 12 idle buyers, 5 hours each: 60 records in 3 calls. Claims go 8 buyers at a time, each buyer's hours
    // in order, so without the ordering the last 4 buyers' 10:00 hours would be sent after 11:00 to 14:00.
    setClock(new Date('2026-12-10T10:20:00Z'));
    for (let i = 0; i < 12; i++) await registeredBuyer(emulator);
    setClock(new Date('2026-12-10T15:05:00Z'));

    const summary = await runMetering(fast);

    expect(summary.reported.records).toBe(60);
    const sent = emulator.control.records().map((r) => r.usage_record.Timestamp);
    expect(sent).toHaveLength(60);
    expect(sent).toEqual([...sent].sort());
    expect(sent.slice(0, 12)).toEqual(Array(12).fill('2026-12-10T10:00:00.000Z'));
  });

  it('by default sends nothing stamped 6 hours or more before the run (the BatchMeterUsage window)', async () => {
    setClock(new Date('2026-12-10T08:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T08:00:00Z', 3000);
    setClock(new Date('2026-12-10T14:05:00Z'));

    const summary = await runMetering(fast);

    expect(summary.rolled_over).toEqual({ hours: 1, micros: 3000 });
    const records = billed(emulator, buyer.customer.customer_aws_account_id);
    expect(records.map((r) => [r.usage_record.Timestamp, r.usage_record.Quantity])).toEqual([
      ['2026-12-10T09:00:00.000Z', 3],
      ['2026-12-10T10:00:00.000Z', 0],
      ['2026-12-10T11:00:00.000Z', 0],
      ['2026-12-10T12:00:00.000Z', 0],
      ['2026-12-10T13:00:00.000Z', 0],
    ]);
  });

  it('dry run: answers the records it would send and changes nothing', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 4200);
    setClock(new Date('2026-12-10T14:05:00Z'));

    const dry = await runMetering({ ...fast, dryRun: true });

    expect(dry.planned).toEqual([
      expect.objectContaining({ account_id: buyer.accountId, hour: '2026-12-10T13:00:00Z', units: 4 }),
    ]);
    expect(emulator.control.records()).toEqual([]);
    expect((await getHour(buyer.accountId, '2026-12-10T13:00:00Z', 'usage'))?.state).toBe('pending');
    expect((await runMetering(fast)).reported).toEqual({ records: 1, units: 4 });
  });

  it('never mixes identity styles in one hour, even when the mode changes while an hour is claimed', async () => {
    process.env.MARKETPLACE_PRODUCT_CODE = DEFAULT_PRODUCT_CODE;
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 3000);
    setClock(new Date('2026-12-10T14:05:00Z'));
    await expect(
      runMetering({
        ...fast,
        afterSend: () => {
          throw new Error('crash');
        },
      }),
    ).rejects.toThrow();
    // The operator switches to licence mode before the crashed hour is resumed.
    delete process.env.MARKETPLACE_PRODUCT_CODE;
    advanceClock(16 * 60_000);

    await runMetering(fast);

    const records = emulator.control.records();
    expect(records.map((r) => [r.status, r.replayed ?? false, r.product_code])).toEqual([
      ['Success', false, DEFAULT_PRODUCT_CODE],
      ['Success', true, DEFAULT_PRODUCT_CODE],
    ]);
    expect(
      records.every((r) => r.usage_record.CustomerIdentifier === buyer.customer.customer_identifier),
    ).toBe(true);
    expect(billedUnits(emulator)).toBe(3);
  });
});
