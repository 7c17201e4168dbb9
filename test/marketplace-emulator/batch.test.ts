// Marketplace emulator: BatchMeterUsage through the real SDK: 25 records a call, the time window
// (MARKETPLACE_WINDOW_HOURS, default 6 h; month-end cutoff), idempotent replays, DuplicateRecord, identity styles, throttling and
// UnprocessedRecords, and the usage-records listing.
import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  MarketplaceMeteringServiceException,
  ThrottlingException,
  TimestampOutOfBoundsException,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetClock, setClock } from '#shared/clock.ts';
import {
  type MintedCustomer,
  type StoredRecord,
  startMarketplaceEmulator,
} from '../../local/marketplace/emulator.ts';
import { type Harness, hourStart, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

afterEach(() => {
  resetClock();
  delete process.env.MARKETPLACE_WINDOW_HOURS;
  h.emulator.control.throttle(0);
  h.emulator.control.leaveUnprocessed(0);
});

const NOW = new Date('2026-03-10T12:30:00Z');
const HOUR = 3_600_000;
const MINUTE = 60_000;

function record(buyer: MintedCustomer, timestamp: Date, quantity: number, dimension = 'usage'): UsageRecord {
  return {
    CustomerIdentifier: buyer.customer_identifier,
    Dimension: dimension,
    Quantity: quantity,
    Timestamp: timestamp,
  };
}

function meter(buyer: MintedCustomer, records: UsageRecord[]) {
  return h.client.send(
    new BatchMeterUsageCommand({ ProductCode: buyer.product_code, UsageRecords: records }),
  );
}

describe('batch size', () => {
  it('accepts 25 records and refuses 26 with ValidationException', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const hours = Array.from({ length: 26 }, (_, i) => record(buyer, hourStart(NOW, i % 5), 1, `d${i}`));
    const ok = await meter(buyer, hours.slice(0, 25));
    expect(ok.Results).toHaveLength(25);
    expect(ok.Results?.every((r) => r.Status === 'Success' && r.MeteringRecordId)).toBe(true);
    expect(ok.UnprocessedRecords).toEqual([]);

    const error = await meter(buyer, hours).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketplaceMeteringServiceException);
    expect((error as Error).name).toBe('ValidationException');
    expect((error as MarketplaceMeteringServiceException).$metadata.httpStatusCode).toBe(400);
  });
});

