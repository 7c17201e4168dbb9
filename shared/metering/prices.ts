// The public price list (GET /v1/prices): the price catalog as the contract shows it to callers.
import * as z from 'zod/mini';
import { usd } from '../http/validation.ts';
import { type RawJsonNumber, toWire, unitPriceToWire } from '../money.ts';
import type { FeaturePrice } from './catalog.ts';

/** Written as its exact decimal (`JSON.rawJSON`), which may have more than six decimal places. */
const unitPrice = z
  .custom<RawJsonNumber>()
  .check(z.meta({ type: 'number', description: 'USD per unit, exact; may have more than 6 decimals' }));

export const priceListSchema = z.object({
  currency: z.literal('USD'),
  data: z.array(
    z.discriminatedUnion('pricing', [
      z.object({ feature: z.string(), pricing: z.literal('fixed'), price: usd }),
      z.object({
        feature: z.string(),
        pricing: z.literal('per_unit'),
        unit: z.string(),
        unit_price: unitPrice,
        max_quantity: z.optional(z.int()),
      }),
      z.object({ feature: z.string(), pricing: z.literal('dynamic'), max_amount: usd }),
    ]),
  ),
});

export type PriceList = z.output<typeof priceListSchema>;
export type PriceListEntry = PriceList['data'][number];

function entryOf(price: FeaturePrice): PriceListEntry {
  switch (price.pricing) {
    case 'fixed':
      return { feature: price.feature, pricing: 'fixed', price: toWire(price.price) };
    case 'per_unit':
      return {
        feature: price.feature,
        pricing: 'per_unit',
        unit: price.unit,
        unit_price: unitPriceToWire(price.unitPrice),
        ...(price.maxQuantity === undefined ? {} : { max_quantity: price.maxQuantity }),
      };
    case 'dynamic':
      return { feature: price.feature, pricing: 'dynamic', max_amount: toWire(price.maxAmount) };
  }
}

export function priceListView(prices: readonly FeaturePrice[]): PriceList {
  return { currency: 'USD', data: prices.map(entryOf) };
}
