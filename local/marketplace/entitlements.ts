// SaaS contracts in the emulator: the entitlements a buyer paid for (given at mint or replaced by
// `setEntitlements`) and the Entitlement Service's GetEntitlements, which the app reads them with. Rules
// follow AWS: ProductCode required and known, filters unioned per name and intersected across names,
// CUSTOMER_IDENTIFIER and CUSTOMER_AWS_ACCOUNT_ID mutually exclusive, at most 25 a page.
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { nowMs } from '#shared/clock.ts';
import { zodProblems } from '#shared/http/validation.ts';
import { MeteringError } from './errors.ts';
import { amendmentEvents, type LifecycleEvent, renewalEvents } from './events.ts';
import { agreementId } from './ids.ts';
import type { ContractEntitlement, Customer, MarketplaceStore } from './store.ts';

export const MAX_ENTITLEMENTS_PAGE = 25;
const CONTRACT_MONTHS = 12;

const FILTER_NAMES = ['CUSTOMER_AWS_ACCOUNT_ID', 'CUSTOMER_IDENTIFIER', 'DIMENSION', 'LICENSE_ARN'] as const;
type FilterName = (typeof FILTER_NAMES)[number];

const entitlementSchema = z.object({
  dimension: z.string().check(z.minLength(1), z.maxLength(255)),
  quantity: z.number().check(z.int(), z.gte(0)),
});

/**
 * The contract part of `POST /__marketplace/customers` and the whole body of `.../entitlements`. `null`
 * is the same as absent, as the buyer listing answers it for a pay-as-you-go buyer.
 */
const contractSchema = z.object({
  entitlements: z.nullish(
    z
      .array(entitlementSchema)
      .check(
        z.refine(
          (list) => new Set(list.map((e) => e.dimension)).size === list.length,
          'must not name a dimension twice',
        ),
      ),
  ),
  contract_end: z.nullish(z.iso.datetime({ offset: true })),
});

export type ContractInput = { entitlements?: ContractEntitlement[] | null; contract_end?: string | null };

/** A contract as given, checked; `ValidationException` naming the fields otherwise. */
export function parseContract(input: unknown, entitlementsRequired: boolean) {
  const parsed = contractSchema.safeParse(input);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error).map((p) => `${p.field} ${p.problem}`);
    throw new MeteringError('ValidationException', `Invalid contract: ${problems.join('; ')}`);
  }
  const entitlements = parsed.data.entitlements ?? undefined;
  const contractEnd = parsed.data.contract_end ?? undefined;
  if (entitlements === undefined && (entitlementsRequired || contractEnd !== undefined)) {
    throw new MeteringError('ValidationException', 'Invalid contract: entitlements is required');
  }
  return { entitlements, contractEndMs: contractEnd === undefined ? undefined : Date.parse(contractEnd) };
}

/** The default contract end: 12 months after `fromMs`, on the same UTC day and time. */
export function defaultContractEnd(fromMs: number): number {
  const end = new Date(fromMs);
  end.setUTCMonth(end.getUTCMonth() + CONTRACT_MONTHS);
  return end.getTime();
}

/**
 * Replaces a buyer's entitlements. A `contractEndMs` other than the current one is a renewal: a new term
 * under a new agreement id; otherwise the same agreement is amended. A buyer without a contract yet gets
 * one ending 12 months from now (an amendment of its agreement). Answers the events AWS would send.
 */
export function setEntitlements(
  customer: Customer,
  entitlements: ContractEntitlement[],
  contractEndMs: number | undefined,
): LifecycleEvent[] {
  const at = nowMs();
  customer.entitlements = entitlements.map((e) => ({ ...e }));
  const renewal =
    contractEndMs !== undefined &&
    customer.contractEndMs !== undefined &&
    contractEndMs !== customer.contractEndMs;
  customer.contractEndMs = contractEndMs ?? customer.contractEndMs ?? defaultContractEnd(at);
  if (!renewal) return amendmentEvents(customer, at);
  const replaced = {
    id: customer.agreementId,
    startMs: customer.agreementStartMs ?? customer.subscribedAtMs,
  };
  customer.agreementId = agreementId();
  customer.agreementStartMs = at;
  return renewalEvents(customer, replaced, at);
}

function invalidParameter(message: string): never {
  throw new MeteringError('InvalidParameterException', message);
}

