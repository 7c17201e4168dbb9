// The period item (`ACCOUNT#id / PERIOD#YYYY-MM`): the rollup consumer's sums of the period's accrued ledger
// entries, and postpaid invoicing's conditional writes on it and on the account item (the sub-cent carry).
// The claim closes the period to late entries, consumes the carry and records the computed invoice in one
// transaction; every later step is a checkpoint under the run's lease, so a crashed run is resumed from what
// it stored.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { INVOICE_DUE_SHARDS, keys, shardOfAccount } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { failedCondition, type TransactItem, transactWrite, updateIf } from '../dynamo/transact.ts';
import type { Micros } from '../money.ts';

/** The job's progress on a period: claimed → created → finalized → sent; `skipped` when under one cent. */
export type InvoiceState = 'claimed' | 'created' | 'finalized' | 'sent' | 'skipped';

/** Stripe's invoice statuses; a status is only ever replaced by one of a higher rank. */
export type InvoiceStatus = 'draft' | 'open' | 'uncollectible' | 'paid' | 'void';

export const STATUS_RANK: Record<InvoiceStatus, number> = {
  draft: 0,
  open: 1,
  uncollectible: 2,
  paid: 3,
  void: 3,
};

export type InvoiceLine = {
  feature: string;
  /** Units of a per-unit feature, requests of a fixed-price one. */
  quantity: number;
  requests: number;
  /** The feature's exact usage cost in the period. */
  cost: Micros;
  /** What the invoice charges for it (largest-remainder share of the rounded total). */
  cents: number;
};

/** The invoice computed at claim time, stored on the period item and never recomputed. */
export type InvoicePlan = {
  usage: Micros;
  carry_in: Micros;
  carry_out: Micros;
  cents: number;
  terms_days: number;
  lines: InvoiceLine[];
};

export type PeriodItem = {
  account_id: string;
  period: string;
  cost: Micros;
  requests: number;
  /** Ledger entries rolled in (never decreases, unlike `requests`): the claim's proof that nothing changed. */
  entries?: number;
  GSI1PK?: string;
  invoice_state?: InvoiceState;
  invoice?: InvoicePlan;
  claimed_at?: string;
  lease_owner?: string;
  lease_until?: number;
  stripe_invoice_id?: string;
  invoice_status?: InvoiceStatus;
  status_rank?: number;
  invoice_number?: string;
  invoice_total_cents?: number;
  due_date?: string;
  hosted_invoice_url?: string;
  overdue_at?: string;
  paid_at?: string;
  last_payment_failed_at?: string;
  [attribute: string]: unknown;
};

/** What the claim reads from the account item. */
export type AccountForInvoicing = {
  account_id: string;
  name?: string;
  payment_terms_days?: number;
  invoice_carry?: Micros;
  open_invoices?: Record<string, string>;
  open_invoices_rev?: number;
  overdue_block_at?: string;
};

export const DEFAULT_TERMS_DAYS = 30;

const table = () => config.tableName;

/** One feature's line of a period: summed exact cost, units (or requests of a fixed-price feature), calls. */
export type FeatureSums = { cost: number; quantity: number; requests: number };

/** What a batch of ledger entries adds to one period item. */
export type PeriodIncrement = {
  cost: number;
  requests: number;
  /** How many entries it rolls in. */
  entries: number;
  features: Map<string, FeatureSums>;
};

/**
 * The rollup consumer's write to a period item: its totals, one line per feature (`f:<feature>:cost|
 * quantity|requests`, what the invoice is built from) and the account-period in the invoicing index; refused
 * once the invoicing job claimed the period (`invoice_state`), when the consumer books the entries into the
 * next period instead. The item stays bounded: it gains attributes only per feature, and every charge's
 * feature is a price catalog entry (unknown features are refused before any charge), so one period holds at
 * most one line per catalog feature, however many calls, tokens or entries it sums.
 */
export function periodRollupUpdate(
  accountId: string,
  period: string,
  increment: PeriodIncrement,
): TransactItem {
  const names: Record<string, string> = {
    '#period': 'period',
    '#cost': 'cost',
    '#requests': 'requests',
    '#entries': 'entries',
  };
  const values: Record<string, unknown> = {
    ':kind': 'period',
    ':account': accountId,
    ':p': period,
    ':gpk': keys.invoiceDueIndex(period, shardOfAccount(accountId, INVOICE_DUE_SHARDS), accountId).GSI1PK,
    ':gsk': accountId,
    ':cost': increment.cost,
    ':requests': increment.requests,
    ':entries': increment.entries,
  };
  const adds = ['#cost :cost', '#requests :requests', '#entries :entries'];
  [...increment.features].forEach(([feature, sums], i) => {
    for (const field of ['cost', 'quantity', 'requests'] as const) {
      names[`#f${i}${field}`] = `f:${feature}:${field}`;
      values[`:f${i}${field}`] = sums[field];
      adds.push(`#f${i}${field} :f${i}${field}`);
    }
  });
  return {
    Update: {
      TableName: table(),
      Key: keys.period(accountId, period),
      UpdateExpression: `SET kind = :kind, account_id = :account, #period = :p, GSI1PK = :gpk, GSI1SK = :gsk ADD ${adds.join(', ')}`,
      ConditionExpression: 'attribute_not_exists(invoice_state)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

export async function getPeriod(accountId: string, period: string): Promise<PeriodItem | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: table(), Key: keys.period(accountId, period), ConsistentRead: true }),
  );
  return result.Item as PeriodItem | undefined;
}

