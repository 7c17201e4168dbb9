// A token's spend limit, the pure part: which period a time counts in, what each write asks of the limit
// item, and what its failed condition means. The writes are proven racing against DynamoDB Local in
// test/integration/token-limits.test.ts.
import { describe, expect, it } from 'vitest';
import type { Micros } from '#shared/money.ts';
import {
  type LimitReset,
  limitCharge,
  limitPeriodStart,
  limitRefusal,
  limitReserve,
  limitTerms,
  newLimitItem,
} from '#shared/tokens/spend-limit.ts';

describe('limitPeriodStart', () => {
  it.each<[LimitReset, string, string]>([
    ['daily', '2027-03-31T23:59:59.999Z', '2027-03-31'],
    ['daily', '2027-04-01T00:00:00.000Z', '2027-04-01'],
    ['monthly', '2027-03-31T23:59:59.999Z', '2027-03-01'],
    ['monthly', '2028-02-29T12:00:00.000Z', '2028-02-01'],
    // 2027-03-29 is a Monday: a Monday starts its own week, a Sunday belongs to the week before.
    ['weekly', '2027-03-29T00:00:00.000Z', '2027-03-29'],
    ['weekly', '2027-04-04T23:59:59.999Z', '2027-03-29'],
    ['weekly', '2027-04-05T00:00:00.000Z', '2027-04-05'],
    // Across a year end: Friday 2027-01-01 is in the week of Monday 2026-12-28.
    ['weekly', '2027-01-01T10:00:00.000Z', '2026-12-28'],
    ['never', '2027-03-31T10:00:00.000Z', '0000-01-01'],
    ['never', '2099-12-31T10:00:00.000Z', '0000-01-01'],
  ])('%s at %s → %s', (reset, at, start) => {
    expect(limitPeriodStart(reset, at)).toBe(start);
  });

  it('periods of one reset sort like their times', () => {
    const times = ['2027-01-01T00:00:00.000Z', '2027-01-04T00:00:00.000Z', '2027-02-15T00:00:00.000Z'];
    for (const reset of ['daily', 'weekly', 'monthly'] as const) {
      const starts = times.map((at) => limitPeriodStart(reset, at));
      expect([...starts].sort()).toEqual(starts);
    }
  });
});

describe('what each write asks of the limit item', () => {
  const same = { tokenId: 'tok_1', periodStart: '2027-03-01', rollover: false };
  const opening = { ...same, rollover: true };
  const update = (item: ReturnType<typeof limitCharge>) => item.Update!;

  it('a charge in the period fits in the headroom; opening a period fits in the limit itself', () => {
    expect(update(limitCharge('a', same, 500 as Micros)).ConditionExpression).toBe(
      'period_start = :p AND headroom >= :extra',
    );
    const open = update(limitCharge('a', opening, 500 as Micros));
    expect(open.ConditionExpression).toBe('period_start < :p AND amount >= :cost');
    expect(open.UpdateExpression).toContain('spent = :cost');
  });

  it('a settle within its hold needs no room; above it, only the difference must fit', () => {
    const within = update(limitCharge('a', same, 300 as Micros, 500, true));
    expect(within.ConditionExpression).toBe('period_start = :p');
    expect(within.ExpressionAttributeValues![':extra']).toBe(-200);
    const above = update(limitCharge('a', same, 800 as Micros, 500, true));
    expect(above.ConditionExpression).toBe('period_start = :p AND headroom >= :extra');
    expect(above.ExpressionAttributeValues![':extra']).toBe(300);
  });

  it('a hold reserves its estimate (committed, not spent)', () => {
    const hold = update(limitReserve('a', same, 500 as Micros));
    expect(hold.UpdateExpression).toBe('SET committed = committed + :est, headroom = headroom - :est');
  });

  it('a new limit starts its period now with its whole amount as headroom', () => {
    expect(
      newLimitItem('a', 'tok_1', 5_000_000 as Micros, 'weekly', '2027-04-04T10:00:00.000Z'),
    ).toMatchObject({
      period_start: '2027-03-29',
      spent: 0,
      committed: 0,
      headroom: 5_000_000,
    });
  });
});

describe('limitRefusal: what a failed limit condition means', () => {
  const same = { tokenId: 'tok_1', periodStart: '2027-03-02', rollover: false };
  const opening = { ...same, rollover: true };
  it.each([
    { terms: same, old: { period_start: '2027-03-02' }, expected: { status: 'token_limit' } },
    {
      terms: same,
      old: { period_start: '2027-03-01' },
      expected: { status: 'limit_period', held: '2027-03-01' },
    },
    {
      terms: same,
      old: { period_start: '2027-03-03' },
      expected: { status: 'limit_period', held: '2027-03-03' },
    },
    { terms: opening, old: { period_start: '2027-03-01' }, expected: { status: 'token_limit' } },
    {
      terms: opening,
      old: { period_start: '2027-03-02' },
      expected: { status: 'limit_period', held: '2027-03-02' },
    },
    { terms: same, old: undefined, expected: { status: 'limit_removed' } },
  ])(
    'rollover $terms.rollover, item holds $old.period_start → $expected.status',
    ({ terms, old, expected }) => {
      expect(limitRefusal(terms, old)).toEqual(expected);
    },
  );
});

describe('limitTerms: the terms a charge is made on, from the period last seen', () => {
  const at = '2027-03-02T10:00:00.000Z';
  it.each([
    [undefined, { periodStart: '2027-03-02', rollover: false }],
    ['2027-03-02', { periodStart: '2027-03-02', rollover: false }],
    ['2027-03-01', { periodStart: '2027-03-02', rollover: true }],
    // The item was opened by a clock ahead of this one: the charge counts where the item is.
    ['2027-03-03', { periodStart: '2027-03-03', rollover: false }],
  ])('seen %s → %j', (held, expected) => {
    expect(limitTerms('tok_1', 'daily', at, held)).toEqual({ tokenId: 'tok_1', reset: 'daily', ...expected });
  });

  it('the retry after a refusal that named an older period opens the new one', () => {
    const first = limitTerms('tok_1', 'daily', at);
    const refusal = limitRefusal(first, { period_start: '2027-03-01' });
    expect(refusal).toEqual({ status: 'limit_period', held: '2027-03-01' });
    const retry = limitTerms('tok_1', 'daily', at, '2027-03-01');
    expect(retry.rollover).toBe(true);
    // Had the item been full in the old period, the new one starts from zero: only the limit decides.
    expect(limitCharge('a', retry, 500 as Micros).Update!.ConditionExpression).toBe(
      'period_start < :p AND amount >= :cost',
    );
  });
});