describe('time window', () => {
  it('fails the whole batch when one record is as old as the window (6 hours by default)', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const fresh = record(buyer, hourStart(NOW, 1), 5);
    const stale = record(buyer, new Date(NOW.getTime() - 6 * HOUR), 5, 'other');
    await expect(meter(buyer, [fresh, stale])).rejects.toBeInstanceOf(TimestampOutOfBoundsException);
    await expect(meter(buyer, [record(buyer, new Date(NOW.getTime() + HOUR), 1)])).rejects.toBeInstanceOf(
      TimestampOutOfBoundsException,
    );
    const listed = h.emulator.control
      .records()
      .filter((r) => r.usage_record.CustomerIdentifier === buyer.customer_identifier);
    expect(listed.map((r) => r.status)).toEqual([
      'TimestampOutOfBoundsException',
      'TimestampOutOfBoundsException',
      'TimestampOutOfBoundsException',
    ]);
    // Nothing of the refused batch was billed: the fresh record alone now succeeds as new.
    const retry = await meter(buyer, [fresh]);
    expect(retry.Results?.[0]?.Status).toBe('Success');
  });

  it('accepts a record one minute inside the default 6-hour window', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const inside = await meter(buyer, [record(buyer, new Date(NOW.getTime() - 6 * HOUR + MINUTE), 5)]);
    expect(inside.Results?.[0]?.Status).toBe('Success');
  });

  it('enforces the configured MARKETPLACE_WINDOW_HOURS, the setting the metering job uses', async () => {
    process.env.MARKETPLACE_WINDOW_HOURS = '3';
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    await expect(
      meter(buyer, [record(buyer, new Date(NOW.getTime() - 3 * HOUR), 1, 'outside')]),
    ).rejects.toBeInstanceOf(TimestampOutOfBoundsException);
    const inside = await meter(buyer, [record(buyer, new Date(NOW.getTime() - 3 * HOUR + MINUTE), 1)]);
    expect(inside.Results?.[0]?.Status).toBe('Success');

    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    const dayOld = await meter(buyer, [record(buyer, new Date(NOW.getTime() - 23 * HOUR), 1, 'day')]);
    expect(dayOld.Results?.[0]?.Status).toBe('Success');
  });

  it('takes a window of its own when started with windowHours', async () => {
    const own = await startMarketplaceEmulator({ windowHours: 12 });
    const client = new MarketplaceMeteringClient({ ...own.clientConfig, maxAttempts: 1 });
    try {
      setClock(NOW);
      const buyer = own.control.mintCustomer();
      const send = (at: Date, dimension: string) =>
        client.send(
          new BatchMeterUsageCommand({
            ProductCode: buyer.product_code,
            UsageRecords: [record(buyer, at, 1, dimension)],
          }),
        );
      const elevenHours = await send(new Date(NOW.getTime() - 11 * HOUR), 'inside');
      expect(elevenHours.Results?.[0]?.Status).toBe('Success');
      await expect(send(new Date(NOW.getTime() - 12 * HOUR), 'outside')).rejects.toBeInstanceOf(
        TimestampOutOfBoundsException,
      );
    } finally {
      client.destroy();
      await own.stop();
    }
  });

  it("accepts last month's usage until 06:00 UTC on the 1st", async () => {
    // The cut-off only binds with a window longer than 7 hours (last month's last hour starts at 23:00).
    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    setClock(new Date('2026-03-01T05:00:00Z'));
    const buyer = h.emulator.control.mintCustomer();
    const lastHourOfFebruary = new Date('2026-02-28T23:00:00Z');
    const ok = await meter(buyer, [record(buyer, lastHourOfFebruary, 3)]);
    expect(ok.Results?.[0]?.Status).toBe('Success');

    setClock(new Date('2026-03-01T06:00:00Z'));
    await expect(meter(buyer, [record(buyer, lastHourOfFebruary, 3, 'late')])).rejects.toBeInstanceOf(
      TimestampOutOfBoundsException,
    );
    // March's own first hours are still fine.
    const march = await meter(buyer, [record(buyer, new Date('2026-03-01T00:00:00Z'), 3)]);
    expect(march.Results?.[0]?.Status).toBe('Success');
  });
});

describe('duplicates', () => {
  it('answers an identical replay with the same MeteringRecordId, a changed quantity with DuplicateRecord', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const hour = hourStart(NOW, 2);
    const first = await meter(buyer, [record(buyer, hour, 42)]);
    const again = await meter(buyer, [record(buyer, hour, 42)]);
    expect(again.Results?.[0]?.Status).toBe('Success');
    expect(again.Results?.[0]?.MeteringRecordId).toBe(first.Results?.[0]?.MeteringRecordId);

    const changed = await meter(buyer, [record(buyer, hour, 43)]);
    expect(changed.Results?.[0]?.Status).toBe('DuplicateRecord');
    expect(changed.Results?.[0]?.MeteringRecordId).toBeUndefined();
    expect(changed.Results?.[0]?.UsageRecord?.Timestamp?.getTime()).toBe(hour.getTime());
  });

  it('meters Concurrent Agreements buyers by account + license without ProductCode', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer({ concurrent_agreements: true });
    const out = await h.client.send(
      new BatchMeterUsageCommand({
        UsageRecords: [
          {
            CustomerAWSAccountId: buyer.customer_aws_account_id,
            LicenseArn: buyer.license_arn,
            Dimension: 'usage',
            Quantity: 7,
            Timestamp: hourStart(NOW),
          },
        ],
      }),
    );
    expect(out.Results?.[0]?.Status).toBe('Success');
  });

  it('refuses a second identity style for the same buyer and hour (DuplicateRecord)', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const hour = hourStart(NOW, 3);
    await meter(buyer, [record(buyer, hour, 1)]);
    const other = await meter(buyer, [
      {
        CustomerAWSAccountId: buyer.customer_aws_account_id,
        LicenseArn: buyer.license_arn,
        Dimension: 'other',
        Quantity: 1,
        Timestamp: new Date(hour.getTime() + 60_000),
      },
    ]);
    expect(other.Results?.[0]?.Status).toBe('DuplicateRecord');
    expect(h.emulator.control.records().at(-1)?.reason).toBe('mixed_identity_styles');
  });

  it('answers CustomerNotSubscribed for unknown buyers', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const out = await meter(buyer, [
      { ...record(buyer, hourStart(NOW), 1), CustomerIdentifier: 'nobodyHere1' },
    ]);
    expect(out.Results?.[0]?.Status).toBe('CustomerNotSubscribed');
  });
});