export async function getAccountForInvoicing(accountId: string): Promise<AccountForInvoicing | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: table(),
      Key: keys.account(accountId),
      ConsistentRead: true,
      ProjectionExpression:
        'account_id, #name, payment_terms_days, invoice_carry, open_invoices, open_invoices_rev, overdue_block_at',
      ExpressionAttributeNames: { '#name': 'name' },
    }),
  );
  return result.Item as AccountForInvoicing | undefined;
}

/** The per-feature usage the rollup consumer summed (`f:<feature>:cost|quantity|requests`). */
export function featureUsage(item: PeriodItem): Omit<InvoiceLine, 'cents'>[] {
  const features = new Map<string, Omit<InvoiceLine, 'cents'>>();
  for (const [attribute, value] of Object.entries(item)) {
    const match = /^f:(.+):(cost|quantity|requests)$/.exec(attribute);
    if (!match) continue;
    const [, feature, field] = match as unknown as [string, string, 'cost' | 'quantity' | 'requests'];
    const line = features.get(feature) ?? { feature, quantity: 0, requests: 0, cost: 0 as Micros };
    (line as Record<string, unknown>)[field] = Number(value);
    features.set(feature, line);
  }
  return [...features.values()].sort((a, b) => (a.feature < b.feature ? -1 : 1));
}

export type ClaimOutcome =
  | { kind: 'claimed'; item: PeriodItem }
  /** Another run claimed first, or the consumer rolled entries in since the read: re-read and look again. */
  | { kind: 'period_changed' }
  /** The carry moved since the read (another period of the account was claimed): recompute. */
  | { kind: 'carry_changed' };

/**
 * The item is exactly as read: `entries` grows with every batch the consumer rolls in (a charge and a
 * reversal of another call can leave `requests` and `cost` unchanged, never `entries`). A period item from
 * before the rollups has no `entries` until the consumer first adds to it; its `requests` and `cost` are
 * compared too, for a charge of a previous version still running during the upgrade.
 */
function unchangedSinceRead(read: PeriodItem): { condition: string; values: Record<string, unknown> } {
  const entries = read.entries === undefined ? 'attribute_not_exists(entries)' : 'entries = :entries';
  return {
    condition: `${entries} AND requests = :requests AND #cost = :cost`,
    values: {
      ':requests': read.requests,
      ':cost': read.cost,
      ...(read.entries === undefined ? {} : { ':entries': read.entries }),
    },
  };
}

/**
 * The claim: closes the period to late entries (`invoice_state`), records the computed invoice, takes the
 * lease, and moves the account's carry from `carry_in` to `carry_out`, all or nothing. It holds only if the
 * period is exactly as read and the carry is the one the plan used. A plan under one cent is `skipped` at
 * once and leaves the due index.
 */
export async function claimPeriod(
  read: PeriodItem,
  plan: InvoicePlan,
  owner: string,
  leaseUntil: number,
  nowIso: string,
): Promise<ClaimOutcome> {
  const { account_id: accountId, period } = read;
  const skipped = plan.cents === 0;
  const carryMatches =
    plan.carry_in === 0
      ? '(attribute_not_exists(invoice_carry) OR invoice_carry = :carryIn)'
      : 'invoice_carry = :carryIn';
  const unchanged = unchangedSinceRead(read);
  const items: TransactItem[] = [
    {
      Update: {
        TableName: table(),
        Key: keys.period(accountId, period),
        UpdateExpression: skipped
          ? 'SET invoice_state = :skipped, invoice = :plan, claimed_at = :now REMOVE GSI1PK, GSI1SK'
          : 'SET invoice_state = :claimed, invoice = :plan, claimed_at = :now, lease_owner = :owner, lease_until = :until',
        ConditionExpression: `attribute_exists(PK) AND attribute_not_exists(invoice_state) AND ${unchanged.condition}`,
        ExpressionAttributeNames: { '#cost': 'cost' },
        ExpressionAttributeValues: {
          ':plan': plan,
          ':now': nowIso,
          ...unchanged.values,
          ...(skipped
            ? { ':skipped': 'skipped' }
            : { ':claimed': 'claimed', ':owner': owner, ':until': leaseUntil }),
        },
      },
    },
    {
      Update: {
        TableName: table(),
        Key: keys.account(accountId),
        UpdateExpression: 'SET invoice_carry = :carryOut',
        ConditionExpression: `attribute_exists(PK) AND ${carryMatches}`,
        ExpressionAttributeValues: { ':carryIn': plan.carry_in, ':carryOut': plan.carry_out },
      },
    },
  ];
  const outcome = await transactWrite(items);
  if (outcome.committed) {
    return {
      kind: 'claimed',
      item: {
        ...read,
        invoice_state: skipped ? 'skipped' : 'claimed',
        invoice: plan,
        claimed_at: nowIso,
        ...(skipped ? {} : { lease_owner: owner, lease_until: leaseUntil }),
      },
    };
  }
  if (failedCondition(outcome, 0)) return { kind: 'period_changed' };
  if (failedCondition(outcome, 1)) return { kind: 'carry_changed' };
  throw new Error(`claim of ${accountId} ${period} was cancelled: ${JSON.stringify(outcome.reasons)}`);
}

