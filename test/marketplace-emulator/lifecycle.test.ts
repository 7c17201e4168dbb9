// Marketplace emulator: cancelling a subscription (HTTP route), the lifecycle events it emits and the
// one-hour grace for final usage.
import { BatchMeterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, resetClock, setClock } from '#shared/clock.ts';
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
});

describe('unsubscribe', () => {
  it('emits the cancellation events and refuses usage after the grace hour', async () => {
    const at = new Date('2026-03-10T12:20:00Z');
    setClock(at);
    const buyer = h.emulator.control.mintCustomer();
    const meter = (timestamp: Date, quantity: number) =>
      h.client.send(
        new BatchMeterUsageCommand({
          ProductCode: buyer.product_code,
          UsageRecords: [
            {
              CustomerIdentifier: buyer.customer_identifier,
              Dimension: 'usage',
              Quantity: quantity,
              Timestamp: timestamp,
            },
          ],
        }),
      );

    const response = await fetch(
      `${h.emulator.url}/__marketplace/customers/${buyer.customer_aws_account_id}/unsubscribe`,
      { method: 'POST' },
    );
    expect(response.status).toBe(200);
    expect(h.events.map((e) => e['detail-type'])).toEqual([
      'Purchase Agreement Ended - Proposer',
      'Purchase Agreement Ended - Manufacturer',
      'License Deprovisioned - Manufacturer',
    ]);
    for (const event of h.events) {
      expect(event.source).toBe('aws.agreement-marketplace');
      expect(event.time).toBe('2026-03-10T12:20:00Z');
      expect(event.detail).toMatchObject({
        acceptor: { accountId: buyer.customer_aws_account_id },
        product: { code: buyer.product_code },
      });
    }
    expect(h.events[0]?.detail).toMatchObject({
      agreement: { status: 'CANCELLED' },
      licenseArn: buyer.license_arn,
    });
    expect(h.events[2]?.detail).toMatchObject({
      license: { arn: buyer.license_arn, status: 'DEPROVISIONED' },
    });

    // Unsubscribing again changes nothing and emits nothing.
    expect(h.emulator.control.unsubscribe(buyer.customer_aws_account_id)).toBe(true);
    expect(h.events).toHaveLength(3);

    // Within the grace hour: the final usage (stamped before the cancellation) is accepted.
    advanceClock(30 * 60_000);
    const final = await meter(hourStart(at), 5);
    expect(final.Results?.[0]?.Status).toBe('Success');
    const afterCancel = await meter(new Date(at.getTime() + 10 * 60_000), 1);
    expect(afterCancel.Results?.[0]?.Status).toBe('CustomerNotSubscribed');

    // After the grace hour: nothing more.
    advanceClock(30 * 60_000);
    const late = await meter(hourStart(at, 1), 5);
    expect(late.Results?.[0]?.Status).toBe('CustomerNotSubscribed');
  });

  it('answers 404 for an unknown account', async () => {
    const response = await fetch(`${h.emulator.url}/__marketplace/customers/999999999999/unsubscribe`, {
      method: 'POST',
    });
    expect(response.status).toBe(404);
  });
});
