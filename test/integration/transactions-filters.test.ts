// GET /v1/transactions narrowed by type, feature and date range (issue 17, a ledger people can read): the
// date range is a key range on the entry ids, type and feature a filter, and paging with any of them still
// yields exactly the matching entries once each, also across a sharded account's ledger slots. Purchases
// carry how they were paid and their receipt. Against DynamoDB Local and the Stripe emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowMs } from '#shared/clock.ts';
import { ulidFrom } from '#shared/ids.ts';
import { applyCredit } from '#shared/ledger/ledger.ts';
import type { Micros } from '#shared/money.ts';
import { fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';
import { type Payments, startPayments } from '../support/payments.ts';

type Row = {
  id: string;
  type: string;
  amount: number;
  balance_after?: number;
  feature?: string;
  created_at: string;
  reason?: string;
  payment_method?: string;
  receipt_url?: string;
};

const DAY = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Every page of the query, followed through next_cursor; the pages' sizes too. */
async function walk(token: string, query: Record<string, string>) {
  const rows: Row[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 200; pages++) {
    const response = await call('GET', '/v1/transactions', {
      token,
      query: { ...query, ...(cursor ? { cursor } : {}) },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    rows.push(...(response.body.data as Row[]));
    sizes.push(response.body.data.length);
    cursor = response.body.next_cursor;
    if (!cursor) return { rows, sizes };
  }
  throw new Error('the cursor never ended');
}

/** A credit entry dated `ms` (its id's time prefix and created_at). */
async function creditAt(accountId: string, ms: number, usd: number, reason: string) {
  const outcome = await applyCredit({
    accountId,
    entryId: ulidFrom(ms, crypto.getRandomValues(new Uint8Array(10))),
    type: usd >= 0 ? 'grant' : 'correction',
    amount: Math.round(usd * 1_000_000) as Micros,
    at: new Date(ms).toISOString(),
    reason,
  });
  expect(outcome.status).toBe('applied');
}

let account: { accountId: string; token: string };
const now = nowMs();
const today = day(now);

beforeAll(async () => {
  account = await fundedAccount(5, 'Ledger filters');
  // Ten days ago, three days ago, yesterday: a grant and a correction each (with reasons).
  for (const back of [10, 3, 1]) {
    const noon = Date.parse(`${day(now - back * DAY)}T12:00:00Z`);
    await creditAt(account.accountId, noon, 1, `goodwill ${back}`);
    await creditAt(account.accountId, noon + 1000, -0.25, `fix ${back}`);
  }
  // Today: 5 echo calls and 2 words calls.
  for (let i = 0; i < 5; i++) {
    expect(
      (await call('POST', '/v1/demo/echo', { token: account.token, body: { text: `e${i}` } })).status,
    ).toBe(200);
  }
  for (let i = 0; i < 2; i++) {
    expect(
      (await call('POST', '/v1/demo/words', { token: account.token, body: { text: 'a b c' } })).status,
    ).toBe(200);
  }
});

describe('GET /v1/transactions filters', () => {
  it('type=usage&feature=echo, two at a time: exactly the 5 echo charges, once each, newest first', async () => {
    const { rows } = await walk(account.token, { type: 'usage', feature: 'echo', limit: '2' });
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r) => r.id)).size).toBe(5);
    expect(rows.every((r) => r.type === 'usage' && r.feature === 'echo' && r.amount === -0.002)).toBe(true);
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort().reverse());
    // A filtered page skips entries, so it carries no running balance.
    expect(rows.some((r) => 'balance_after' in r)).toBe(false);
  });

  it('type=grant,correction lists the reasons; exclude_type=usage lists everything else', async () => {
    const { rows } = await walk(account.token, { type: 'grant,correction', limit: '3' });
    expect(rows.map((r) => r.reason)).toEqual([
      'test funds',
      'fix 1',
      'goodwill 1',
      'fix 3',
      'goodwill 3',
      'fix 10',
      'goodwill 10',
    ]);
    const others = await walk(account.token, { exclude_type: 'usage' });
    expect(others.rows.map((r) => r.type).sort()).toEqual(rows.map((r) => r.type).sort());
  });

  it('begin/end is an inclusive UTC day range; begin alone keeps balance_after', async () => {
    const lastFour = await walk(account.token, {
      begin: day(now - 3 * DAY),
      end: day(now - 1 * DAY),
      limit: '1',
    });
    expect(lastFour.rows.map((r) => r.reason)).toEqual(['fix 1', 'goodwill 1', 'fix 3', 'goodwill 3']);
    expect(lastFour.rows.every((r) => r.created_at.slice(0, 10) >= day(now - 3 * DAY))).toBe(true);

    const sinceToday = await walk(account.token, { begin: today, limit: '4' });
    expect(sinceToday.rows).toHaveLength(8); // the funding grant and the 7 charges
    const credits = await call('GET', '/v1/credits', { token: account.token });
    expect(sinceToday.rows[0]!.balance_after).toBe(credits.body.balance);
    for (let i = 1; i < sinceToday.rows.length; i++) {
      expect(sinceToday.rows[i]!.balance_after).toBeCloseTo(
        sinceToday.rows[i - 1]!.balance_after! - sinceToday.rows[i - 1]!.amount,
        6,
      );
    }
    const oneDay = await walk(account.token, { begin: day(now - 10 * DAY), end: day(now - 10 * DAY) });
    expect(oneDay.rows.map((r) => r.reason)).toEqual(['fix 10', 'goodwill 10']);
  });

  it('a filter that matches little still pages to the end (short pages, next_cursor continues)', async () => {
    const { rows, sizes } = await walk(account.token, { type: 'grant', limit: '2' });
    expect(rows).toHaveLength(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(4);
    const none = await walk(account.token, { type: 'refund' });
    expect(none.rows).toEqual([]);
  });

  it('a filtered page reads on past non-matching entries: the first page already holds the match', async () => {
    // The newest correction lies behind today's grant and 7 charges: a single read of limit + 1 would miss it.
    const first = await call('GET', '/v1/transactions', {
      token: account.token,
      query: { type: 'correction', limit: '1' },
    });
    expect(first.status).toBe(200);
    expect(first.body.data.map((r: Row) => r.reason)).toEqual(['fix 1']);
    expect(first.body.next_cursor).toEqual(expect.any(String));
  });

  it('unfiltered paging still sums to the balance', async () => {
    const { rows } = await walk(account.token, { limit: '4' });
    expect(rows).toHaveLength((await ledgerEntries(account.accountId)).length);
    expect(rows.at(-1)!.balance_after).toBe(rows.at(-1)!.amount);
  });

  it('a cursor made for one filter is refused with another (400 naming cursor)', async () => {
    const first = await call('GET', '/v1/transactions', {
      token: account.token,
      query: { type: 'usage', limit: '1' },
    });
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const other = await call('GET', '/v1/transactions', {
      token: account.token,
      query: { limit: '1', cursor: first.body.next_cursor },
    });
    expectContractError(other, 400, 'invalid_request', { details: true, field: 'cursor' });
  });

  it.each([
    [{ type: 'usage,nope' }, 'type'],
    [{ exclude_type: '' }, 'exclude_type'],
    [{ feature: 'a b' }, 'feature'],
    [{ begin: '2026-02-30' }, 'begin'],
    [{ end: 'yesterday' }, 'end'],
    [{ begin: '2026-03-02', end: '2026-03-01' }, 'begin'],
  ])('%j → 400 naming %s', async (query, field) => {
    const response = await call('GET', '/v1/transactions', { token: account.token, query });
    expectContractError(response, 400, 'invalid_request', { details: true, field });
  });
});

