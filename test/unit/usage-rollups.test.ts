// The usage rollup plan: which fixed-size items a batch of ledger entries adds to, in transactions of at
// most 100 items, and which rollups answer a range. Pure: no DynamoDB (the execution is proven in
// test/integration/usage-rollups.test.ts).
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import type { Micros } from '#shared/money.ts';
import { rollupSegments } from '#shared/usage/query.ts';
import {
  accrualOfEntry,
  bucketId,
  nextBucket,
  planRollups,
  type RollupChunk,
  type StreamEntry,
  usageOfEntry,
} from '#shared/usage/rollups.ts';

function usage(id: number, overrides: Partial<LedgerEntry> = {}): StreamEntry {
  return {
    sequence: String(id),
    entry: {
      entry_id: `e${id}`,
      account_id: 'acct_1',
      type: 'usage',
      amount: -2000 as Micros,
      created_at: '2027-03-31T23:59:59.000Z',
      feature: 'echo',
      token_id: 'tok_1',
      ...overrides,
    },
  };
}

describe('usageOfEntry', () => {
  it.each([
    ['a prepaid charge adds its cost and a request', usage(1).entry, { cost: 2000, requests: 1 }],
    [
      'an accrued charge adds its accrued cost',
      usage(1, { amount: 0 as Micros, accrued: 2000 as Micros }).entry,
      { cost: 2000, requests: 1 },
    ],
    [
      'a reversal after midnight takes both back on its charge’s day',
      usage(2, {
        type: 'reversal',
        amount: 2000 as Micros,
        created_at: '2027-04-01T00:00:01.000Z',
        reverses_at: '2027-03-31T23:59:59.000Z',
      }).entry,
      { day: '2027-03-31', cost: -2000, requests: -1 },
    ],
    [
      'an accrued reversal takes back its accrued cost',
      usage(2, { type: 'reversal', amount: 0 as Micros, accrued: -2000 as Micros }).entry,
      { cost: -2000, requests: -1 },
    ],
  ])('%s', (_name, entry, expected) => {
    expect(usageOfEntry(entry)).toMatchObject(expected);
  });

  it('a grant adds no usage', () => {
    expect(
      usageOfEntry(usage(1, { type: 'grant', amount: 5 as Micros, feature: undefined }).entry),
    ).toBeUndefined();
  });
});

/** Every chunk fits one transaction (100 items), and the chunks hold the entries in their order. */
function expectTransactionsOf(chunks: RollupChunk[], entries: StreamEntry[]) {
  for (const chunk of chunks)
    expect(
      chunk.entries.length + chunk.increments.length + chunk.accruals.length + chunk.accounts.size,
    ).toBeLessThanOrEqual(100);
  expect(chunks.flatMap((chunk) => chunk.entries)).toEqual(entries);
}

