import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  costOf,
  fromDecimalString,
  fromWire,
  InvalidMoneyError,
  MAX_USD,
  micros,
  toDecimalString,
  toWire,
  unitPriceFromDecimalString,
} from '#shared/money.ts';

describe('fromWire', () => {
  it.each([
    [0.002, 2_000],
    [25, 25_000_000],
    [0.000001, 1],
    [1e-6, 1],
    [123456.789012, 123_456_789_012],
    [-1.5, -1_500_000],
    [0.3, 300_000],
    [MAX_USD, MAX_USD * 1_000_000],
  ])('reads %s exactly as %s micros', (wire, expected) => {
    expect(fromWire(wire)).toBe(expected);
  });

  it.each([
    ['seven decimals', 0.0000001],
    ['seven decimals, plain', 1.0000001],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['huge', 1e300],
    ['above the maximum', MAX_USD + 1],
    ['a string', '5'],
    ['null', null],
    ['a boolean', true],
  ])('refuses %s', (_name, wire) => {
    expect(() => fromWire(wire)).toThrow(InvalidMoneyError);
  });

  it('round-trips every micro amount through the wire form', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(10 ** 15), max: 10 ** 15 }), (value) => {
        const amount = micros(value);
        const wire = JSON.parse(JSON.stringify(toWire(amount)));
        expect(fromWire(wire)).toBe(value);
      }),
    );
  });
});

describe('decimal strings', () => {
  it.each([
    ['0.002', 2_000],
    ['10', 10_000_000],
    ['-3.000001', -3_000_001],
  ])('parses %s', (text, expected) => {
    expect(fromDecimalString(text)).toBe(expected);
  });

  it('formats with six places, exactly', () => {
    expect(toDecimalString(micros(1_500))).toBe('0.001500');
    expect(toDecimalString(micros(-25_000_001))).toBe('-25.000001');
  });

  it('refuses malformed text', () => {
    for (const text of ['1e3', '0.0000001', '', '1.', 'abc']) {
      expect(() => fromDecimalString(text)).toThrow(InvalidMoneyError);
    }
  });
});

describe('the rounding rule: cost = quantity x unit price, half-up to the micro-dollar, once', () => {
  it.each([
    ['0.0001', 7, 700],
    ['0.002', 1, 2_000],
    ['0.0000005', 1, 1], // 0.5 micro rounds up
    ['0.0000004', 1, 0],
    ['0.0000005', 3, 2], // 1.5 micros rounds up once, not per unit (3 would be per-unit rounding)
    ['0.000000001', 1_000_000, 1_000],
  ])('price %s x %s = %s micros', (price, quantity, expected) => {
    expect(costOf(quantity, unitPriceFromDecimalString(price))).toBe(expected);
  });

  it('refuses fractional and negative quantities and prices', () => {
    expect(() => costOf(1.5, unitPriceFromDecimalString('0.1'))).toThrow(InvalidMoneyError);
    expect(() => costOf(-1, unitPriceFromDecimalString('0.1'))).toThrow(InvalidMoneyError);
    expect(() => unitPriceFromDecimalString('-0.1')).toThrow(InvalidMoneyError);
    expect(() => unitPriceFromDecimalString('0.0000000001')).toThrow(InvalidMoneyError);
  });
});
