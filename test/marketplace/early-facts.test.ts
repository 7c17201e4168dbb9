// Lifecycle events that arrive before the buyer registers: remembered (one item per buyer and licence, the
// newest fact wins, duplicates change nothing), then applied by the registration, so a buyer whose
// subscription already ended gets a cancelled account; races between the two converge too.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { freezeClock, nowMs, resetClock, setClock } from '#shared/clock.ts';
import { queryAll } from '#shared/dynamo/query.ts';
import { getBuyer } from '#shared/marketplace/buyers.ts';
import { EARLY_FACT_TTL_DAYS } from '#shared/marketplace/early-facts.ts';
import { processLifecycleEvent } from '#shared/marketplace/lifecycle.ts';
import { runMetering } from '#shared/marketplace/metering.ts';
import { registerBuyer } from '#shared/marketplace/registration.ts';
import type { LifecycleEvent, MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { call } from '../support/api.ts';
import { startTestEmulator, stopTestEmulator, useFreshTable } from '../support/marketplace.ts';

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

type Customer = { customer_aws_account_id: string; license_arn: string; customer_identifier: string };

function agreementEvent(type: string, time: string, customer: Customer) {
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

function snsEvent(action: string, at: string, customer: Customer) {
  return {
    Records: [
      {
        Sns: {
          Timestamp: at,
          Message: JSON.stringify({ action, 'customer-identifier': customer.customer_identifier }),
        },
      },
    ],
  };
}

/** The emulator's three cancellation events for a buyer, captured (not yet delivered). */
function cancel(customer: Customer): LifecycleEvent[] {
  events.length = 0;
  emulator.control.unsubscribe(customer.customer_aws_account_id);
  return [...events];
}

async function deliver(list: Parameters<typeof processLifecycleEvent>[0][]) {
  const outcomes = [];
  for (const event of list) outcomes.push(...(await processLifecycleEvent(event)).results);
  return outcomes.map((o) => o.outcome);
}

function register(token: string, accept: string) {
  return call('POST', '/marketplace/register', {
    rawBody: new URLSearchParams({ 'x-amzn-marketplace-token': token }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
  });
}

async function rememberedItems(customer: Customer) {
  return queryAll({
    TableName: process.env.TABLE_NAME,
    KeyConditionExpression: 'PK = :pk',
    ExpressionAttributeValues: { ':pk': `MKT_EARLY#ACCT#${customer.customer_aws_account_id}` },
    ConsistentRead: true,
  });
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('lifecycle events before the registration', () => {
  it('a cancellation before the registration opens a cancelled account: 403 on calls, a page that says so, nothing metered', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const customer = emulator.control.mintCustomer();
    const ended = cancel(customer);
    expect(await deliver(ended)).toEqual([
      'remembered',
      'already_remembered_or_older',
      'already_remembered_or_older',
    ]);
    setClock(new Date('2026-12-10T13:40:00Z'));

    const page = await register(customer.registration_token, 'text/html');
    const answer = await register(customer.registration_token, 'application/json');

    expect(page.status).toBe(201);
    expect(page.body).toMatch(/subscription is not active \(cancelled\)/);
    // The replayed form mints no second token: calls are made with the one the page showed.
    expect(answer.body).toMatchObject({ created: false, token: null, subscription_status: 'cancelled' });
    const token = /crd_[A-Za-z0-9_-]{43}/.exec(page.body as string)?.[0];
    const accountId = answer.body.account_id;
    expect(await getAccount(accountId)).toMatchObject({
      subscription_status: 'cancelled',
      cancelled_at: new Date(ended[0]!.time).toISOString(),
    });
    const buyer = await getBuyer(accountId);
    expect(buyer).toMatchObject({ ends_at: new Date(ended[0]!.time).toISOString() });
    expect(buyer?.GSI1PK).toBeUndefined();
    const refused = await call('POST', '/v1/demo/echo', { token, body: { text: 'hi' } });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'subscription_inactive' });

    setClock(new Date('2026-12-10T15:05:00Z'));
    expect((await runMetering({ backoffMs: 5 })).reported.records).toBe(0);
    expect(emulator.control.records()).toEqual([]);
  });

  it.each([
    ['created, then cancelled', false],
    ['cancelled, then the creation late', true],
  ])('agreement created and cancelled before the registration (%s) ends cancelled', async (_, reversed) => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const customer = emulator.control.mintCustomer();
    const created = agreementEvent(
      'Purchase Agreement Created - Manufacturer',
      '2026-12-10T13:20:00Z',
      customer,
    );
    setClock(new Date('2026-12-10T13:30:00Z'));
    const ended = cancel(customer);

    const outcomes = await deliver(reversed ? [...ended, created] : [created, ...ended]);

    expect(outcomes.filter((o) => o === 'remembered')).toHaveLength(reversed ? 1 : 2);
    expect(await rememberedItems(customer)).toEqual([
      expect.objectContaining({ subscription_status: 'cancelled', license_arn: customer.license_arn }),
    ]);
    const registration = await registerBuyer(customer.registration_token);
    expect(registration).toMatchObject({ created: true, subscription_status: 'cancelled' });
    expect(await statusOf(registration.account_id)).toBe('cancelled');
    // Delivered again after the registration: nothing changes.
    expect(await deliver([created, ...ended])).toEqual(Array(4).fill('already_applied_or_older'));
    expect(await statusOf(registration.account_id)).toBe('cancelled');
  });

  it('remembers duplicated events once, in every order, with a TTL', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    for (const order of permutations([0, 1, 2])) {
      const customer = emulator.control.mintCustomer();
      const ended = cancel(customer);
      const sequence = order.map((n) => ended[n]!);

      const outcomes = await deliver([...sequence, ...sequence.reverse()]);

      expect(
        outcomes.filter((o) => o === 'remembered'),
        `order ${order}`,
      ).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'already_remembered_or_older')).toHaveLength(5);
      const items = await rememberedItems(customer);
      expect(items).toHaveLength(1);
      const ttl = Math.floor(nowMs() / 1000) + EARLY_FACT_TTL_DAYS * 86_400;
      expect(items[0]!.expires_at).toBeGreaterThan(ttl - 60);
      expect(items[0]!.expires_at).toBeLessThanOrEqual(ttl);
      const registration = await registerBuyer(customer.registration_token);
      expect(await statusOf(registration.account_id)).toBe('cancelled');
    }
  });

  it('an active remembered state stays active; a later cancellation still applies, even one delivered after the registration', async () => {
    setClock(new Date('2026-12-10T13:00:00Z'));
    const customer = emulator.control.mintCustomer();
    const created = agreementEvent(
      'Purchase Agreement Created - Manufacturer',
      '2026-12-10T13:00:00Z',
      customer,
    );
    expect(await deliver([created, created])).toEqual(['remembered', 'already_remembered_or_older']);
    setClock(new Date('2026-12-10T13:10:00Z'));
    const ended = cancel(customer); // Cancelled at 13:10, delivered only after the registration at 13:20.
    setClock(new Date('2026-12-10T13:20:00Z'));

    const answer = await register(customer.registration_token, 'application/json');

    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ subscription_status: 'active' });
    const served = await call('POST', '/v1/demo/echo', { token: answer.body.token, body: { text: 'hi' } });
    expect(served.status).toBe(200);
    expect((await getBuyer(answer.body.account_id))?.GSI1PK).toMatch(/^MKT_BUYERS#/);

    expect((await deliver(ended))[0]).toBe('applied');
    expect(await statusOf(answer.body.account_id)).toBe('cancelled');
  });

  it('applies remembered legacy SNS messages (keyed by CustomerIdentifier), newest first', async () => {
    setClock(new Date('2026-12-10T13:20:00Z'));
    const cancelled = emulator.control.mintCustomer();
    const active = emulator.control.mintCustomer();
    await deliver([
      snsEvent('unsubscribe-success', '2026-12-10T13:15:00.000Z', cancelled),
      snsEvent('subscribe-success', '2026-12-10T13:05:00.000Z', cancelled),
      snsEvent('subscribe-success', '2026-12-10T13:05:00.000Z', active),
      snsEvent('unsubscribe-pending', '2026-12-10T13:10:00.000Z', active),
      snsEvent('subscribe-success', '2026-12-10T13:12:00.000Z', active),
    ]);

    expect(await registerBuyer(cancelled.registration_token)).toMatchObject({
      subscription_status: 'cancelled',
    });
    expect(await registerBuyer(active.registration_token)).toMatchObject({ subscription_status: 'active' });
  });

  it('converges when the registration and the cancellation events race', async () => {
    freezeClock(new Date('2026-12-10T13:20:00Z'));
    const runs = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const customer = emulator.control.mintCustomer();
        const ended = cancel(customer);
        const [registration] = await Promise.all([
          registerBuyer(customer.registration_token),
          ...ended.map(async (event, n) => {
            await new Promise((resolve) => setTimeout(resolve, (i + n) % 4));
            return processLifecycleEvent(event);
          }),
        ]);
        return registration.account_id;
      }),
    );

    for (const accountId of runs) expect(await statusOf(accountId)).toBe('cancelled');
  });
});