describe('filters on a sharded account (ledger slots merged)', () => {
  it('type=usage&feature=echo over 33 partitions: every echo charge once, none of the others', async () => {
    const sharded = await fundedAccount(5, 'Sharded filters');
    const shards = await call('PUT', `/admin/accounts/${sharded.accountId}/balance-shards`, {
      body: { count: 4 },
    });
    expect(shards.status).toBe(200);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call('POST', i % 3 ? '/v1/demo/echo' : '/v1/demo/words', {
          token: sharded.token,
          body: { text: `x ${i}` },
        }),
      ),
    );
    const expected = (await ledgerEntries(sharded.accountId))
      .filter((e) => e.type === 'usage' && e.feature === 'echo')
      .map((e) => e.entry_id)
      .reverse();
    expect(expected).toHaveLength(8);
    const { rows } = await walk(sharded.token, { type: 'usage', feature: 'echo', limit: '3', begin: today });
    expect(rows.map((r) => r.id)).toEqual(expected);
    const all = await walk(sharded.token, { limit: '5' });
    expect(all.rows.map((r) => r.id)).toEqual(
      (await ledgerEntries(sharded.accountId)).map((e) => e.entry_id).reverse(),
    );
    expect(all.rows[0]!.balance_after).toBe(
      (await call('GET', '/v1/credits', { token: sharded.token })).body.balance,
    );
  });
});

describe('a purchase reads as how it was paid', () => {
  let payments: Payments;
  beforeAll(async () => {
    payments = await startPayments();
  });
  afterAll(async () => {
    await payments?.stop();
  });

  it('a $10 Visa purchase: payment_method "Visa •••• 4242" and its receipt_url, type=purchase', async () => {
    const { token } = await fundedAccount(0, 'Buyer');
    const created = await call('POST', '/v1/billing/checkout', { token, body: { amount: 10 } });
    expect(created.status).toBe(201);
    const sessionId = (created.body.checkout_url as string).split('/').pop()!;
    payments.emulator.control.completeCheckout(sessionId, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await payments.emulator.control.idle();
    const { rows } = await walk(token, { type: 'purchase,auto_refill' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'purchase', amount: 10, payment_method: 'Visa •••• 4242' });
    expect(rows[0]!.receipt_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/receipts\/ch_/);
  });
});
