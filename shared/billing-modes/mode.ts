// The one interface through which a billing mode takes part in a charge. The ledger (shared/ledger/) and the
// metering middleware (shared/metering/) follow every charge the same way and ask the charge's mode for what
// differs: the account write and its condition, the refusal the condition's failure means, the ledger
// entry's money fields (which the stream's rollups bill from), and what the calling instance learns. Neither
// names a mode; each mode's rules are in its own file next to this one. Rules: ../metering/CHARGING.md.

import type { BillingMode as ModeName } from '../accounts/repository.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import type { UsageCharge } from '../ledger/ledger.ts';
import type { AccountMoney, Hold, LedgerEntry } from '../ledger/types.ts';
import type { Micros } from '../money.ts';
import type { AccrualIncrement } from '../usage/rollups.ts';
import { marketplace } from './marketplace.ts';
import { marketplaceContract } from './marketplace-contract.ts';
import { postpaid } from './postpaid.ts';
import { prepaid } from './prepaid.ts';

export type { ModeName };

/** Prepaid usage is debited from the balance. `refillDue`: this instance saw the debit cross the threshold. */
export type PrepaidBilling = { mode: 'prepaid'; refillDue?: boolean };

export type PostpaidBilling = {
  mode: 'postpaid';
  /** The charge's period, `YYYY-MM` of its time. */
  period: string;
  /** The account holds an older period (or none): this charge opens `period`. */
  rollover: boolean;
  /** Already admitted (a settle after a hold): neither the limit nor an overdue invoice refuses it. */
  admitted?: boolean;
};

export type MarketplaceBilling = { mode: 'marketplace'; dimension: string };

/** Usage debited from the balance an AWS Marketplace contract funded. */
export type ContractBilling = { mode: 'marketplace_contract' };

/** What a charge carries of its mode, decided at its time from what the instance knows of the account. */
export type Billing = PrepaidBilling | PostpaidBilling | MarketplaceBilling | ContractBilling;

/** Why an account refused a charge or hold: the mode reads it from the item its failed condition returned. */
export type Refusal =
  | { status: 'insufficient'; account: AccountMoney | undefined }
  | { status: 'spend_limit' }
  | { status: 'invoice_overdue' }
  | { status: 'subscription_inactive' }
  /** The account holds a newer period than the charge's: the charge is late and re-stamps itself. */
  | { status: 'period_moved'; accountPeriod: string | undefined };

/** A per-unit call's estimate to reserve before its work runs. */
export type HoldRequest = { accountId: string; amount: Micros; at: string };

/** Whether a charge's bookings can still be undone where they were made (a postpaid period may be closed). */
export type ReversalScope = { periodOpen: boolean };

/** The ledger entry's money fields: what the balance changes by, or what accrues to be billed later. */
export type EntryMoney = Pick<LedgerEntry, 'amount' | 'accrued' | 'billing_mode' | 'dimension'>;

/** The item a postpaid entry is billed in: its period's (`PERIOD#<YYYY-MM>`), read by invoicing. */
export type PeriodBucket = { mode: 'postpaid'; accountId: string; period: string };
/** The item a Marketplace entry is billed in: its hour and dimension's, read by the metering job. */
export type HourBucket = { mode: 'marketplace'; accountId: string; hour: string; dimension: string };
export type AccrualBucket = PeriodBucket | HourBucket;

/**
 * How a mode that bills usage later keeps it: the rollup the stream's consumer sums its accrued entries into
 * (shared/usage/rollups.ts), one item per bucket, which its job claims before billing it.
 */
export interface AccrualRollup<K extends AccrualBucket = AccrualBucket> {
  /** The bucket an entry of time `at` is billed in (a reversal: its charge's time). */
  bucketOf(entry: LedgerEntry, at: string): K;
  /** The bucket after `bucket`: where an entry goes when its own was claimed (invoiced, reported) already. */
  next(bucket: K): K;
  /** The bucket's name, unique across accounts and modes (the claimed buckets are a set of these). */
  id(bucket: K): string;
  /** Whether the item keeps a line per feature (an invoice's lines). */
  linesPerFeature: boolean;
  /** The write adding a transaction's sums to the bucket's item; refused once the bucket is claimed. */
  update(bucket: K, sums: AccrualIncrement): TransactItem;
}

/**
 * `B`: the billing a charge in this mode carries (prepaid charges may carry none); `K`: the bucket its
 * accrued usage is billed in.
 */
export interface BillingModeRules<
  B extends Billing | undefined = Billing | undefined,
  K extends AccrualBucket = AccrualBucket,
