// The emulator's in-memory state: buyers (one per mint), their contract entitlements, and every usage
// record it was sent.

/** A contract buyer's paid quantity of one dimension, as GetEntitlements answers it (`IntegerValue`). */
export type ContractEntitlement = { dimension: string; quantity: number };

export type Customer = {
  registrationToken: string;
  tokenExpiresAtMs: number;
  /** Empty for Concurrent Agreements products: such buyers are metered by account id + license ARN. */
  customerIdentifier: string;
  awsAccountId: string;
  licenseArn: string;
  productCode: string;
  concurrentAgreements: boolean;
  agreementId: string;
  offerId: string;
  subscribedAtMs: number;
  /** Set by unsubscribe; final usage is accepted for `UNSUBSCRIBE_GRACE_MS` after it. */
  unsubscribedAtMs?: number;
  /** Contract buyers only (absent for pay-as-you-go buyers and in state files written before contracts). */
  entitlements?: ContractEntitlement[];
  /** When the contract's term ends: each entitlement's `ExpirationDate`. Set with `entitlements`. */
  contractEndMs?: number;
  /** When the current agreement started, if not at `subscribedAtMs` (it was renewed). */
  agreementStartMs?: number;
};

export type RecordStatus =
  | 'Success'
  | 'DuplicateRecord'
  | 'CustomerNotSubscribed'
  | 'Unprocessed'
  /** The whole call was refused with this exception (e.g. `TimestampOutOfBoundsException`). */
  | `${string}Exception`;

/** A usage record exactly as BatchMeterUsage received it (`Timestamp` as ISO text). */
export type ReceivedUsageRecord = {
  Timestamp: string;
  CustomerIdentifier?: string;
  CustomerAWSAccountId?: string;
  LicenseArn?: string;
  Dimension: string;
  Quantity?: number;
  UsageAllocations?: unknown[];
};

export type StoredRecord = {
  received_at: string;
  /** `ProductCode` of the call (absent for license-based calls). */
  product_code?: string;
  usage_record: ReceivedUsageRecord;
  status: RecordStatus;
  metering_record_id?: string;
  /** The buyer the record was matched to, when it was. */
  customer_aws_account_id?: string;
  /** True when this answered an identical earlier record again (not billed twice). */
  replayed?: boolean;
  /** Why a record was not billed: `unknown_customer`, `unsubscribed`, `quantity_changed`, `mixed_identity_styles`, … */
  reason?: string;
};

/** A billed record, kept for duplicate detection. */
export type BilledRecord = {
  meteringRecordId: string;
  quantity: number;
  allocations: string;
  style: IdentityStyle;
};

export type IdentityStyle = 'customer_identifier' | 'license';

export type MarketplaceStore = {
  customers: Customer[];
  byToken: Map<string, Customer>;
  byAccount: Map<string, Customer>;
  byIdentifier: Map<string, Customer>;
  byLicense: Map<string, Customer>;
  products: Set<string>;
  /** `accountId|dimension|timestampMs` → the billed record. */
  billed: Map<string, BilledRecord>;
  /** `accountId|hourStartMs` → the identity style first billed for that buyer and hour. */
  hourStyles: Map<string, IdentityStyle>;
  records: StoredRecord[];
  throttleRemaining: number;
  unprocessedRemaining: number;
  /** The next this-many GetEntitlements calls answer `InternalServiceErrorException` (500). */
  entitlementFailuresRemaining: number;
};

export function createStore(defaultProductCode: string): MarketplaceStore {
  return {
    customers: [],
    byToken: new Map(),
    byAccount: new Map(),
    byIdentifier: new Map(),
    byLicense: new Map(),
    products: new Set([defaultProductCode]),
    billed: new Map(),
    hourStyles: new Map(),
    records: [],
    throttleRemaining: 0,
    unprocessedRemaining: 0,
    entitlementFailuresRemaining: 0,
  };
}

/** Adds a buyer to the list and to every index a call looks buyers up by. */
export function addCustomer(store: MarketplaceStore, customer: Customer): void {
  store.customers.push(customer);
  store.byToken.set(customer.registrationToken, customer);
  store.byAccount.set(customer.awsAccountId, customer);
  if (customer.customerIdentifier) store.byIdentifier.set(customer.customerIdentifier, customer);
  store.byLicense.set(customer.licenseArn, customer);
  store.products.add(customer.productCode);
}
