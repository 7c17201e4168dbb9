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

  it('refuses a negative amount', () => {
    expect(() => splitCents(micros(-1))).toThrow();
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
