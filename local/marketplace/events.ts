// Subscription lifecycle events shaped like the EventBridge events AWS Marketplace puts on the seller's
// default bus (source `aws.agreement-marketplace`). A cancelled SaaS subscription produces, as for a seller
// who is both manufacturer and proposer of the offer: `Purchase Agreement Ended - Proposer`,
// `Purchase Agreement Ended - Manufacturer` and `License Deprovisioned - Manufacturer`. A contract's
// purchase, amendment and renewal produce the Manufacturer events listed in README.md. Receivers must
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

const agreementArn = (id: string) =>
  `arn:aws:aws-marketplace::${SELLER_ACCOUNT_ID}:AWSMarketplace/Agreement/${id}`;
const iso = (ms: number) => new Date(ms).toISOString();
const productOf = (customer: Customer) => ({
  id: productId(customer.productCode),
  code: customer.productCode,
});

/** The detail fields every agreement event carries besides `agreement` (how a handler finds the buyer). */
function agreementParties(customer: Customer) {
  return {
    catalog: 'AWSMarketplace',
    acceptor: { accountId: customer.awsAccountId },
    proposer: { accountId: SELLER_ACCOUNT_ID },
    offer: { id: customer.offerId },
    product: productOf(customer),
    licenseArn: customer.licenseArn,
    customerIdentifier: customer.customerIdentifier,
  };
}

export function cancellationEvents(customer: Customer, endedAtMs: number): LifecycleEvent[] {
  const agreement = {
    id: customer.agreementId,
    status: 'CANCELLED',
    startTime: iso(customer.agreementStartMs ?? customer.subscribedAtMs),
    endTime: iso(endedAtMs),
  };
  const { catalog, acceptor, proposer, offer, product, licenseArn, customerIdentifier } =
    agreementParties(customer);
  const common = { catalog, agreement, acceptor, proposer, offer, product, licenseArn, customerIdentifier };
  return [
    envelope('Purchase Agreement Ended - Proposer', endedAtMs, [agreementArn(customer.agreementId)], {
      requestId: requestId(),
      ...common,
    }),
    envelope('Purchase Agreement Ended - Manufacturer', endedAtMs, [agreementArn(customer.agreementId)], {
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

/** The agreement a contract buyer holds now, as the `agreement` of a Created or Amended event. */
function currentAgreement(customer: Customer, intent: 'NEW' | 'AMEND' | 'RENEW') {
  return {
    id: customer.agreementId,
    intent,
    status: 'ACTIVE',
    startTime: iso(customer.agreementStartMs ?? customer.subscribedAtMs),
    ...(customer.contractEndMs === undefined ? {} : { endTime: iso(customer.contractEndMs) }),
  };
}

function licenseUpdated(customer: Customer, atMs: number): LifecycleEvent {
  return envelope('License Updated - Manufacturer', atMs, [customer.licenseArn], {
    requestId: requestId(),
    catalog: 'AWSMarketplace',
    license: { arn: customer.licenseArn, status: 'ACTIVE' },
    licenseArn: customer.licenseArn,
    agreement: { id: customer.agreementId },
    acceptor: { accountId: customer.awsAccountId },
    product: productOf(customer),
  });
}

/** A contract bought (a buyer minted with entitlements): AWS announces it before the buyer lands. */
export function purchaseEvents(customer: Customer, atMs: number): LifecycleEvent[] {
  return [
    envelope('Purchase Agreement Created - Manufacturer', atMs, [agreementArn(customer.agreementId)], {
      requestId: requestId(),
      agreement: currentAgreement(customer, 'NEW'),
      ...agreementParties(customer),
    }),
  ];
}

/** New quantities within the same term: the agreement is amended in place (same id). */
export function amendmentEvents(customer: Customer, atMs: number): LifecycleEvent[] {
  return [
    envelope('Purchase Agreement Amended - Manufacturer', atMs, [agreementArn(customer.agreementId)], {
      requestId: requestId(),
      agreement: currentAgreement(customer, 'AMEND'),
      ...agreementParties(customer),
    }),
    licenseUpdated(customer, atMs),
  ];
}

/** The agreement a renewal replaced: its id and term. */
export type ReplacedAgreement = { id: string; startMs: number };

/** A new term (a renewal): a new agreement, the old one ended as `RENEWED`, the license updated. */
export function renewalEvents(
  customer: Customer,
  replaced: ReplacedAgreement,
  atMs: number,
): LifecycleEvent[] {
  return [
    envelope('Purchase Agreement Created - Manufacturer', atMs, [agreementArn(customer.agreementId)], {
      requestId: requestId(),
      agreement: currentAgreement(customer, 'RENEW'),
      ...agreementParties(customer),
    }),
    envelope('Purchase Agreement Ended - Manufacturer', atMs, [agreementArn(replaced.id)], {
      requestId: requestId(),
      agreement: { id: replaced.id, status: 'RENEWED', startTime: iso(replaced.startMs), endTime: iso(atMs) },
      ...agreementParties(customer),
    }),
    licenseUpdated(customer, atMs),
  ];
}
