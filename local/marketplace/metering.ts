// The Metering Service's rules: ResolveCustomer, BatchMeterUsage (25 records, the time window, duplicate
// detection, subscriptions), and buyers minted and cancelled by the emulator's controls. All time is read
// from the shared clock, so `setClock` / `POST /__local/clock` move token expiry, windows and grace hours.
import { nowMs } from '#shared/clock.ts';
import { defaultContractEnd, parseContract } from './entitlements.ts';
import { MeteringError } from './errors.ts';
import { cancellationEvents, type LifecycleEvent, purchaseEvents } from './events.ts';
import {
  agreementId,
  awsAccountId,
  customerIdentifier,
  LICENSE_ARN_PATTERN,
  licenseArn,
  meteringRecordId,
  offerId,
  registrationToken,
} from './ids.ts';
import {
  addCustomer,
  type ContractEntitlement,
  type Customer,
  type IdentityStyle,
  type MarketplaceStore,
  type ReceivedUsageRecord,
  type RecordStatus,
  type StoredRecord,
} from './store.ts';

export const HOUR_MS = 3_600_000;
/** Registration tokens resolve for this long after the buyer lands. */
export const TOKEN_TTL_MS = HOUR_MS;
/** How far in the future a record's timestamp may be (clock skew). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** Last month's usage is accepted until this long after 00:00 UTC on the 1st. */
export const MONTH_END_GRACE_MS = 6 * HOUR_MS;
/** After cancellation, final usage is accepted for this long. */
export const UNSUBSCRIBE_GRACE_MS = HOUR_MS;
export const MAX_BATCH_RECORDS = 25;
export const MAX_QUANTITY = 2_147_483_647;

export type MintOptions = {
  product_code?: string;
  concurrent_agreements?: boolean;
  /** Given (even empty): the buyer holds a contract for these quantities. `null` = absent. */
  entitlements?: ContractEntitlement[] | null;
  /** ISO time the contract ends; default 12 months after the mint. Only with `entitlements`. */
  contract_end?: string | null;
};

export type MintedCustomer = {
  registration_token: string;
  customer_aws_account_id: string;
  license_arn: string;
  customer_identifier: string;
  product_code: string;
  concurrent_agreements: boolean;
  agreement_id: string;
  registration_token_expires_at: string;
  /** `null` for a pay-as-you-go buyer. */
  entitlements: ContractEntitlement[] | null;
  contract_end: string | null;
};

export function describeCustomer(c: Customer): MintedCustomer & { unsubscribed_at?: string } {
  return {
    registration_token: c.registrationToken,
    customer_aws_account_id: c.awsAccountId,
    license_arn: c.licenseArn,
    customer_identifier: c.customerIdentifier,
    product_code: c.productCode,
    concurrent_agreements: c.concurrentAgreements,
    agreement_id: c.agreementId,
    registration_token_expires_at: new Date(c.tokenExpiresAtMs).toISOString(),
    entitlements: c.entitlements ? c.entitlements.map((e) => ({ ...e })) : null,
    contract_end: c.contractEndMs === undefined ? null : new Date(c.contractEndMs).toISOString(),
    ...(c.unsubscribedAtMs === undefined
      ? {}
      : { unsubscribed_at: new Date(c.unsubscribedAtMs).toISOString() }),
  };
}

/** Adds a buyer; one minted with entitlements also answers the purchase event AWS sends before it lands. */
export function mintCustomer(store: MarketplaceStore, defaultProductCode: string, options: MintOptions = {}) {
  const contract = parseContract(
    { entitlements: options.entitlements, contract_end: options.contract_end },
    false,
  );
  const productCode = options.product_code ?? defaultProductCode;
  if (typeof productCode !== 'string' || !/^[A-Za-z0-9]{1,255}$/.test(productCode)) {
    throw new MeteringError('ValidationException', 'product_code must be 1 to 255 letters or digits.');
  }
  const concurrent = options.concurrent_agreements === true;
  let account = awsAccountId();
  while (store.byAccount.has(account)) account = awsAccountId();
  const at = nowMs();
  const customer: Customer = {
    registrationToken: registrationToken(),
    tokenExpiresAtMs: at + TOKEN_TTL_MS,
    customerIdentifier: concurrent ? '' : customerIdentifier(),
    awsAccountId: account,
    licenseArn: licenseArn(),
    productCode,
    concurrentAgreements: concurrent,
    agreementId: agreementId(),
    offerId: offerId(),
    subscribedAtMs: at,
    ...(contract.entitlements === undefined
      ? {}
      : {
          entitlements: contract.entitlements,
          contractEndMs: contract.contractEndMs ?? defaultContractEnd(at),
        }),
  };
  addCustomer(store, customer);
  return {
    customer: describeCustomer(customer),
    events: customer.entitlements ? purchaseEvents(customer, at) : [],
  };
}

