// Subscription lifecycle: the emulator's real cancellation events (three per cancellation), duplicated and in
// every order, end in one state; an older fact never overrides a newer one; an ended subscription's final
// usage is reported at once, inside AWS's grace hour.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { resetClock, setClock } from '#shared/clock.ts';
import { getBuyer } from '#shared/marketplace/buyers.ts';
import { getHour } from '#shared/marketplace/hour-store.ts';
import { processLifecycleEvent } from '#shared/marketplace/lifecycle.ts';
import { runMetering } from '#shared/marketplace/metering.ts';
import type { LifecycleEvent, MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { call } from '../support/api.ts';
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
let events: LifecycleEvent[];

beforeEach(async () => {
  await useFreshTable();
  events = [];
  emulator = await startTestEmulator((event) => events.push(event));
});

afterEach(async () => {
  await stopTestEmulator(emulator);
  resetClock();
});

const statusOf = async (accountId: string) =>
  ((await getAccount(accountId)) as { subscription_status?: string } | undefined)?.subscription_status;

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/** An EventBridge event like AWS's, for facts the emulator does not emit (creation, amendments). */
function agreementEvent(
  type: string,
  time: string,
  customer: { customer_aws_account_id: string; license_arn: string },
) {
  return {
    version: '0',
    id: `evt-${Math.random()}`,
    source: 'aws.agreement-marketplace',
    'detail-type': type,
    time,
    detail: {
      acceptor: { accountId: customer.customer_aws_account_id },
      licenseArn: customer.license_arn,
      agreement: { id: 'agmt-1', status: 'ACTIVE' },
    },
  };
}

describe('marketplace subscription lifecycle', () => {
  it('ends in "cancelled" for the three cancellation events, duplicated, in every order', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyers = [];
    for (let i = 0; i < 6; i++) buyers.push(await registeredBuyer(emulator));
    const orders = permutations([0, 1, 2]);

    for (const [i, buyer] of buyers.entries()) {
      events.length = 0;
      emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);
      expect(events).toHaveLength(3);
      const endedAt = new Date(events[0]!.time).toISOString();
      const order = orders[i]!.map((n) => events[n]!);
      // Each delivered twice, the duplicates interleaved with the rest.
      for (const event of [...order, ...order.reverse()]) await processLifecycleEvent(event);
      expect(await statusOf(buyer.accountId), `order ${orders[i]}`).toBe('cancelled');
      expect(await getBuyer(buyer.accountId)).toMatchObject({ ends_at: endedAt });
    }
  });

  it('refuses calls with 403 subscription_inactive once cancelled', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);
    for (const event of events) await processLifecycleEvent(event);

    const answer = await call('POST', '/v1/demo/echo', { token: buyer.token, body: { text: 'hi' } });

    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: 'subscription_inactive' });
  });

  it('lets the newest fact win whatever order facts arrive in, and ignores replays', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    const created = agreementEvent(
      'Purchase Agreement Created - Manufacturer',
      '2026-12-10T13:19:00Z',
      buyer.customer,
    );
    const amended = agreementEvent(
      'Purchase Agreement Amended - Manufacturer',
      '2026-12-10T15:00:00Z',
      buyer.customer,
    );
    setClock(new Date('2026-12-10T14:00:00Z'));
    emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);
    const ended = [...events];

    // The cancellation first; the creation (older than the registration) arrives late and changes nothing.
    for (const event of ended) await processLifecycleEvent(event);
    expect((await processLifecycleEvent(created)).results[0]).toMatchObject({
      outcome: 'already_applied_or_older',
    });
    expect(await statusOf(buyer.accountId)).toBe('cancelled');

    // A later amendment (a new agreement on the same license) reactivates; the old cancellation replayed does not undo it.
    await processLifecycleEvent(amended);
    for (const event of ended) await processLifecycleEvent(event);
    expect(await statusOf(buyer.accountId)).toBe('active');
    expect((await getBuyer(buyer.accountId))?.ends_at).toBeUndefined();
  });

  it('follows the legacy SNS messages: pending cancellation still serves, then cancelled', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    const sns = (action: string, at: string) => ({
      Records: [
        {
          Sns: {
            Timestamp: at,
            Message: JSON.stringify({
              action,
              'customer-identifier': buyer.customer.customer_identifier,
              'product-code': buyer.customer.product_code,
            }),
          },
        },
      ],
    });

    await processLifecycleEvent(sns('unsubscribe-pending', '2026-12-10T13:30:00.000Z'));
    expect(await statusOf(buyer.accountId)).toBe('cancel_pending');
    expect((await call('POST', '/v1/demo/echo', { token: buyer.token, body: { text: 'hi' } })).status).toBe(
      200,
    );

    await processLifecycleEvent(sns('unsubscribe-success', '2026-12-10T13:40:00.000Z'));
    await processLifecycleEvent(sns('unsubscribe-pending', '2026-12-10T13:30:00.000Z'));
    expect(await statusOf(buyer.accountId)).toBe('cancelled');
  });

  it('ignores events about another license, and remembers events for buyers who have not registered', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    const stale = agreementEvent('License Deprovisioned - Manufacturer', '2026-12-10T14:00:00Z', {
      ...buyer.customer,
      license_arn: 'arn:aws:license-manager::294406891311:license:l-00000000000000000000000000000000',
    });
    const stranger = emulator.control.mintCustomer();
    emulator.control.unsubscribe(stranger.customer_aws_account_id);

    expect((await processLifecycleEvent(stale)).results[0]).toMatchObject({ outcome: 'ignored' });
    expect((await processLifecycleEvent(events[0]!)).results[0]).toMatchObject({ outcome: 'remembered' });
    expect(await statusOf(buyer.accountId)).toBe('active');
  });

  it('reports the final usage at once on cancellation, including the hour still open', async () => {
    setClock(new Date('2026-12-10T11:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T12:00:00Z', 4000);
    await accrue(buyer.accountId, '2026-12-10T13:00:00Z', 2600);
    setClock(new Date('2026-12-10T13:40:00Z'));
    emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);

    const reports = [];
    for (const event of events) reports.push(await processLifecycleEvent(event));

    const records = billed(emulator, buyer.customer.customer_aws_account_id);
    expect(records.map((r) => [r.usage_record.Timestamp, r.usage_record.Quantity])).toEqual([
      ['2026-12-10T11:00:00.000Z', 0],
      ['2026-12-10T12:00:00.000Z', 4],
      ['2026-12-10T13:00:00.000Z', 2],
    ]);
    expect(reports[0]?.results[0]).toMatchObject({ outcome: 'applied', flushed: { records: 3, units: 6 } });
    expect(await getHour(buyer.accountId, '2026-12-10T13:00:00Z', 'usage')).toMatchObject({
      state: 'reported',
    });
    // The hourly job afterwards: nothing more for this buyer, no hour after its cancellation.
    setClock(new Date('2026-12-10T15:05:00Z'));
    const later = await runMetering({ backoffMs: 5 });
    expect(later.reported.records).toBe(0);
    expect(billedUnits(emulator)).toBe(6);
  });

  it('retires an ended buyer from the hourly work once its last hour has left the window', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);
    for (const event of events) await processLifecycleEvent(event);

    setClock(new Date('2026-12-11T14:05:00Z'));
    await runMetering({ backoffMs: 5 });

    expect((await getBuyer(buyer.accountId))?.GSI1PK).toBeUndefined();
  });
});
