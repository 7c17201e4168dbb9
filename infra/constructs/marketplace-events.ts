// AWS Marketplace's subscription events for this product: the detail-types the lifecycle function acts on,
// and the pattern that keeps the seller's other products out. AWS sends them only to the default bus in
// us-east-1; a stack elsewhere gets them forwarded (marketplace-forwarder-stack.ts) with this same pattern.
import type { EventPattern } from 'aws-cdk-lib/aws-events';

export const MARKETPLACE_EVENT_SOURCE = 'aws.agreement-marketplace';

/**
 * What shared/marketplace/lifecycle.ts turns into a subscription state. A seller who is both manufacturer and
 * proposer of an offer gets only the Proposer agreement events, a channel partner's offers only the
 * Manufacturer ones: both are matched. Licence events go to the manufacturer only.
 */
export const LIFECYCLE_DETAIL_TYPES = [
  'Purchase Agreement Created - Proposer',
  'Purchase Agreement Created - Manufacturer',
  'Purchase Agreement Amended - Proposer',
  'Purchase Agreement Amended - Manufacturer',
  'Purchase Agreement Ended - Proposer',
  'Purchase Agreement Ended - Manufacturer',
  'License Updated - Manufacturer',
  'License Deprovisioned - Manufacturer',
] as const;

/** The product whose events change accounts here; unset fields are not filtered on. */
export type MarketplaceProduct = {
  /** `detail.product.id` (`prod-…`): in the licence events and in agreement events that name a product. */
  productId?: string;
  /** `detail.product.code`: in the licence events only. */
  productCode?: string;
};

/**
 * source + detail-type, and this product. AWS leaves `product` out of some agreement events (an agreement
 * that ends names only the agreement, buyer and offer), so an event is kept when it names this product or
 * names none; the lifecycle then matches it to a buyer by AWS account and licence. The id is preferred: it
 * is in every event that names a product, the code only in the licence events.
 */
export function lifecycleEventPattern(product: MarketplaceProduct): EventPattern {
  const base = { source: [MARKETPLACE_EVENT_SOURCE], detailType: [...LIFECYCLE_DETAIL_TYPES] };
  const [field, value] = product.productId
    ? ['id', product.productId]
    : product.productCode
      ? ['code', product.productCode]
      : [];
  if (!field) return base;
  return {
    ...base,
    detail: {
      $or: [{ product: { [field]: [value] } }, { product: { [field]: [{ exists: false }] } }],
    },
  };
}

/** The only region AWS Marketplace delivers agreement and licence events in (to its default bus). */
export const MARKETPLACE_EVENTS_REGION = 'us-east-1';
