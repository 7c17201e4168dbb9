// The public price list (GET /v1/prices): the price catalog as the contract shows it to callers.
import { type RawJsonNumber, toWire, unitPriceToWire } from '../money.ts';
import type { FeaturePrice } from './catalog.ts';

export type PriceListEntry =
  | { feature: string; pricing: 'fixed'; price: number }
  | { feature: string; pricing: 'per_unit'; unit: string; unit_price: RawJsonNumber };

export type PriceList = { currency: 'USD'; data: PriceListEntry[] };

export function priceListView(prices: readonly FeaturePrice[]): PriceList {
  return {
    currency: 'USD',
    data: prices.map(
      (price): PriceListEntry =>
        price.pricing === 'fixed'
          ? { feature: price.feature, pricing: 'fixed', price: toWire(price.price) }
          : {
              feature: price.feature,
              pricing: 'per_unit',
              unit: price.unit,
              unit_price: unitPriceToWire(price.unitPrice),
            },
    ),
  };
}
