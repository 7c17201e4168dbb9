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
  it.each([
    { terms: same, old: { period_start: '2027-03-02' }, expected: { status: 'token_limit' } },
    {
      terms: same,
      old: { period_start: '2027-03-01' },
      expected: { status: 'limit_period', periodStart: '2027-03-02', rollover: true },
    },
    {
      terms: same,
      old: { period_start: '2027-03-03' },
      expected: { status: 'limit_period', periodStart: '2027-03-03', rollover: false },
    },
    {
      terms: { ...same, rollover: true },
      old: { period_start: '2027-03-01' },
      expected: { status: 'token_limit' },
    },
    {
      terms: { ...same, rollover: true },
      old: { period_start: '2027-03-02' },
      expected: { status: 'limit_period', periodStart: '2027-03-02', rollover: false },
    },
    { terms: same, old: undefined, expected: { status: 'limit_removed' } },
  ])('$terms.rollover, item holds $old.period_start → $expected.status', ({ terms, old, expected }) => {
    expect(limitRefusal(terms, old)).toEqual(expected);
  });
});
