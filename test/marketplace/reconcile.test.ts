// Reconciliation: units reported against the hours' cost and the carry chain, to the unit, with drift
// (an hour without ledger entries, a rejected record) reported rather than hidden.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetClock, setClock } from '#shared/clock.ts';
import { runMetering } from '#shared/marketplace/metering.ts';
import { reconcileMarketplace } from '#shared/marketplace/reconcile.ts';
import type { MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import {
  accrue,
  billedUnits,
  registeredBuyer,
  startTestEmulator,
  stopTestEmulator,
  useFreshTable,
} from '../support/marketplace.ts';

let emulator: MarketplaceEmulator;

beforeEach(async () => {
  await useFreshTable();
  emulator = await startTestEmulator();
});

afterEach(async () => {
  await stopTestEmulator(emulator);
  resetClock();
});

describe('marketplace reconciliation', () => {
  it('accounts for every unit of a period: reported, carried, or still pending', async () => {
    setClock(new Date('2026-12-10T08:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    const costs = [1_234, 5_678, 999, 0, 2_001];
    for (const [i, cost] of costs.entries()) {
      if (cost) await accrue(buyer.accountId, `2026-12-10T${String(8 + i).padStart(2, '0')}:00:00Z`, cost);
    }
    setClock(new Date('2026-12-10T12:05:00Z'));
    await runMetering({ backoffMs: 5 });

    const report = await reconcileMarketplace({
      begin: new Date('2026-12-10T00:00:00Z'),
      end: new Date('2026-12-11T00:00:00Z'),
    });

    const [account] = report.accounts;
    expect(account).toMatchObject({
      account_id: buyer.accountId,
      customer_aws_account_id: buyer.customer.customer_aws_account_id,
      hours_cost_micros: 9_912,
      pending_micros: 2_001,
      units_expected: 7,
      units_reported: 7,
      difference_units: 0,
      carry_in_micros: 0,
      carry_out_micros: 911,
      carry_breaks: 0,
    });
    expect(billedUnits(emulator)).toBe(7);
    // Usage written straight to the hour records, with no ledger entries behind it, is drift.
    expect(account?.ledger_accrued_micros).toBe(0);
    expect(account?.ledger_matches_hours).toBe(false);
    expect(report.ok).toBe(false);
  });

  it('counts a rejected record as not billed, and flags it', async () => {
    setClock(new Date('2026-12-10T11:20:00Z'));
    const buyer = await registeredBuyer(emulator);
    await accrue(buyer.accountId, '2026-12-10T11:00:00Z', 3_000);
    emulator.control.unsubscribe(buyer.customer.customer_aws_account_id);
    setClock(new Date('2026-12-10T13:05:00Z'));
    await runMetering({ backoffMs: 5 });

    const report = await reconcileMarketplace({
      begin: new Date('2026-12-10T00:00:00Z'),
      end: new Date('2026-12-11T00:00:00Z'),
      accountId: buyer.accountId,
    });

    expect(report.accounts[0]).toMatchObject({
      units_expected: 3,
      units_reported: 0,
      units_rejected: 3,
      ok: false,
    });
  });
});
