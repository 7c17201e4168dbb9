// Billing events: an account running dry is announced once an hour at most, and operator grants and
// corrections are announced once each (local mode collects events in `globalThis.__localEvents`).
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { advanceClock, resetClock } from '#shared/clock.ts';
import { fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf, moneySnapshot } from '../support/assertions.ts';

const INSUFFICIENT = { error: 'Insufficient credits', code: 'insufficient_credits' };

afterEach(() => {
  resetClock();
});

describe('credits.balance.depleted', () => {
  it('the first 402 of an account publishes exactly one event; further 402s within the hour publish none', async () => {
    // Prepare: enough for one echo (0.002), not for two.
    const { accountId, token } = await fundedAccount(0.003, 'Running dry');
    expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'last one' } })).status).toBe(200);
    const before = await moneySnapshot(accountId);

    // Act
    const first = await call('POST', '/v1/demo/echo', { token, body: { text: 'one too many' } });
    const afterFirst = (await eventsOf(accountId, 'credits.balance.depleted')).length;
    advanceClock(30 * 60_000);
    const second = await call('POST', '/v1/demo/echo', { token, body: { text: 'again' } });
    const third = await call('POST', '/v1/demo/words', { token, body: { text: 'x'.repeat(100) } });

    // Assess
    for (const refused of [first, second, third]) {
      expect(refused.status).toBe(402);
      expect(refused.body).toEqual(INSUFFICIENT);
      expect(refused.headers['retry-after']).toBeUndefined();
    }
    expect(afterFirst).toBe(1);
    const events = await eventsOf(accountId, 'credits.balance.depleted');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'credits.balance.depleted',
      account_id: accountId,
      available: 0.001,
      balance: 0.001,
    });
    expect(await moneySnapshot(accountId)).toEqual(before);
  });

  it('concurrent first 402s publish one event between them', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0, 'Empty, busy');

    // Act
    const refusals = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call('POST', '/v1/demo/echo', { token, body: { text: `burst ${i}` } }),
      ),
    );

    // Assess
    expect(refusals.map((r) => r.status)).toEqual([402, 402, 402, 402, 402]);
    expect(await eventsOf(accountId, 'credits.balance.depleted')).toHaveLength(1);
  });

  it('a 402 more than an hour after the last announcement is announced again', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0, 'Dry again');
    expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'first' } })).status).toBe(402);

    // Act
    advanceClock(61 * 60_000);
    const later = await call('POST', '/v1/demo/echo', { token, body: { text: 'an hour later' } });

    // Assess
    expect(later.status).toBe(402);
    expect(await eventsOf(accountId, 'credits.balance.depleted')).toHaveLength(2);
  });
});

describe('credits.granted', () => {
  it('an operator grant publishes one credits.granted event, and its idempotent replay publishes none', async () => {
    // Prepare
    const { accountId } = await fundedAccount(0, 'Granted');
    const request = {
      body: { amount: 12.5, reason: 'welcome bonus' },
      headers: { 'idempotency-key': `grant-${randomUUID()}` },
    };

    // Act
    const granted = await call('POST', `/admin/accounts/${accountId}/credits`, request);
    const replay = await call('POST', `/admin/accounts/${accountId}/credits`, request);

    // Assess
    expect(granted.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(granted.body);
    const events = await eventsOf(accountId, 'credits.granted');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'credits.granted',
      account_id: accountId,
      amount: 12.5,
      reason: 'welcome bonus',
      entry_id: granted.body.id,
    });
    expect((await moneySnapshot(accountId)).balance).toBe(12_500_000);
  });

  it('a correction publishes credits.corrected (not granted); a refused correction publishes nothing', async () => {
    // Prepare
    const { accountId } = await fundedAccount(0, 'Corrected');
    const path = `/admin/accounts/${accountId}/credits`;
    expect((await call('POST', path, { body: { amount: 2, reason: 'seed' } })).status).toBe(201);

    // Act
    const corrected = await call('POST', path, { body: { amount: -0.5, reason: 'double grant' } });
    const refused = await call('POST', path, { body: { amount: -5, reason: 'too much' } });

    // Assess
    expect(corrected.status).toBe(201);
    expect(refused.status).toBe(409);
    expect(await eventsOf(accountId, 'credits.granted')).toHaveLength(1);
    const corrections = await eventsOf(accountId, 'credits.corrected');
    expect(corrections).toHaveLength(1);
    expect(corrections[0]).toMatchObject({
      amount: -0.5,
      reason: 'double grant',
      entry_id: corrected.body.id,
    });
  });
});