/**
 * The buyer lands from AWS Marketplace again ("Set up your account" once more): a new registration token for
 * the same buyer, as AWS issues on every landing; `undefined` for an unknown account.
 */
export function landAgain(store: MarketplaceStore, accountId: string): string | undefined {
  const customer = store.byAccount.get(accountId);
  if (!customer) return undefined;
  customer.registrationToken = registrationToken();
  customer.tokenExpiresAtMs = nowMs() + TOKEN_TTL_MS;
  store.byToken.set(customer.registrationToken, customer);
  return customer.registrationToken;
}

/** Marks the buyer cancelled and answers the events AWS would send; `undefined` for an unknown account. */
export function unsubscribe(store: MarketplaceStore, accountId: string) {
  const customer = store.byAccount.get(accountId);
  if (!customer) return undefined;
  if (customer.unsubscribedAtMs !== undefined) return { customer, events: [] as LifecycleEvent[] };
  customer.unsubscribedAtMs = nowMs();
  return { customer, events: cancellationEvents(customer, customer.unsubscribedAtMs) };
}

export function resolveCustomer(store: MarketplaceStore, input: Record<string, unknown>) {
  const token = input.RegistrationToken;
  if (typeof token !== 'string' || token === '') {
    throw new MeteringError(
      'ValidationException',
      "1 validation error detected: Value null at 'registrationToken' failed to satisfy constraint: Member must not be null",
    );
  }
  const customer = store.byToken.get(token);
  if (!customer) throw new MeteringError('InvalidTokenException', 'Registration token is invalid.');
  if (nowMs() >= customer.tokenExpiresAtMs) {
    throw new MeteringError('ExpiredTokenException', 'Registration token has expired.');
  }
  return {
    CustomerIdentifier: customer.customerIdentifier,
    ProductCode: customer.productCode,
    CustomerAWSAccountId: customer.awsAccountId,
    LicenseArn: customer.licenseArn,
  };
}

