// This instance's view of accounts' available balances, for the `x-credits-remaining` header without an
// extra read per call. It learns from every write this instance makes (the change it applied), from every
// refused write (DynamoDB returns the current item), and from a read at most every CREDITS_VIEW_TTL_MS
// per account, so spending by other instances shows up within that time.

import { nowMs } from '../clock.ts';
import { optionalNumber } from '../config.ts';
import type { Micros } from '../money.ts';
import { getAccount } from './repository.ts';

type View = { available: Micros; readAt: number };

const views = new Map<string, View>();
const MAX_VIEWS = 10_000;

const ttlMs = () => optionalNumber('CREDITS_VIEW_TTL_MS', 5_000);

export function isViewFresh(accountId: string): boolean {
  const view = views.get(accountId);
  return view !== undefined && nowMs() - view.readAt < ttlMs();
}

export function setView(accountId: string, available: Micros): void {
  if (!views.has(accountId) && views.size >= MAX_VIEWS) views.delete(views.keys().next().value!);
  views.set(accountId, { available, readAt: nowMs() });
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
      .then((account) => {
        if (account) setView(accountId, account.available);
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
