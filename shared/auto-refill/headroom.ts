// The refill headroom: how far an account's available balance is above its auto-refill threshold, kept on
// the account item by every write that changes `available` (the ledger's charges, holds, credits and
// reversals), so "below the threshold" is a fact of the table, whoever made the write and whatever caused
// it. Accounts with auto-refill on and active carry `GSI2PK` (keys.refillListing): the sweep reads the
// listed accounts whose headroom is below zero (shared/auto-refill/sweep.ts).
//
// No migration: an item written before the headroom existed has no `refill_headroom`, and the first write
// that moves `available` starts it from `available` (`if_not_exists`), which is exact for an unlisted
// account (no threshold counts). Listing an account (store.ts: settings, resume, the first read of an
// account whose auto-refill was on before this) sets it from the available balance and threshold in a write
// conditional on that balance, so a listed account's headroom is exact from then on.
import type { Account } from '../accounts/repository.ts';
import type { Micros } from '../money.ts';
import type { AutoRefill } from './types.ts';

/** The SET clause that moves the headroom with `available`: the same `sign` and `value` as its own clause. */
export function headroomFollows(sign: '+' | '-', value: string): string {
  return `refill_headroom = if_not_exists(refill_headroom, available) ${sign} ${value}`;
}

/** Whether the sweep should see this account: auto-refill on and active, and the account prepaid. */
export function isListed(account: Pick<Account, 'billing_mode'>, settings: AutoRefill | undefined): boolean {
  return settings?.enabled === true && settings.status === 'active' && account.billing_mode === 'prepaid';
}

/** The headroom a listing writes: below the threshold is below zero; unlisted, no threshold counts. */
export function headroomOf(available: Micros, settings: AutoRefill | undefined, listed: boolean): Micros {
  return (listed && settings ? available - settings.threshold : available) as Micros;
}
