// The pure rules: cost to units with the carried remainder (exact over any sequence of hours), and the
// Metering Service's window (MARKETPLACE_WINDOW_HOURS, 6 by default, or 06:00 UTC on the 1st for last
// month's hours).
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MissingConfigurationError } from '#shared/config.ts';
import { hourKey, hoursBetween, sendable, windowClosesAt } from '#shared/marketplace/hours.ts';
import { MAX_QUANTITY, toUnits } from '#shared/marketplace/units.ts';

describe('toUnits', () => {
  it.each([
    [0, 0, 1000, 0, 0],
    [999, 0, 1000, 0, 999],
    [999, 1, 1000, 1, 0],
    [20_000, 0, 1000, 20, 0],
    [2_600, 600, 1000, 3, 200],
    [1, 0, 1, 1, 0],
  ])('cost %i + carry %i at %i per unit → %i units, carry %i', (cost, carry, price, units, carryOut) => {
    expect(toUnits(cost, carry, price)).toEqual({ units, carryOut });
  });

  it('refuses what is not an integer amount, or a price that is not positive', () => {
    expect(() => toUnits(1.5, 0, 1000)).toThrow();
    expect(() => toUnits(1, 0.5, 1000)).toThrow();
    expect(() => toUnits(1, 0, 0)).toThrow();
  });

  it.each([
    [-2_000, 0, 1000, 0, -2_000],
    [-2_000, 500, 1000, 0, -1_500],
    [3_700, -2_000, 1000, 1, 700],
    [0, -1, 1000, 0, -1],
  ])(
    'a credit (late reversal): cost %i + carry %i at %i → %i units, carry %i',
    (cost, carry, price, units, carryOut) => {
      expect(toUnits(cost, carry, price)).toEqual({ units, carryOut });
    },
  );

  it('caps a quantity at what BatchMeterUsage accepts and carries the rest', () => {
    const huge = (MAX_QUANTITY + 10) * 1000;
    expect(toUnits(huge, 0, 1000)).toEqual({ units: MAX_QUANTITY, carryOut: 10_000 });
  });

  it('loses and invents nothing over 1,000 hours: units x price + final carry = total cost', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1000, maxLength: 1000 }),
        fc.integer({ min: 1, max: 10_000 }),
        (costs, price) => {
          let carry = 0;
          let units = 0;
          for (const cost of costs) {
            const step = toUnits(cost, carry, price);
            expect(step.carryOut).toBeLessThan(price);
            units += step.units;
            carry = step.carryOut;
          }
          const total = costs.reduce((a, b) => a + b, 0);
          expect(units * price + carry).toBe(total);
          expect(units).toBe(Math.floor(total / price));
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('hours and the window', () => {
  afterEach(() => {
    delete process.env.MARKETPLACE_WINDOW_HOURS;
  });

  it('refuses a window that is not a whole number of hours from 2 to 24', () => {
    for (const bad of ['1', '25', '6.5', 'six', '0']) {
      process.env.MARKETPLACE_WINDOW_HOURS = bad;
      expect(() => windowClosesAt('2026-12-10T13:00:00Z'), bad).toThrow(MissingConfigurationError);
    }
  });

  it('keys an hour by its start, without milliseconds', () => {
    expect(hourKey(Date.parse('2026-12-01T13:59:59.999Z'))).toBe('2026-12-01T13:00:00Z');
    expect(hoursBetween('2026-12-01T22:00:00Z', '2026-12-02T01:00:00Z')).toEqual([
      '2026-12-01T22:00:00Z',
      '2026-12-01T23:00:00Z',
      '2026-12-02T00:00:00Z',
      '2026-12-02T01:00:00Z',
    ]);
  });

  it('closes an hour 6 hours after it starts by default', () => {
    expect(new Date(windowClosesAt('2026-12-10T13:00:00Z')).toISOString()).toBe('2026-12-10T19:00:00.000Z');
    expect(new Date(windowClosesAt('2026-11-30T23:00:00Z')).toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(sendable('2026-12-10T13:00:00Z', Date.parse('2026-12-10T18:49:59Z'))).toBe(true);
    expect(sendable('2026-12-10T13:00:00Z', Date.parse('2026-12-10T18:50:00Z'))).toBe(false);
  });

  it('closes an hour MARKETPLACE_WINDOW_HOURS after it starts, or at 06:00 UTC on the next 1st', () => {
    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    expect(new Date(windowClosesAt('2026-12-10T13:00:00Z')).toISOString()).toBe('2026-12-11T13:00:00.000Z');
    expect(new Date(windowClosesAt('2026-11-30T23:00:00Z')).toISOString()).toBe('2026-12-01T06:00:00.000Z');
    expect(new Date(windowClosesAt('2026-11-30T05:00:00Z')).toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(new Date(windowClosesAt('2026-12-31T23:00:00Z')).toISOString()).toBe('2027-01-01T06:00:00.000Z');
  });

  it('stops sending an hour ten minutes before its window closes', () => {
    process.env.MARKETPLACE_WINDOW_HOURS = '24';
    expect(sendable('2026-11-30T23:00:00Z', Date.parse('2026-12-01T05:49:59Z'))).toBe(true);
    expect(sendable('2026-11-30T23:00:00Z', Date.parse('2026-12-01T05:50:00Z'))).toBe(false);
    expect(sendable('2026-12-10T13:00:00Z', Date.parse('2026-12-11T12:49:00Z'))).toBe(true);
    expect(sendable('2026-12-10T13:00:00Z', Date.parse('2026-12-11T12:51:00Z'))).toBe(false);
  });
});
