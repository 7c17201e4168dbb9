// Reconciliation of a period: for every buyer, the usage the ledger accrued against the hour records, and the
// units claimed, reported and rejected against the units that usage was worth, to the unit.
//
// Per claimed hour, units x unit price + carry out = cost + carry in, exactly; the carry chain joins the hours.
// So over the period: units expected = (cost of the hours processed + first carry in - last carry out) / unit
// price, and every one of them is reported, rejected (flagged) or still in flight. Hours are the records' own
// UTC hours; ledger entries are taken by their request time, which can differ for an entry the rollup
// consumer billed in a later hour (its own was claimed already: a lagging clock, a late reversal), and the
// hour records follow the ledger by the consumer's lag (seconds): compare whole days or months, closed.
import * as z from 'zod/mini';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { ulidFrom } from '../ids.ts';
import { allCustomers } from './buyers.ts';
import { type HourRecord, hoursOfAccount } from './hour-store.ts';
import { HOUR_MS, hourKey } from './hours.ts';

const count = z.number().check(z.int());
const micros = count.check(z.describe('micro-USD'));

const buyerReconciliation = z.object({
  account_id: z.string(),
  customer_aws_account_id: z.optional(z.string()),
  /** Sum of the `accrued` cost of the buyer's ledger entries made in the period (micro-USD). */
  ledger_accrued_micros: micros,
  /** Sum of the hour records' cost (micro-USD): equals the ledger's. */
  hours_cost_micros: micros,
  /** Cost of hours not claimed yet (not converted into units yet). */
  pending_micros: micros,
  /** Cost of hours that missed the window and moved into the carry. */
  rolled_over_micros: micros,
  units_expected: count,
  units_reported: count,
  units_rejected: count,
  units_in_flight: count,
  /** units reported + rejected + in flight - expected: 0 when nothing was lost or counted twice. */
  difference_units: count,
  carry_in_micros: micros,
  carry_out_micros: micros,
  /** Hours whose carry in is not the previous hour's carry out (should be 0). */
  carry_breaks: count,
  ledger_matches_hours: z.boolean(),
  ok: z.boolean(),
});

export type BuyerReconciliation = z.output<typeof buyerReconciliation>;

export const reconciliationSchema = z.object({
  begin: z.string(),
  end: z.string(),
  dimension: z.string(),
  accounts: z.array(buyerReconciliation),
  totals: z.object({
    units_expected: count,
    units_reported: count,
    units_rejected: count,
    units_in_flight: count,
  }),
  ok: z.boolean(),
});

export type ReconciliationReport = z.output<typeof reconciliationSchema>;

const MIN_ENTROPY = new Uint8Array(10);
const MAX_ENTROPY = new Uint8Array(10).fill(255);

async function ledgerAccrued(accountId: string, beginMs: number, endMs: number): Promise<number> {
  const entries = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': keys.account(accountId).PK,
      ':from': `${keys.ledgerPrefix}${ulidFrom(beginMs, MIN_ENTROPY)}`,
      ':to': `${keys.ledgerPrefix}${ulidFrom(endMs - 1, MAX_ENTROPY)}`,
    },
    ProjectionExpression: 'accrued',
    ConsistentRead: true,
  });
  return entries.reduce((total, entry) => total + ((entry.accrued as number | undefined) ?? 0), 0);
}

export async function reconcileBuyer(
  accountId: string,
  beginMs: number,
  endMs: number,
  dimension = config.marketplaceDimension,
): Promise<BuyerReconciliation> {
  const hours = (await hoursOfAccount(accountId, hourKey(beginMs), hourKey(endMs - HOUR_MS))).filter(
    (h) => h.dimension === dimension,
  );
  hours.sort((a, b) => a.hour.localeCompare(b.hour));
  const processed = hours.filter((h) => h.state !== 'pending');
  const sum = (list: HourRecord[], value: (h: HourRecord) => number) =>
    list.reduce((total, h) => total + value(h), 0);
  const units = (state: HourRecord['state']) =>
    sum(
      processed.filter((h) => h.state === state),
      (h) => h.units ?? 0,
    );
  let carryBreaks = 0;
  for (let i = 1; i < processed.length; i++) {
    if (processed[i]!.carry_in !== processed[i - 1]!.carry_out) carryBreaks++;
  }
  const carryIn = processed[0]?.carry_in ?? 0;
  const carryOut = processed.at(-1)?.carry_out ?? 0;
  const processedCost = sum(processed, (h) => h.cost);
  const unitPrice = processed.find((h) => h.unit_price)?.unit_price ?? config.marketplaceUnitPriceMicros;
  const unitsExpected = Math.round((processedCost + carryIn - carryOut) / unitPrice);
  const ledger = await ledgerAccrued(accountId, beginMs, endMs);
  const hoursCost = sum(hours, (h) => h.cost);
  const reported = units('reported');
  const rejected = units('rejected');
  const inFlight = units('claimed');
  const difference = reported + rejected + inFlight - unitsExpected;
  return {
    account_id: accountId,
    ledger_accrued_micros: ledger,
    hours_cost_micros: hoursCost,
    pending_micros: sum(
      hours.filter((h) => h.state === 'pending'),
      (h) => h.cost,
    ),
    rolled_over_micros: sum(
      processed.filter((h) => h.state === 'rolled_over'),
      (h) => h.cost,
    ),
    units_expected: unitsExpected,
    units_reported: reported,
    units_rejected: rejected,
    units_in_flight: inFlight,
    difference_units: difference,
    carry_in_micros: carryIn,
    carry_out_micros: carryOut,
    carry_breaks: carryBreaks,
    ledger_matches_hours: ledger === hoursCost,
    ok: difference === 0 && carryBreaks === 0 && ledger === hoursCost && rejected === 0,
  };
}

/** Every buyer (or one) over [begin, end): hour-aligned bounds. */
export async function reconcileMarketplace(input: {
  begin: Date;
  end: Date;
  accountId?: string;
}): Promise<ReconciliationReport> {
  const beginMs = Math.floor(input.begin.getTime() / HOUR_MS) * HOUR_MS;
  const endMs = Math.ceil(input.end.getTime() / HOUR_MS) * HOUR_MS;
  const customers = input.accountId
    ? [{ account_id: input.accountId }]
    : (await allCustomers()).map((c) => ({
        account_id: c.account_id,
        customer_aws_account_id: c.customer_aws_account_id,
      }));
  const accounts: BuyerReconciliation[] = [];
  for (const customer of customers) {
    const report = await reconcileBuyer(customer.account_id, beginMs, endMs);
    accounts.push({
      ...report,
      ...('customer_aws_account_id' in customer
        ? { customer_aws_account_id: customer.customer_aws_account_id }
        : {}),
    });
  }
  const total = (key: 'units_expected' | 'units_reported' | 'units_rejected' | 'units_in_flight') =>
    accounts.reduce((sum, a) => sum + a[key], 0);
  return {
    begin: new Date(beginMs).toISOString(),
    end: new Date(endMs).toISOString(),
    dimension: config.marketplaceDimension,
    accounts,
    totals: {
      units_expected: total('units_expected'),
      units_reported: total('units_reported'),
      units_rejected: total('units_rejected'),
      units_in_flight: total('units_in_flight'),
    },
    ok: accounts.every((a) => a.ok),
  };
}
