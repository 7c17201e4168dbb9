// The public price list's wire form: fixed prices as money amounts, unit prices as their exact decimal.
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '#shared/metering/catalog.ts';
import { priceListView } from '#shared/metering/prices.ts';
import { unitPriceFromDecimalString, unitPriceToWire } from '#shared/money.ts';

describe('unitPriceToWire', () => {
  it.each([
    ['0.0001', '0.0001'],
    ['0.00002', '0.00002'],
    ['0.000000015', '0.000000015'],
    ['0.000000001', '0.000000001'],
    ['3', '3'],
    ['3.500', '3.5'],
    ['0', '0'],
    ['123456789.123456789', '123456789.123456789'],
  ])('writes the catalog decimal %s as the JSON number %s', (catalog, text) => {
    expect(JSON.stringify({ unit_price: unitPriceToWire(unitPriceFromDecimalString(catalog)) })).toBe(
      `{"unit_price":${text}}`,
    );
  });

  it('is a JSON number that parses to the decimal', () => {
    const parsed = JSON.parse(JSON.stringify([unitPriceToWire(unitPriceFromDecimalString('0.000000015'))]));
    expect(parsed).toEqual([0.000000015]);
  });
});

describe('priceListView', () => {
  it('lists every catalog feature in catalog order with the fields of its pricing', () => {
    const catalog = parseCatalog({
      features: {
        summarize: { pricing: 'fixed', price: '0.01' },
        tokens: { pricing: 'per_unit', unit: 'token', unit_price: '0.000000015' },
        free: { pricing: 'fixed', price: '0' },
        llm: { pricing: 'dynamic', max_amount: '2.5' },
      },
    });

    const text = JSON.stringify(priceListView([...catalog.values()]));

    expect(text).toBe(
      '{"currency":"USD","data":[' +
        '{"feature":"summarize","pricing":"fixed","price":0.01},' +
        '{"feature":"tokens","pricing":"per_unit","unit":"token","unit_price":0.000000015},' +
        '{"feature":"free","pricing":"fixed","price":0},' +
        '{"feature":"llm","pricing":"dynamic","max_amount":2.5}]}',
    );
  });
});
