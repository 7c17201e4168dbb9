// Accrued usage through the ledger's own charging transaction (the one every metered route makes), for
// postpaid accounts and Marketplace buyers: what the rollup consumer turns into period items and hour records.
import { expect } from 'vitest';
import { nowIso } from '#shared/clock.ts';
import { newUlid } from '#shared/ids.ts';
import { periodOf } from '#shared/ledger/accrual.ts';
import { chargeUsage, type UsageCharge } from '#shared/ledger/ledger.ts';
import type { Micros } from '#shared/money.ts';

export type AccrualMode = 'postpaid' | 'marketplace';

/** Charges a call of `cost` micro-USD now, in the account's billing mode; answers the charge as made. */
export async function chargeAccrued(
  accountId: string,
  mode: AccrualMode,
  input: { cost: number; feature?: string; quantity?: number; tokenId?: string },
): Promise<UsageCharge> {
  const entryId = newUlid();
  const at = nowIso();
  const base = {
    accountId,
    entryId,
    requestId: `req_${entryId}`,
    tokenId: input.tokenId,
    feature: input.feature ?? 'echo',
    quantity: input.quantity ?? 1,
    cost: input.cost as Micros,
    at,
  };
  if (mode === 'marketplace') {
    const charge: UsageCharge = { ...base, billing: { mode: 'marketplace', dimension: 'usage' } };
    expect((await chargeUsage(charge)).status).toBe('charged');
    return charge;
  }
  // The first charge of a period opens it on the account (`rollover`); the others add to it.
  for (const rollover of [false, true]) {
    const charge: UsageCharge = { ...base, billing: { mode: 'postpaid', period: periodOf(at), rollover } };
    const outcome = await chargeUsage(charge);
    if (outcome.status === 'charged') return charge;
    expect(outcome.status).toBe('period_moved');
  }
  throw new Error('the postpaid charge was refused');
}
