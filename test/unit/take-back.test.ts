// The take-back plan: what a refund or dispute may take from a payment, given what it credited and what
// was already taken back. Table-driven, plus the invariant over any sequence of requests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Micros, micros } from '#shared/money.ts';
import { planTakeBack } from '#shared/payments/take-back.ts';

const usd = (amount: number) => micros(amount * 1_000_000);

describe('planTakeBack', () => {
  it.each([
    ['a full refund of a $20 payment', 20, 20, 0, 20, false],
    ['a $15 refund of a $20 payment', 15, 20, 0, 15, false],
    ['a $20 dispute after a $15 refund of $20', 20, 20, 15, 5, true],
    ['a dispute 100,000× the $5 payment', 500_000, 5, 0, 5, true],
    ['anything once $20 of $20 is back', 1, 20, 20, 0, true],
  ])('%s: takes the right amount', (_name, requested, credited, taken, take, capped) => {
    expect(planTakeBack({ requested: usd(requested), credited: usd(credited), taken: usd(taken) })).toEqual({
      take: usd(take),
      capped,
    });
  });

  it('never takes back more than was credited, whatever the requests', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000_000 }),
        fc.array(fc.integer({ min: 1, max: 100_000_000_000_000 }), { maxLength: 20 }),
        (credited, requests) => {
          let taken = 0 as Micros;
          for (const requested of requests) {
            const plan = planTakeBack({
              requested: requested as Micros,
              credited: credited as Micros,
              taken,
            });
            expect(plan.take).toBeGreaterThanOrEqual(0);
            expect(plan.take).toBeLessThanOrEqual(requested);
            taken = (taken + plan.take) as Micros;
          }
          expect(taken).toBeLessThanOrEqual(credited);
          expect(taken).toBe(
            Math.min(
              credited,
              requests.reduce((a, b) => a + b, 0),
            ),
          );
        },
      ),
    );
  });
});
