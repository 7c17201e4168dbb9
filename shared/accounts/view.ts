// This instance's view of accounts' available balances, for the `x-credits-remaining` header without an
// extra read per call. It learns from every write this instance makes (the change it applied), from every
// refused write (DynamoDB returns the current item), and from a read at most every CREDITS_VIEW_TTL_MS
// per account, so spending by other instances shows up within that time.

import { isListed } from '../auto-refill/headroom.ts';
import { relist } from '../auto-refill/store.ts';
import { BoundedMap } from '../bounded-map.ts';
import { nowMs } from '../clock.ts';
import { optionalNumber } from '../config.ts';
import { type Placement, placementOf } from '../ledger/shards.ts';
import type { Micros } from '../money.ts';
import { type Account, type BillingMode, getAccount } from './repository.ts';

/**
 * `refillBelow`: the auto-refill threshold while auto-refill is on and active, as last read. `mode` decides
 * which write a charge makes; for postpaid accounts `period` and `periodUsage` are the latest period the
 * account holds and its usage, `spendLimit` its limit (for the 80 % warning).
 */
type View = {
  available: Micros;
  readAt: number;
  refillBelow?: Micros;
  markedDueAt?: number;
  mode?: BillingMode;
  period?: string;
  periodUsage?: Micros;
  spendLimit?: Micros;
  /** How many balance shards the account has and where its charges' records go (shared/ledger/shards.ts). */
  placement?: Placement;
};

const views = new BoundedMap<string, View>(10_000);

const ttlMs = () => optionalNumber('CREDITS_VIEW_TTL_MS', 5_000);

export function isViewFresh(accountId: string): boolean {
  const view = views.get(accountId);
  return view !== undefined && nowMs() - view.readAt < ttlMs();
}

export function setView(accountId: string, available: Micros, account?: Account): void {
  const previous = views.get(accountId);
  const refill = account ? account.auto_refill : undefined;
  const refillBelow =
    account === undefined
      ? previous?.refillBelow
      : refill?.enabled && refill.status === 'active'
        ? refill.threshold
        : undefined;
  const billing = account
    ? {
        mode: account.billing_mode,
        period: account.period,
        periodUsage: account.period_usage,
        spendLimit: account.spend_limit,
        placement: placementOf(account),
      }
    : {
        mode: previous?.mode,
        period: previous?.period,
        periodUsage: previous?.periodUsage,
        spendLimit: previous?.spendLimit,
        placement: previous?.placement,
      };
  views.set(accountId, {
    available,
    readAt: nowMs(),
    ...(refillBelow === undefined ? {} : { refillBelow }),
    ...(previous?.markedDueAt ? { markedDueAt: previous.markedDueAt } : {}),
    ...(Object.fromEntries(
      Object.entries(billing).filter(([, value]) => value !== undefined),
    ) as Partial<View>),
  });
}

/** The billing mode this instance last saw (prepaid until it has read the account). */
export function modeOf(accountId: string): BillingMode {
  return views.get(accountId)?.mode ?? 'prepaid';
}

/** The account's shards and record layout as this instance last read them (one shard until it has). */
export function placementOfView(accountId: string): Placement | undefined {
  return views.get(accountId)?.placement;
}

/** The latest postpaid period this instance saw the account hold. */
export function periodOfView(accountId: string): string | undefined {
  return views.get(accountId)?.period;
}

/** Learns the period the account holds (from a refused write or a committed one). */
export function setPeriodOfView(accountId: string, period: string | undefined): void {
  const view = views.get(accountId);
  if (!view || period === undefined || (view.period !== undefined && view.period >= period)) return;
  view.period = period;
  view.periodUsage = 0 as Micros;
}

/**
 * Records a committed postpaid charge of `cost` in `period`; returns the usage before and after it as this
 * instance knows them, with the limit, for the spend-limit warning.
 */
export function applyAccrualToView(
  accountId: string,
  period: string,
  cost: Micros,
): { before: number; after: number; limit: Micros | undefined } | undefined {
  const view = views.get(accountId);
  if (!view) return undefined;
  const before = view.period === period ? (view.periodUsage ?? 0) : 0;
  view.period = period;
  view.periodUsage = (before + cost) as Micros;
  return { before, after: view.periodUsage, limit: view.spendLimit };
}

/** How often one instance sends a prompt refill request for one account; the sweep covers the rest. */
const REQUEST_AGAIN_AFTER_MS = 10_000;

/**
 * Whether a debit of `cost` leaves the balance below the auto-refill threshold as this instance knows them:
 * then a refill is requested at once (the prompt path). The sweep needs no such view: the debit itself
 * moves the account's headroom in the table (shared/auto-refill/headroom.ts).
 */
export function refillDueAfter(accountId: string, cost: number): boolean {
  const view = views.get(accountId);
  return view?.refillBelow !== undefined && view.available - cost < view.refillBelow;
}

export function recentlyMarkedDue(accountId: string): boolean {
  const markedAt = views.get(accountId)?.markedDueAt;
  return markedAt !== undefined && nowMs() - markedAt < REQUEST_AGAIN_AFTER_MS;
}

export function noteMarkedDue(accountId: string): void {
  const view = views.get(accountId);
  if (view) view.markedDueAt = nowMs();
  else views.set(accountId, { available: 0 as Micros, readAt: 0, markedDueAt: nowMs() });
}

/** Applies a change this instance committed; keeps the time of the last real read. */
export function applyToView(accountId: string, availableDelta: number): void {
  const view = views.get(accountId);
  if (view) view.available = (view.available + availableDelta) as Micros;
}

export function viewOf(accountId: string): Micros | undefined {
  return views.get(accountId)?.available;
}

const inFlight = new Map<string, Promise<void>>();

/** One read per account at a time: concurrent requests on one instance share it. */
export function refreshView(accountId: string): Promise<void> {
  let pending = inFlight.get(accountId);
  if (!pending) {
    pending = getAccount(accountId)
      .then(async (account) => {
        if (!account) return;
        setView(accountId, account.available, account);
        // Auto-refill switched on before accounts were listed for the sweep: list it now, once.
        if (!account.refill_listed && isListed(account, account.auto_refill)) await relist(accountId);
      })
      .finally(() => inFlight.delete(accountId));
    inFlight.set(accountId, pending);
  }
  return pending;
}

/** Tests only. */
export function clearViews(): void {
  views.clear();
}