type Filters = Partial<Record<FilterName, Set<string>>>;

function parseFilters(value: unknown): Filters {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidParameter('Filter must be a map of filter names to lists of values.');
  }
  const filters: Filters = {};
  for (const [name, values] of Object.entries(value)) {
    if (!(FILTER_NAMES as readonly string[]).includes(name)) {
      invalidParameter(`Unknown filter name ${name}; valid names: ${FILTER_NAMES.join(', ')}.`);
    }
    if (!Array.isArray(values) || values.length < 1 || !values.every((v) => typeof v === 'string')) {
      invalidParameter(`Filter ${name} must be a list of at least one string.`);
    }
    filters[name as FilterName] = new Set(values as string[]);
  }
  if (filters.CUSTOMER_IDENTIFIER && filters.CUSTOMER_AWS_ACCOUNT_ID) {
    invalidParameter(
      'CUSTOMER_IDENTIFIER and CUSTOMER_AWS_ACCOUNT_ID are mutually exclusive; use one or the other.',
    );
  }
  return filters;
}

const matches = (filter: Set<string> | undefined, value: string) => filter === undefined || filter.has(value);

/** Ties a NextToken to the query it pages through, so a token from another query is refused. */
function queryKey(productCode: string, filters: Filters): string {
  const sorted = Object.entries(filters)
    .map(([name, values]) => [name, [...values].sort()] as const)
    .sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256')
    .update(JSON.stringify([productCode, sorted]))
    .digest('base64url')
    .slice(0, 16);
}

function readNextToken(token: unknown, key: string): number {
  if (token === undefined) return 0;
  const [offset, tokenKey] =
    typeof token === 'string' ? Buffer.from(token, 'base64url').toString('utf8').split(':') : [];
  const start = Number(offset);
  if (tokenKey !== key || !Number.isInteger(start) || start < 0) invalidParameter('Invalid NextToken.');
  return start;
}

function entitlementsOf(customer: Customer) {
  return (customer.entitlements ?? []).map((entitlement) => ({
    ProductCode: customer.productCode,
    Dimension: entitlement.dimension,
    ...(customer.customerIdentifier ? { CustomerIdentifier: customer.customerIdentifier } : {}),
    CustomerAWSAccountId: customer.awsAccountId,
    LicenseArn: customer.licenseArn,
    Value: { IntegerValue: entitlement.quantity },
    // awsJson1_1 timestamps are epoch seconds.
    ...(customer.contractEndMs === undefined ? {} : { ExpirationDate: customer.contractEndMs / 1000 }),
  }));
}

/** GetEntitlements: every entitlement of the product's buyers that the filters keep, a page at a time. */
export function getEntitlements(store: MarketplaceStore, input: Record<string, unknown>) {
  const productCode = input.ProductCode;
  if (typeof productCode !== 'string' || productCode === '') invalidParameter('ProductCode is required.');
  if (!store.products.has(productCode)) {
    invalidParameter(`Product code ${productCode} does not match a product published on AWS Marketplace.`);
  }
  const filters = parseFilters(input.Filter);
  const maxResults = input.MaxResults ?? MAX_ENTITLEMENTS_PAGE;
  if (
    typeof maxResults !== 'number' ||
    !Number.isInteger(maxResults) ||
    maxResults < 1 ||
    maxResults > MAX_ENTITLEMENTS_PAGE
  ) {
    invalidParameter(`MaxResults must be an integer between 1 and ${MAX_ENTITLEMENTS_PAGE}.`);
  }
  const key = queryKey(productCode, filters);
  const start = readNextToken(input.NextToken, key);
  const all = store.customers
    .filter(
      (c) =>
        c.productCode === productCode &&
        matches(filters.CUSTOMER_AWS_ACCOUNT_ID, c.awsAccountId) &&
        matches(filters.CUSTOMER_IDENTIFIER, c.customerIdentifier) &&
        matches(filters.LICENSE_ARN, c.licenseArn),
    )
    .flatMap(entitlementsOf)
    .filter((e) => matches(filters.DIMENSION, e.Dimension));
  const end = start + maxResults;
  return {
    Entitlements: all.slice(start, end),
    ...(end < all.length ? { NextToken: Buffer.from(`${end}:${key}`).toString('base64url') } : {}),
  };
}
