// The ledger's vocabulary: immutable entries that change a balance, and holds that reserve part of it.
import type { Micros } from '../money.ts';
import type { LimitReset } from '../tokens/spend-limit.ts';

/** The `kind` of a ledger entry's item: what the usage rollup consumer's stream filter lets through. */
export const LEDGER_ITEM_KIND = 'ledger';

export type EntryType =
  | 'grant'
  | 'correction'
  | 'usage'
  | 'reversal'
  | 'purchase'
  | 'refund'
  | 'dispute'
  | 'auto_refill';

export type LedgerEntry = {
  entry_id: string;
  account_id: string;
  type: EntryType;
  /** Signed: positive adds to the balance, negative takes from it. */
  amount: Micros;
  created_at: string;
  request_id?: string;
  token_id?: string;
  feature?: string;
  quantity?: number;
  reference?: string;
  reason?: string;
  hold_id?: string;
  /**
   * Postpaid and marketplace usage: the cost billed later (by invoice, or reported to AWS). The entry's
   * `amount` is then 0: the balance does not change.
   */
  accrued?: Micros;
  /**
   * Accrued usage (and its reversal) written since the period items and hour records are rollups: the
   * billing mode it accrues in, so the rollup consumer adds it to its period item (postpaid) or hour record
   * (marketplace). Entries written before carry none: their own transaction summed them there already.
   */
  billing_mode?: 'postpaid' | 'marketplace';
  /** Marketplace usage: the dimension it is reported in. */
  dimension?: string;
  /** A purchase or auto-refill credit: how it was paid ("Visa •••• 4242", or the method's type). */
  payment_method?: string;
  /** A purchase or auto-refill credit: Stripe's receipt, when it was known at credit time. */
  receipt_url?: string;
  /** A reversal: the id of the usage entry it gives back (a fixed-price call whose feature failed). */
  reverses?: string;
  /** A reversal: when the charge it gives back was made (its usage is taken back from that day). */
  reverses_at?: string;
  /** Made with a token that has its own spend limit: the limit's period it counted in (a reversal gives it back there). */
  limit_period?: string;
};

export type HoldStatus = 'open' | 'settled' | 'released' | 'expired';

export type Hold = {
  hold_id: string;
  account_id: string;
  amount: Micros;
  status: HoldStatus;
  hold_expires_at: string;
  created_at: string;
  request_id?: string;
  token_id?: string;
  feature?: string;
  settled_amount?: Micros;
  /** Settled at the held amount although this higher cost was asked (the rest was not available). */
  capped_from?: Micros;
  closed_at?: string;
  /**
   * A postpaid hold reserves the estimate against `period`'s spend-limit headroom, not the balance; a
   * Marketplace contract's against the contract's balance. None: prepaid.
   */
  mode?: 'postpaid' | 'marketplace_contract';
  period?: string;
  /** Made with a token that has its own spend limit: the limit's period the estimate was reserved in. */
  limit_period?: string;
  /** ... and how that limit resets (a settle made for the hold counts on it too). */
  limit_reset?: LimitReset;
};

/** The account item's money fields, as a write's condition failure returns them. */
export type AccountMoney = {
  balance: Micros;
  held: Micros;
  available: Micros;
  billing_mode: string;
  /** Auto-refill is on and active (a refused debit then makes sure a refill is under way). */
  auto_refill_active: boolean;
  /** The account is in the auto-refill sweep's index (shared/auto-refill/headroom.ts). */
  refill_listed: boolean;
};

/** The money fields of an account item (as a failed condition returned it). */
export function accountMoney(item: Record<string, unknown> | undefined): AccountMoney | undefined {
  if (!item) return undefined;
  const autoRefill = item.auto_refill as { enabled?: boolean; status?: string } | undefined;
  return {
    balance: item.balance as Micros,
    held: item.held as Micros,
    available: item.available as Micros,
    billing_mode: item.billing_mode as string,
    auto_refill_active: autoRefill?.status === 'active' && autoRefill.enabled === true,
    refill_listed: item.GSI2PK !== undefined,
  };
}