describe('throttling and unprocessed records', () => {
  it('surfaces throttling as the SDK ThrottlingException', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    h.emulator.control.throttle(1);
    const error = await meter(buyer, [record(buyer, hourStart(NOW), 1)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottlingException);
    expect((error as ThrottlingException).$metadata.httpStatusCode).toBe(400);
    const next = await meter(buyer, [record(buyer, hourStart(NOW), 1)]);
    expect(next.Results?.[0]?.Status).toBe('Success');
  });

  it('lets the SDK retry a throttled call on its own (throttleNext)', async () => {
    const { startMarketplaceEmulator } = await import('../../local/marketplace/emulator.ts');
    const emulator = await startMarketplaceEmulator({ throttleNext: 1 });
    const client = new MarketplaceMeteringClient({ ...emulator.clientConfig, maxAttempts: 2 });
    try {
      const buyer = emulator.control.mintCustomer();
      const out = await client.send(
        new BatchMeterUsageCommand({
          ProductCode: buyer.product_code,
          UsageRecords: [record(buyer, hourStart(new Date()), 1)],
        }),
      );
      expect(out.Results?.[0]?.Status).toBe('Success');
      expect(out.$metadata.attempts).toBe(2);
    } finally {
      client.destroy();
      await emulator.stop();
    }
  });

  it('returns records as UnprocessedRecords when told, unbilled', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    h.emulator.control.leaveUnprocessed(2);
    const records = [0, 1, 2].map((i) => record(buyer, hourStart(NOW, i), 10 + i));
    const out = await meter(buyer, records);
    expect(out.Results?.map((r) => r.Status)).toEqual(['Success']);
    expect(out.UnprocessedRecords?.map((r) => r.Quantity)).toEqual([11, 12]);
    const retried = await meter(buyer, out.UnprocessedRecords ?? []);
    expect(retried.Results?.map((r) => r.Status)).toEqual(['Success', 'Success']);
    expect(retried.UnprocessedRecords).toEqual([]);
  });
});

describe('GET /__marketplace/usage-records', () => {
  it('lists every record as received with the status answered and the MeteringRecordId', async () => {
    setClock(NOW);
    const buyer = h.emulator.control.mintCustomer();
    const hour = hourStart(NOW, 4);
    const sent = await meter(buyer, [record(buyer, hour, 9)]);
    await meter(buyer, [record(buyer, hour, 10)]);
    const response = await fetch(`${h.emulator.url}/__marketplace/usage-records`);
    expect(response.status).toBe(200);
    const { data } = (await response.json()) as { data: StoredRecord[] };
    const mine = data.filter((r) => r.usage_record.CustomerIdentifier === buyer.customer_identifier);
    expect(mine).toEqual([
      expect.objectContaining({
        product_code: buyer.product_code,
        usage_record: {
          CustomerIdentifier: buyer.customer_identifier,
          Dimension: 'usage',
          Quantity: 9,
          Timestamp: hour.toISOString(),
        },
        status: 'Success',
        metering_record_id: sent.Results?.[0]?.MeteringRecordId,
        customer_aws_account_id: buyer.customer_aws_account_id,
      }),
      expect.objectContaining({ status: 'DuplicateRecord', reason: 'quantity_changed' }),
    ]);
  });
});
