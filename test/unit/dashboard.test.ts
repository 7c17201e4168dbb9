// The dashboard's pure rules, without a browser: reading typed amounts, showing money and prices, writing CSV.
import { describe, expect, it } from 'vitest';
import { toCsv } from '../../dashboard/src/csv.ts';
import { money, price, priceLine, readAmount } from '../../dashboard/src/format.ts';

describe('readAmount (custom purchase amount, 5..10000, at most two decimals)', () => {
  it.each([
    ['25', 25],
    [' 12.5 ', 12.5],
    ['$40', 40],
    ['5', 5],
    ['10000', 10_000],
    ['9999.99', 9999.99],
  ])('accepts %j as %d', (typed, value) => {
    expect(readAmount(typed, 5, 10_000)).toEqual({ ok: true, value });
  });

  it.each([
    ['', 'Enter an amount.'],
    ['4.99', 'Enter an amount from $5.00 to $10,000.00.'],
    ['10000.01', 'Enter an amount from $5.00 to $10,000.00.'],
    ['12.345', 'Enter dollars with at most two decimals, like 25 or 12.50.'],
    ['1e3', 'Enter dollars with at most two decimals, like 25 or 12.50.'],
    ['-10', 'Enter dollars with at most two decimals, like 25 or 12.50.'],
    ['10,5', 'Enter dollars with at most two decimals, like 25 or 12.50.'],
    ['.5', 'Enter dollars with at most two decimals, like 25 or 12.50.'],
  ])('refuses %j: %s', (typed, problem) => {
    expect(readAmount(typed, 5, 10_000)).toEqual({ ok: false, problem });
  });
});

describe('money', () => {
  it.each([
    [25, '$25.00'],
    [0, '$0.00'],
    [0.002, '$0.002'],
    [34.9894, '$34.9894'],
    [-0.0001, '-$0.0001'],
    [10_000, '$10,000.00'],
  ])('shows %d as %s, every digit the API sent', (amount, shown) => {
    expect(money(amount)).toBe(shown);
  });
});

describe('price', () => {
  it.each([
    [0.002, '$0.002'],
    [0.00002, '$0.00002'],
    [0.0000001, '$0.0000001'],
    [1.5e-7, '$0.00000015'],
    [0.1234567, '$0.1234567'],
    [25, '$25.00'],
    [0.5, '$0.50'],
    [1234.5, '$1,234.50'],
  ])('shows %d as %s: every digit of the catalog, never rounded to the micro-dollar', (amount, shown) => {
    expect(price(amount)).toBe(shown);
  });
});

describe('priceLine', () => {
  it.each([
    [
      { feature: 'echo', pricing: 'fixed', price: 0.002 },
      { pricing: 'Per call', price: '$0.002 per call', limit: '—' },
    ],
    [
      {
        feature: 'sample_complete',
        pricing: 'per_unit',
        unit: 'token',
        unit_price: 0.00002,
        max_quantity: 8192,
      },
      { pricing: 'Per unit', price: '$0.00002 per token', limit: 'Up to 8,192 tokens' },
    ],
    [
      { feature: 'one', pricing: 'per_unit', unit: 'page', unit_price: 0.01, max_quantity: 1 },
      { pricing: 'Per unit', price: '$0.01 per page', limit: 'Up to 1 page' },
    ],
    [
      { feature: 'words', pricing: 'per_unit', unit: 'word', unit_price: 0.0001 },
      { pricing: 'Per unit', price: '$0.0001 per word', limit: 'No limit' },
    ],
    [
      { feature: 'completion', pricing: 'dynamic', max_amount: 0.5 },
      { pricing: 'Dynamic', price: 'Priced per call', limit: 'Up to $0.50' },
    ],
  ] as const)('%o reads %o', (entry, line) => {
    expect(priceLine(entry)).toEqual(line);
  });
});

describe('toCsv', () => {
  const columns = ['id', 'amount', 'reference'] as const;

  it('writes a header and CRLF lines, numbers exactly and missing values empty', () => {
    expect(
      toCsv(columns, [
        { id: 'a', amount: -0.002 },
        { id: 'b', amount: 25, reference: null },
      ]),
    ).toBe('id,amount,reference\r\na,-0.002,\r\nb,25,\r\n');
  });

  it('quotes commas, quotes and line breaks, and defuses formulas', () => {
    expect(toCsv(columns, [{ id: 'x', amount: 1, reference: 'Refund, "partial"\nsecond line' }])).toBe(
      'id,amount,reference\r\nx,1,"Refund, ""partial""\nsecond line"\r\n',
    );
    expect(toCsv(columns, [{ id: '=HYPERLINK("x")', amount: -5, reference: '@SUM(A1)' }])).toBe(
      `id,amount,reference\r\n"'=HYPERLINK(""x"")",-5,'@SUM(A1)\r\n`,
    );
  });
});
