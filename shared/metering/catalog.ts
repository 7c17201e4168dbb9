// The price catalog: data, not code. `price-catalog.json` holds the defaults; an operator can replace the
// whole catalog with the PRICE_CATALOG environment variable (same JSON shape) without a code change.
import * as z from 'zod/mini';
import { optional } from '../config.ts';
// Also sets zod's English messages, so a malformed catalog names its problems readably.
import '../http/validation.ts';
import { fromDecimalString, type Micros, type UnitPrice, unitPriceFromDecimalString } from '../money.ts';
import defaults from './price-catalog.json' with { type: 'json' };

const decimal = z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a decimal string such as "0.002"'));

const featureSchema = z.discriminatedUnion('pricing', [
  z.object({ pricing: z.literal('fixed'), price: decimal }),
  z.object({
    pricing: z.literal('per_unit'),
    unit: z.string(),
    unit_price: decimal,
    // Proxied per-unit features: the most one call may use, held before the upstream is called.
    max_quantity: z.optional(z.int().check(z.positive(), z.lte(1_000_000_000))),
  }),
  // The caller names each charge's amount (e.g. a provider's cost plus margin), never above `max_amount`.
  z.object({ pricing: z.literal('dynamic'), max_amount: decimal }),
]);

const catalogSchema = z.object({
  features: z.record(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/)), featureSchema),
});

export type FeaturePrice =
  | { feature: string; pricing: 'fixed'; price: Micros }
  | { feature: string; pricing: 'per_unit'; unit: string; unitPrice: UnitPrice; maxQuantity?: number }
  | { feature: string; pricing: 'dynamic'; maxAmount: Micros };

export class UnknownFeatureError extends Error {
  override readonly name = 'UnknownFeatureError';
}

function featurePrice(feature: string, spec: z.output<typeof featureSchema>): FeaturePrice {
  switch (spec.pricing) {
    case 'fixed':
      return { feature, pricing: 'fixed', price: fromDecimalString(spec.price) };
    case 'per_unit':
      return {
        feature,
        pricing: 'per_unit',
        unit: spec.unit,
        unitPrice: unitPriceFromDecimalString(spec.unit_price),
        ...(spec.max_quantity === undefined ? {} : { maxQuantity: spec.max_quantity }),
      };
    case 'dynamic':
      return { feature, pricing: 'dynamic', maxAmount: fromDecimalString(spec.max_amount) };
  }
}

export function parseCatalog(raw: unknown): Map<string, FeaturePrice> {
  const parsed = catalogSchema.parse(raw);
  const catalog = new Map<string, FeaturePrice>();
  for (const [feature, spec] of Object.entries(parsed.features)) {
    catalog.set(feature, featurePrice(feature, spec));
  }
  return catalog;
}

let catalog: Map<string, FeaturePrice> | undefined;

function loadedCatalog(): Map<string, FeaturePrice> {
  if (!catalog) {
    const override = optional('PRICE_CATALOG');
    catalog = parseCatalog(override ? JSON.parse(override) : defaults);
  }
  return catalog;
}

export function priceOf(feature: string): FeaturePrice {
  const price = loadedCatalog().get(feature);
  if (!price) throw new UnknownFeatureError(`feature "${feature}" is not in the price catalog`);
  return price;
}

/** Every priced feature, in the catalog's order. */
export function priceList(): FeaturePrice[] {
  return [...loadedCatalog().values()];
}

/** Tests only. */
export function resetCatalog(): void {
  catalog = undefined;
}