> {
  readonly name: ModeName;
  /** Modes that bill usage later: where it is kept until billed. None: the ledger entry moved the balance. */
  readonly accrual?: AccrualRollup<K>;

  // In the ledger's transactions (shared/ledger/ledger.ts, reversal.ts).
  /** The entry of a charge that uses `used` (negative: a reversal gives it back). */
  entryMoney(billing: B, used: Micros): EntryMoney;
  /** The account write of a charge, whose condition decides; `hold`: the hold the charge settles. */
  accountCharge(charge: UsageCharge, billing: B, hold?: Hold): TransactItem;
  /** The account write reserving an estimate; undefined: the mode holds nothing (`admit` decides instead). */
  accountReserve(request: HoldRequest, billing: B): TransactItem | undefined;
  /** What a hold records of its mode, so its settle and release find it again. */
  holdFields(billing: B): Partial<Hold>;
  /** The account write giving a hold's estimate back; undefined: there is nothing to give back any more. */
  accountRelease(hold: Hold, at: string): TransactItem | undefined;
  /** The account write undoing a charge's effect. */
  accountReversal(charge: UsageCharge, billing: B, at: string, scope: ReversalScope): TransactItem;
  /** Why the account refused: it is in this mode (the ledger checked), its condition failed. */
  refusal(billing: B, account: Record<string, unknown>, at: string): Refusal;
  /** A charge's billing rebuilt from its ledger entry (a retry reverses exactly what was booked). */
  billingOfEntry(entry: LedgerEntry): B;

  // Around the call (shared/metering/).
  /** The billing of a charge at `at` taking `availableDrop` from the account, as this instance knows it. */
  billingAt(accountId: string, at: string, availableDrop: number): B;
  /** For a mode that holds nothing: may the call run? False when the account turned out to be in another mode. */
  admit(accountId: string): Promise<boolean>;
  /** A hold was reserved: what the instance learns. */
  afterReserved(accountId: string, billing: B, amount: Micros): void;
  /** A charge committed, taking `availableDrop` from `available`: the instance's view, warnings, refills. */
  afterCharged(charge: UsageCharge, billing: B, availableDrop: number): Promise<void>;
  /** A reversal or release gave `amount` back. */
  gaveBack(accountId: string, amount: Micros): void;
  /** What the answer reports as left to spend (`x-credits-remaining`), when the mode has such a thing. */
  remaining(accountId: string): Micros | undefined;
  /** When to charge again after `refusal` (a period that moved on); undefined: the refusal stands. */
  retryAt(charge: UsageCharge, billing: B, refusal: Refusal): string | undefined;
  /** Ends the request with the refusal's error (402, 403), after its events and metrics. */
  refuse(charge: UsageCharge, billing: B, refusal: Refusal): Promise<never>;
}

/** The rules of the mode a stored name (an account's `billing_mode`, a hold's `mode`) names. */
export function modeNamed(name: string | undefined): BillingModeRules {
  switch (name) {
    case 'postpaid':
      return postpaid as BillingModeRules;
    case 'marketplace':
      return marketplace as BillingModeRules;
    case 'marketplace_contract':
      return marketplaceContract as BillingModeRules;
    default:
      return prepaid as BillingModeRules;
  }
}

/** The rollup of a bucket's mode. */
export function rollupOf(bucket: AccrualBucket): AccrualRollup {
  const rollup = modeNamed(bucket.mode).accrual;
  if (!rollup) throw new Error(`${bucket.mode} usage is not billed later`);
  return rollup;
}

/** The rules of a charge's mode (no billing: prepaid, the mode every account starts in). */
export function modeOfCharge(charge: Pick<UsageCharge, 'billing'>): BillingModeRules {
  return modeNamed(charge.billing?.mode);
}

/**
 * The rules of the mode a ledger entry was booked in: its `billing_mode`. Debited entries carry none: they
 * were booked in the debited mode the account is in (an account never leaves the contract mode, and the
 * operator switches only between prepaid and postpaid). Accrued entries written before entries carried one
 * were booked in the account's mode: postpaid unless the account is a buyer.
 */
export function modeOfEntry(entry: LedgerEntry, accountMode: string | undefined): BillingModeRules {
  if (entry.billing_mode) return modeNamed(entry.billing_mode);
  if (entry.accrued === undefined)
    return modeNamed(accountMode === 'marketplace_contract' ? accountMode : undefined);
  return modeNamed(accountMode === 'marketplace' ? accountMode : 'postpaid');
}

/** The rules of the mode a hold was made in. */
export function modeOfHold(hold: Hold): BillingModeRules {
  return modeNamed(hold.mode);
}
