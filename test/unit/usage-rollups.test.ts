// The usage rollup plan: which fixed-size items a batch of ledger entries adds to, in transactions of at
// most 100 items, and which rollups answer a range. Pure: no DynamoDB (the execution is proven in
// test/integration/usage-rollups.test.ts).
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import type { Micros } from '#shared/money.ts';
import { rollupSegments } from '#shared/usage/query.ts';
import { planRollups, type StreamEntry, usageOfEntry } from '#shared/usage/rollups.ts';

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

describe('planRollups', () => {
  it('sums one account’s calls to one feature by one token into 4 updates, one marker per entry and one watermark', () => {
    const [chunk, ...rest] = planRollups([usage(1), usage(2), usage(3)]);

    expect(rest).toEqual([]);
    expect(chunk!.entries).toHaveLength(3);
    expect(chunk!.accounts).toEqual(new Map([['acct_1', 3]]));
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

    for (const chunk of chunks)
      expect(chunk.entries.length + chunk.increments.length + chunk.accounts.size).toBeLessThanOrEqual(100);
    expect(chunks.flatMap((chunk) => chunk.entries)).toEqual(entries);
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
