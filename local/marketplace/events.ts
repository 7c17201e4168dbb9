// Subscription lifecycle events shaped like the EventBridge events AWS Marketplace puts on the seller's
// default bus (source `aws.agreement-marketplace`). A cancelled SaaS subscription produces, as for a seller
// who is both manufacturer and proposer of the offer: `Purchase Agreement Ended - Proposer`,
// `Purchase Agreement Ended - Manufacturer` and `License Deprovisioned - Manufacturer`. Receivers must
// treat them as at-least-once and unordered (the same cancellation arrives three times).

import { productId, requestId, SELLER_ACCOUNT_ID } from './ids.ts';
import type { Customer } from './store.ts';

export type LifecycleEvent = {
  version: '0';
  id: string;
  source: 'aws.agreement-marketplace';
  'detail-type': string;
  account: string;
  time: string;
  region: 'us-east-1';
  resources: string[];
  detail: Record<string, unknown>;
};

/** Seconds-precision ISO time, as EventBridge writes it. */
const eventTime = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function envelope(detailType: string, atMs: number, resources: string[], detail: Record<string, unknown>) {
  return {
    version: '0',
    id: requestId(),
    source: 'aws.agreement-marketplace',
    'detail-type': detailType,
    account: SELLER_ACCOUNT_ID,
    time: eventTime(atMs),
    region: 'us-east-1',
    resources,
    detail,
  } satisfies LifecycleEvent;
}

export function cancellationEvents(customer: Customer, endedAtMs: number): LifecycleEvent[] {
  const agreementArn = `arn:aws:aws-marketplace::${SELLER_ACCOUNT_ID}:AWSMarketplace/Agreement/${customer.agreementId}`;
  const product = { id: productId(customer.productCode), code: customer.productCode };
  const agreement = {
    id: customer.agreementId,
    status: 'CANCELLED',
    startTime: new Date(customer.subscribedAtMs).toISOString(),
    endTime: new Date(endedAtMs).toISOString(),
  };
  const common = {
    catalog: 'AWSMarketplace',
    agreement,
    acceptor: { accountId: customer.awsAccountId },
    proposer: { accountId: SELLER_ACCOUNT_ID },
    offer: { id: customer.offerId },
    product,
    licenseArn: customer.licenseArn,
    customerIdentifier: customer.customerIdentifier,
  };
  return [
    envelope('Purchase Agreement Ended - Proposer', endedAtMs, [agreementArn], {
      requestId: requestId(),
      ...common,
    }),
    envelope('Purchase Agreement Ended - Manufacturer', endedAtMs, [agreementArn], {
      requestId: requestId(),
      ...common,
    }),
    envelope('License Deprovisioned - Manufacturer', endedAtMs, [customer.licenseArn], {
      requestId: requestId(),
      catalog: 'AWSMarketplace',
      license: { arn: customer.licenseArn, status: 'DEPROVISIONED' },
      agreement: { id: customer.agreementId },
      acceptor: { accountId: customer.awsAccountId },
      product,
    }),
  ];
}
