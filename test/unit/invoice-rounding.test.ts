// Invoice rounding (shared/money.ts): round down to cents once, carry the rest; line cents by largest
// remainder always add up to the invoice total.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateCents, type Micros, micros, splitCents } from '#shared/money.ts';

const m = (values: number[]) => values.map((value) => micros(value));

describe('splitCents', () => {
  it.each([
    [0, 0, 0],
    [9_999, 0, 9_999],
    [10_000, 1, 0],
    [26_300, 2, 6_300],
    [123_456_789, 12_345, 6_789],
  ])('%i micros → %i cents + %i carried', (amount, cents, remainder) => {
    expect(splitCents(micros(amount))).toEqual({ cents, remainder });
  });

  it('invoices nothing of a credit (below zero) and carries it whole', () => {
    expect(splitCents(micros(-1))).toEqual({ cents: 0, remainder: -1 });
    expect(splitCents(micros(-25_000))).toEqual({ cents: 0, remainder: -25_000 });
  });
});

describe('allocateCents', () => {
  it.each([
    [2, [14_000, 12_300], [1, 1]],
    [3, [14_000, 12_300], [2, 1]],
    [3, [15_000, 15_000], [2, 1]],
    [1, [3_000, 3_000, 3_000], [1, 0, 0]],
    [0, [0], [0]],
  ])('%i cents over %j → %j', (total, parts, expected) => {
    expect(allocateCents(total, m(parts))).toEqual(expected);
  });

  it.each([
    ['a negative line (a late reversal)', 2, [25_000, -5_000], [3, -1]],
    ['a credit carried in: cents taken from the smallest remainders', 1, [15_000, 12_000], [1, 0]],
    ['a credit larger than a line', 1, [30_000, 1_000], [1, 0]],
    ['a credit of several cents', 3, [42_000, 26_000], [2, 1]],
  ])('%s: %i cents over %j → %j', (_name, total, parts, expected) => {
    expect(allocateCents(total, m(parts))).toEqual(expected);
  });

  it('refuses cents over no parts', () => {
    expect(() => allocateCents(1, [])).toThrow();
    expect(allocateCents(0, [])).toEqual([]);
  });

  it('with credits (negative parts or carry) still sums to the rounded total', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50_000_000, max: 5_000_000_000 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: -90_000_000, max: 9_999 }),
        (parts, carry) => {
          const exact = parts.reduce((a, b) => a + b, 0) + carry;
          const { cents, remainder } = splitCents(micros(exact));
          const lines = allocateCents(cents, m(parts) as Micros[]);
          expect(lines.reduce((a, b) => a + b, 0)).toBe(cents);
          expect(cents * 10_000 + remainder).toBe(exact);
        },
      ),
    );
  });

  it('always sums to the rounded total of the parts plus any carry, each line within a cent of its exact share', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000_000 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 9_999 }),
        (parts, carry) => {
          const exact = parts.reduce((a, b) => a + b, 0) + carry;
          const { cents } = splitCents(micros(exact));
          const lines = allocateCents(cents, m(parts) as Micros[]);
          expect(lines.reduce((a, b) => a + b, 0)).toBe(cents);
          lines.forEach((line, i) => {
            expect(line * 10_000).toBeGreaterThan(parts[i]! - 10_000);
            expect(line * 10_000).toBeLessThan(parts[i]! + 20_000);
          });
        },
      ),
    );
  });
});