/** Takes over the lease of a claimed, unfinished period whose holder's lease ran out (a crashed run). */
export async function takeLease(
  accountId: string,
  period: string,
  owner: string,
  nowMs: number,
  leaseUntil: number,
): Promise<PeriodItem | undefined> {
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: table(),
        Key: keys.period(accountId, period),
        UpdateExpression: 'SET lease_owner = :owner, lease_until = :until',
        ConditionExpression:
          'invoice_state IN (:claimed, :created, :finalized) AND (attribute_not_exists(lease_until) OR lease_until < :now)',
        ExpressionAttributeValues: {
          ':owner': owner,
          ':until': leaseUntil,
          ':now': nowMs,
          ':claimed': 'claimed',
          ':created': 'created',
          ':finalized': 'finalized',
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return result.Attributes as PeriodItem;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** Records the Stripe invoice's id as soon as it is known (the one invoice of this period, forever). */
export async function recordInvoiceId(
  accountId: string,
  period: string,
  owner: string,
  invoiceId: string,
): Promise<void> {
  const written = await updateIf({
    TableName: table(),
    Key: keys.period(accountId, period),
    UpdateExpression: 'SET stripe_invoice_id = :id, invoice_state = :created',
    ConditionExpression:
      'lease_owner = :owner AND invoice_state = :claimed AND (attribute_not_exists(stripe_invoice_id) OR stripe_invoice_id = :id)',
    ExpressionAttributeValues: {
      ':id': invoiceId,
      ':owner': owner,
      ':created': 'created',
      ':claimed': 'claimed',
    },
  });
  if (!written) {
    const current = await getPeriod(accountId, period);
    // The webhook may have stored the same id first, or this run resumed past it already.
    if (current?.stripe_invoice_id === invoiceId && current.lease_owner === owner) {
      await advanceState(accountId, period, owner, 'created');
      return;
    }
    throw new LeaseLostError(`lost the claim of ${accountId} ${period} while recording ${invoiceId}`);
  }
}

const ORDER: InvoiceState[] = ['claimed', 'created', 'finalized', 'sent'];

/** Moves the job's state forward under the lease (never backwards). */
export async function advanceState(
  accountId: string,
  period: string,
  owner: string,
  state: 'created' | 'finalized',
): Promise<void> {
  const earlier = ORDER.slice(0, ORDER.indexOf(state));
  const names = earlier.map((_, i) => `:s${i}`);
  const written = await updateIf({
    TableName: table(),
    Key: keys.period(accountId, period),
    UpdateExpression: 'SET invoice_state = :state',
    ConditionExpression: `lease_owner = :owner AND (invoice_state = :state OR invoice_state IN (${names.join(', ')}))`,
    ExpressionAttributeValues: {
      ':state': state,
      ':owner': owner,
      ...Object.fromEntries(earlier.map((value, i) => [names[i], value])),
    },
  });
  if (!written) throw new LeaseLostError(`lost the claim of ${accountId} ${period}`);
}

/** The period is fully invoiced: it leaves the due index and the lease is released. */
export async function finishPeriod(accountId: string, period: string, owner: string): Promise<void> {
  const written = await updateIf({
    TableName: table(),
    Key: keys.period(accountId, period),
    UpdateExpression: 'SET invoice_state = :sent REMOVE GSI1PK, GSI1SK, lease_owner, lease_until',
    ConditionExpression: 'lease_owner = :owner',
    ExpressionAttributeValues: { ':sent': 'sent', ':owner': owner },
  });
  if (!written) throw new LeaseLostError(`lost the claim of ${accountId} ${period} before finishing`);
}

/** A finished period still listed as due (a crash between finishing steps, or a stale index read). */
export async function leaveDueIndex(accountId: string, period: string): Promise<void> {
  await updateIf({
    TableName: table(),
    Key: keys.period(accountId, period),
    UpdateExpression: 'REMOVE GSI1PK, GSI1SK',
    ConditionExpression: 'invoice_state IN (:sent, :skipped)',
    ExpressionAttributeValues: { ':sent': 'sent', ':skipped': 'skipped' },
  });
}

/** Every invoiced period of the account, newest first (one item per month: a short list). */
export async function listInvoicedPeriods(accountId: string): Promise<PeriodItem[]> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    FilterExpression: 'attribute_exists(invoice_status) AND invoice_status <> :draft',
    ExpressionAttributeValues: {
      ':pk': keys.account(accountId).PK,
      ':prefix': keys.periodPrefix,
      ':draft': 'draft',
    },
    ScanIndexForward: false,
  });
  return items as PeriodItem[];
}