type ParsedRecord = {
  raw: Record<string, unknown>;
  received: ReceivedUsageRecord;
  timestampMs: number;
  dimension: string;
  quantity: number;
  allocations: string;
  style: IdentityStyle;
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(path: string, constraint: string): never {
  throw new MeteringError(
    'ValidationException',
    `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${constraint}`,
  );
}

function parseRecord(value: unknown, index: number, productCode: string | undefined): ParsedRecord {
  const at = `usageRecords.${index + 1}.member`;
  if (!isObject(value)) invalid(at, 'Member must be a structure');
  const ts = value.Timestamp;
  if (typeof ts !== 'number' || !Number.isFinite(ts)) invalid(`${at}.timestamp`, 'Member must not be null');
  const dimension = value.Dimension;
  if (typeof dimension !== 'string' || dimension.length < 1 || dimension.length > 255) {
    invalid(`${at}.dimension`, 'Member must have length between 1 and 255');
  }
  const quantity = value.Quantity ?? 0;
  if (
    typeof quantity !== 'number' ||
    !Number.isInteger(quantity) ||
    quantity < 0 ||
    quantity > MAX_QUANTITY
  ) {
    invalid(`${at}.quantity`, `Member must be an integer between 0 and ${MAX_QUANTITY}`);
  }
  const ci = value.CustomerIdentifier;
  const account = value.CustomerAWSAccountId;
  const license = value.LicenseArn;
  const hasCi = typeof ci === 'string' && ci !== '';
  const hasAccount = typeof account === 'string' && account !== '';
  const hasLicense = typeof license === 'string' && license !== '';
  let style: IdentityStyle;
  if (hasCi && !hasAccount && !hasLicense) {
    if (productCode === undefined) {
      invalid('productCode', 'ProductCode is required when records use CustomerIdentifier');
    }
    style = 'customer_identifier';
  } else if (!hasCi && hasAccount && hasLicense) {
    if (!LICENSE_ARN_PATTERN.test(license)) {
      throw new MeteringError('InvalidLicenseException', `LicenseArn ${license} is not a valid license ARN.`);
    }
    style = 'license';
  } else {
    invalid(
      at,
      'A usage record must identify the customer by CustomerIdentifier, or by CustomerAWSAccountId and LicenseArn, not both',
    );
  }
  let allocations = '';
  if (value.UsageAllocations !== undefined) {
    const list = value.UsageAllocations;
    if (!Array.isArray(list) || list.length < 1 || list.length > 2500) {
      invalid(`${at}.usageAllocations`, 'Member must have length between 1 and 2500');
    }
    let sum = 0;
    for (const allocation of list) {
      if (!isObject(allocation) || !Number.isInteger(allocation.AllocatedUsageQuantity)) {
        invalid(`${at}.usageAllocations`, 'AllocatedUsageQuantity must be an integer');
      }
      sum += allocation.AllocatedUsageQuantity as number;
      const tags = allocation.Tags;
      if (tags !== undefined && (!Array.isArray(tags) || tags.length > 5)) {
        throw new MeteringError('InvalidTagException', 'The number of tags is greater than 5.');
      }
    }
    if (sum !== quantity) {
      throw new MeteringError(
        'InvalidUsageAllocationsException',
        'Sum of allocated usage quantities is not equal to the usage quantity.',
      );
    }
    allocations = JSON.stringify(list);
  }
  const timestampMs = Math.round(ts * 1000);
  const received: ReceivedUsageRecord = {
    Timestamp: new Date(timestampMs).toISOString(),
    ...(hasCi ? { CustomerIdentifier: ci as string } : {}),
    ...(hasAccount ? { CustomerAWSAccountId: account as string } : {}),
    ...(hasLicense ? { LicenseArn: license as string } : {}),
    Dimension: dimension,
    ...(value.Quantity === undefined ? {} : { Quantity: quantity }),
    ...(value.UsageAllocations === undefined
      ? {}
      : { UsageAllocations: value.UsageAllocations as unknown[] }),
  };
  return { raw: value, received, timestampMs, dimension, quantity, allocations, style };
}

/**
 * Whether a record stamped `timestampMs` is accepted at `atMs`: younger than `windowMs` (the configured
 * MARKETPLACE_WINDOW_HOURS), at most 5 minutes ahead, and not last month's once it is 06:00 UTC on the 1st.
 */
export function withinWindow(timestampMs: number, atMs: number, windowMs: number): boolean {
  if (timestampMs > atMs + MAX_FUTURE_SKEW_MS) return false;
  if (atMs - timestampMs >= windowMs) return false;
  const now = new Date(atMs);
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  if (timestampMs < monthStart && atMs >= monthStart + MONTH_END_GRACE_MS) return false;
  return true;
}

function asReceived(value: unknown): ReceivedUsageRecord {
  if (!isObject(value)) return { Timestamp: '', Dimension: '' };
  const ts = value.Timestamp;
  return {
    ...(value as Omit<ReceivedUsageRecord, 'Timestamp'>),
    Timestamp:
      typeof ts === 'number' && Number.isFinite(ts) ? new Date(Math.round(ts * 1000)).toISOString() : '',
  };
}

/** `windowMs`: how long after its timestamp a record is still accepted. */
export function batchMeterUsage(store: MarketplaceStore, input: Record<string, unknown>, windowMs: number) {
  const receivedAt = new Date(nowMs()).toISOString();
  const productCodeValue = input.ProductCode;
  const productCode =
    typeof productCodeValue === 'string' && productCodeValue !== '' ? productCodeValue : undefined;
  const list = input.UsageRecords;
  if (!Array.isArray(list)) {
    invalid('usageRecords', 'Member must not be null');
  }
  const log = (entry: Omit<StoredRecord, 'received_at' | 'product_code'>) => {
    store.records.push({
      received_at: receivedAt,
      ...(productCode === undefined ? {} : { product_code: productCode }),
      ...entry,
    });
  };

  let parsed: ParsedRecord[];
  try {
    if (list.length > MAX_BATCH_RECORDS) {
      invalid('usageRecords', `Member must have length less than or equal to ${MAX_BATCH_RECORDS}`);
    }
    if (productCode !== undefined && !store.products.has(productCode)) {
      throw new MeteringError(
        'InvalidProductCodeException',
        `Product code ${productCode} does not match a product published on AWS Marketplace.`,
      );
    }
    parsed = list.map((record, index) => parseRecord(record, index, productCode));
    const at = nowMs();
    const stale = parsed.find((record) => !withinWindow(record.timestampMs, at, windowMs));
    if (stale) {
      throw new MeteringError(
        'TimestampOutOfBoundsException',
        `Usage record timestamp ${stale.received.Timestamp} is outside the allowed range; the batch was not processed.`,
      );
    }
  } catch (error) {
    if (error instanceof MeteringError) {
      for (const record of list) {
        log({ usage_record: asReceived(record), status: error.type, reason: error.message });
      }
    }
    throw error;
  }

  const unprocessedCount = Math.min(store.unprocessedRemaining, parsed.length);
  store.unprocessedRemaining -= unprocessedCount;
  const processed = parsed.slice(0, parsed.length - unprocessedCount);
  const unprocessed = parsed.slice(parsed.length - unprocessedCount);

  const results = processed.map((record) => {
    const outcome = meterOne(store, record, productCode);
    log({
      usage_record: record.received,
      status: outcome.status,
      ...(outcome.id === undefined ? {} : { metering_record_id: outcome.id }),
      ...(outcome.customer ? { customer_aws_account_id: outcome.customer.awsAccountId } : {}),
      ...(outcome.replayed ? { replayed: true } : {}),
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    });
    return {
      UsageRecord: record.raw,
      ...(outcome.id === undefined ? {} : { MeteringRecordId: outcome.id }),
      Status: outcome.status,
    };
  });
  for (const record of unprocessed) {
    log({
      usage_record: record.received,
      status: 'Unprocessed',
      reason: 'left unprocessed by the emulator control',
    });
  }
  return { Results: results, UnprocessedRecords: unprocessed.map((record) => record.raw) };
}

type Outcome = {
  status: RecordStatus & ('Success' | 'DuplicateRecord' | 'CustomerNotSubscribed');
  id?: string;
  customer?: Customer;
  replayed?: boolean;
  reason?: string;
};

function findCustomer(store: MarketplaceStore, record: ParsedRecord, productCode: string | undefined) {
  if (record.style === 'customer_identifier') {
    const customer = store.byIdentifier.get(record.received.CustomerIdentifier as string);
    return customer && customer.productCode === productCode ? customer : undefined;
  }
  const customer = store.byLicense.get(record.received.LicenseArn as string);
  if (!customer || customer.awsAccountId !== record.received.CustomerAWSAccountId) return undefined;
  if (productCode !== undefined && customer.productCode !== productCode) return undefined;
  return customer;
}

function meterOne(store: MarketplaceStore, record: ParsedRecord, productCode: string | undefined): Outcome {
  const customer = findCustomer(store, record, productCode);
  if (!customer) return { status: 'CustomerNotSubscribed', reason: 'unknown_customer' };
  if (customer.unsubscribedAtMs !== undefined) {
    if (nowMs() >= customer.unsubscribedAtMs + UNSUBSCRIBE_GRACE_MS) {
      return { status: 'CustomerNotSubscribed', customer, reason: 'unsubscribed' };
    }
    if (record.timestampMs > customer.unsubscribedAtMs) {
      return { status: 'CustomerNotSubscribed', customer, reason: 'usage_after_unsubscribe' };
    }
  }
  const key = `${customer.awsAccountId}|${record.dimension}|${record.timestampMs}`;
  const hourKey = `${customer.awsAccountId}|${Math.floor(record.timestampMs / HOUR_MS) * HOUR_MS}`;
  const hourStyle = store.hourStyles.get(hourKey);
  if (hourStyle !== undefined && hourStyle !== record.style) {
    return { status: 'DuplicateRecord', customer, reason: 'mixed_identity_styles' };
  }
  const billed = store.billed.get(key);
  if (billed) {
    if (billed.quantity === record.quantity && billed.allocations === record.allocations) {
      return { status: 'Success', id: billed.meteringRecordId, customer, replayed: true };
    }
    return { status: 'DuplicateRecord', customer, reason: 'quantity_changed' };
  }
  const id = meteringRecordId();
  store.billed.set(key, {
    meteringRecordId: id,
    quantity: record.quantity,
    allocations: record.allocations,
    style: record.style,
  });
  store.hourStyles.set(hourKey, record.style);
  return { status: 'Success', id, customer };
}