describe('planRollups', () => {
  it('sums one account’s calls to one feature by one token into 4 updates, one marker per entry and one watermark', () => {
    const [chunk, ...rest] = planRollups([usage(1), usage(2), usage(3)]);

    expect(rest).toEqual([]);
    expect(chunk!.entries).toHaveLength(3);
    expect(chunk!.accounts).toEqual(new Map([['acct_1', { entries: 3, accrued: 0 }]]));
    expect(chunk!.accruals).toEqual([]);
    expect(
      chunk!.increments.map((increment) => [increment.sortKey, increment.cost, increment.requests]),
    ).toEqual([
      ['D#2027-03-31#echo', 6000, 3],
      ['M#2027-03#echo', 6000, 3],
      ['T#tok_1#D#2027-03-31#echo', 6000, 3],
      ['T#tok_1#M#2027-03#echo', 6000, 3],
    ]);
  });

  it('splits consecutive entries so that no transaction has more than 100 items, keeping their order', () => {
    const entries = Array.from({ length: 250 }, (_, i) =>
      usage(i, { token_id: `tok_${i}`, feature: `f${i % 9}` }),
    );

    const chunks = planRollups(entries);

    expectTransactionsOf(chunks, entries);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('an entry without a token adds to the account’s day and month only', () => {
    const [chunk] = planRollups([usage(1, { token_id: undefined })]);
    expect(chunk!.increments.map((increment) => increment.sortKey)).toEqual([
      'D#2027-03-31#echo',
      'M#2027-03#echo',
    ]);
  });
});

/** Postpaid usage as the ledger writes it since the rollups own the period items. */
function postpaid(id: number, overrides: Partial<LedgerEntry> = {}): StreamEntry {
  return usage(id, { amount: 0 as Micros, accrued: 2000 as Micros, billing_mode: 'postpaid', ...overrides });
}

function marketplace(id: number, overrides: Partial<LedgerEntry> = {}): StreamEntry {
  return usage(id, {
    amount: 0 as Micros,
    accrued: 2000 as Micros,
    billing_mode: 'marketplace',
    dimension: 'usage',
    ...overrides,
  });
}

describe('accrualOfEntry', () => {
  it.each([
    [
      'postpaid usage bills its period: cost, quantity and one request on its feature',
      postpaid(1, { quantity: 7 }).entry,
      {
        bucket: { mode: 'postpaid', accountId: 'acct_1', period: '2027-03' },
        cost: 2000,
        quantity: 7,
        requests: 1,
      },
    ],
    [
      'its reversal after the month end takes them back from the charge’s period',
      postpaid(2, {
        type: 'reversal',
        accrued: -2000 as Micros,
        quantity: 7,
        created_at: '2027-04-01T00:00:01.000Z',
        reverses_at: '2027-03-31T23:59:59.000Z',
      }).entry,
      { bucket: { period: '2027-03' }, cost: -2000, quantity: -7, requests: -1 },
    ],
    [
      'marketplace usage bills its hour and dimension',
      marketplace(3).entry,
      {
        bucket: {
          mode: 'marketplace',
          accountId: 'acct_1',
          hour: '2027-03-31T23:00:00Z',
          dimension: 'usage',
        },
        cost: 2000,
        requests: 1,
      },
    ],
  ])('%s', (_name, entry, expected) => {
    expect(accrualOfEntry(entry)).toMatchObject(expected);
  });

  it.each([
    ['prepaid usage', usage(1).entry],
    [
      'accrued usage written before the upgrade (its charge summed it itself)',
      usage(1, { amount: 0 as Micros, accrued: 2000 as Micros }).entry,
    ],
    ['a grant', usage(1, { type: 'grant', amount: 5 as Micros, feature: undefined }).entry],
  ])('%s bills nothing', (_name, entry) => {
    expect(accrualOfEntry(entry)).toBeUndefined();
  });
});

describe('nextBucket', () => {
  it('after December comes January, after 23:00 the next day’s 00:00', () => {
    expect(nextBucket({ mode: 'postpaid', accountId: 'a', period: '2027-12' })).toMatchObject({
      period: '2028-01',
    });
    expect(
      nextBucket({ mode: 'marketplace', accountId: 'a', hour: '2027-12-31T23:00:00Z', dimension: 'usage' }),
    ).toMatchObject({ hour: '2028-01-01T00:00:00Z' });
  });
});

describe('planRollups: periods and hours', () => {
  it('sums a chunk’s entries per period item, per feature line; counts the accrued entries on the watermark', () => {
    const [chunk] = planRollups([
      postpaid(1, { quantity: 3 }),
      postpaid(2, { feature: 'words', accrued: 500 as Micros, quantity: 5 }),
      postpaid(3, { quantity: 2 }),
      usage(4),
    ]);

    expect(chunk!.accruals).toHaveLength(1);
    expect(chunk!.accruals[0]).toMatchObject({ cost: 4500, requests: 3, entries: 3 });
    expect(chunk!.accruals[0]!.features).toEqual(
      new Map([
        ['echo', { cost: 4000, quantity: 5, requests: 2 }],
        ['words', { cost: 500, quantity: 5, requests: 1 }],
      ]),
    );
    expect(chunk!.accounts.get('acct_1')).toEqual({ entries: 4, accrued: 3 });
  });

  it('an entry whose period or hour is known claimed goes to the next open one (counted as redirected)', () => {
    const closed = new Set([
      'acct_1 PERIOD#2027-03',
      'acct_1 MKT_HOUR#2027-03-31T23:00:00Z#usage',
      'acct_1 MKT_HOUR#2027-04-01T00:00:00Z#usage',
    ]);

    const [chunk] = planRollups(
      [postpaid(1), postpaid(2, { created_at: '2027-04-02T08:00:00.000Z' }), marketplace(3)],
      100,
      closed,
    );

    expect(
      chunk!.accruals.map((accrual) => [bucketId(accrual.bucket), accrual.cost, accrual.entries]),
    ).toEqual([
      ['acct_1 PERIOD#2027-04', 4000, 2],
      ['acct_1 MKT_HOUR#2027-04-01T01:00:00Z#usage', 2000, 1],
    ]);
    expect(chunk!.redirected).toBe(2);
  });

  it('counts period and hour items in the 100-item limit', () => {
    const entries = Array.from({ length: 120 }, (_, i) =>
      marketplace(i, {
        account_id: `acct_${i % 40}`,
        token_id: undefined,
        created_at: `2027-03-31T${String(i % 24).padStart(2, '0')}:00:00.000Z`,
      }),
    );

    const chunks = planRollups(entries);

    expectTransactionsOf(chunks, entries);
  });
});

describe('rollupSegments', () => {
  it.each([
    ['day step: day items', '2026-01-10', '2026-03-05', 'day', [['day', '2026-01-10', '2026-03-05']]],
    ['week step: day items', '2026-01-10', '2026-03-05', 'week', [['day', '2026-01-10', '2026-03-05']]],
    [
      'month step, partial ends: day items at both ends, months between',
      '2017-01-10',
      '2026-12-20',
      'month',
      [
        ['day', '2017-01-10', '2017-01-31'],
        ['month', '2017-02', '2026-11'],
        ['day', '2026-12-01', '2026-12-20'],
      ],
    ],
    [
      'year step, whole months (leap February)',
      '2024-01-01',
      '2024-02-29',
      'year',
      [['month', '2024-01', '2024-02']],
    ],
    [
      'within one month: day items',
      '2026-03-05',
      '2026-03-20',
      'month',
      [['day', '2026-03-05', '2026-03-20']],
    ],
    [
      'two partial months: day items',
      '2026-03-05',
      '2026-04-20',
      'month',
      [['day', '2026-03-05', '2026-04-20']],
    ],
  ])('%s', (_name, begin, end, step, expected) => {
    expect(
      rollupSegments(begin, end, step as 'day').map((segment) => [segment.grain, segment.from, segment.to]),
    ).toEqual(expected);
  });
});
