// Charging metered calls: the middleware every paid feature uses, and `paidFeature`, which composes the
// whole chain (request id, token auth, body, Idempotency-Key, metering) around a feature's own function.
//
// Fixed price: the feature runs, then one transaction charges it (one DynamoDB round trip); a feature that
// fails is never charged. Per-unit price: an estimate is held before the feature runs, the actual cost is
// settled after and the rest released; a failed feature releases the whole hold; a hold never settled
// (crashed invocation) is released by the `expire-holds` job.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type * as z from 'zod/mini';
import { markDepletedNotified } from '../accounts/repository.ts';
import {
  applyToView,
  isViewFresh,
  noteMarkedDue,
  recentlyMarkedDue,
  refillDueAfter,
  refreshView,
  setView,
  viewOf,
} from '../accounts/view.ts';
import { dueIndexKey, markRefillDue } from '../auto-refill/store.ts';
import { requestRefill } from '../auto-refill/trigger.ts';
import { nowIso, nowMs } from '../clock.ts';
import { ConflictError, InsufficientCreditsError } from '../errors.ts';
import { publish } from '../events/bus.ts';
import { type ApiContext, type ApiEvent, type ApiResult, json } from '../http/api.ts';
import { authenticated, jsonBody, principalOf } from '../http/middleware.ts';
import { type ApiMiddleware, type ApiRequest, apiRequest } from '../http/request.ts';
import { idempotent } from '../idempotency/middleware.ts';
import { chargeUsage, releaseHold, reserveHold, settleHold, type UsageCharge } from '../ledger/ledger.ts';
import type { AccountMoney, Hold } from '../ledger/types.ts';
import { costOf, type Micros, toWire } from '../money.ts';
import { logger, metrics } from '../observability/powertools.ts';
import { type FeaturePrice, priceOf } from './catalog.ts';

export type FeatureResult<R> = { results: R; quantity?: number };

type MeterState = {
  price: FeaturePrice;
  refresh?: Promise<void>;
  hold?: Hold;
  /** A redelivered request whose hold was already settled: report that cost, charge nothing. */
  settledBefore?: Micros;
};

const states = new WeakMap<object, MeterState>();
const DEPLETED_QUIET_MS = 60 * 60_000;

function refreshQuietly(accountId: string): Promise<void> {
  return refreshView(accountId).catch((error) => logger.warn('credits view refresh failed', { error }));
}

async function refuseForCredits(accountId: string, account: AccountMoney | undefined): Promise<never> {
  if (account) setView(accountId, account.available);
  // Out of credits with auto-refill on: make sure a refill is under way (the crossing debit may have been
  // made by an instance that did not know the threshold yet).
  if (account?.auto_refill_active && !recentlyMarkedDue(accountId)) {
    noteMarkedDue(accountId);
    if (await markRefillDue(accountId, nowIso())) await requestRefill(accountId);
  }
  metrics.addMetric('InsufficientCredits', MetricUnit.Count, 1);
  const at = nowIso();
  const quietSince = new Date(nowMs() - DEPLETED_QUIET_MS).toISOString();
  if (await markDepletedNotified(accountId, at, quietSince)) {
    await publish('credits.balance.depleted', accountId, {
      available: account ? toWire(account.available) : 0,
      balance: account ? toWire(account.balance) : 0,
    });
  }
  throw new InsufficientCreditsError();
}

function wrongMode(): never {
  throw new ConflictError('wrong_billing_mode', 'This account is not billed in a mode this feature supports');
}

/** `availableDrop`: how much this write takes from `available` (the cost, less any hold it releases). */
function chargeFor(
  request: ApiRequest,
  feature: string,
  quantity: number,
  cost: Micros,
  availableDrop: number = cost,
): UsageCharge {
  const { api } = request.context;
  const principal = principalOf(request.context);
  const at = nowIso();
  return {
    accountId: principal.accountId,
    entryId: api.entryId,
    requestId: api.requestId,
    tokenId: principal.tokenId,
    feature,
    quantity,
    cost,
    at,
    ...(api.idempotencyReference ? { guard: { reference: api.idempotencyReference } } : {}),
    ...(refillDueAfter(principal.accountId, availableDrop)
      ? { refillDue: dueIndexKey(principal.accountId, at) }
      : {}),
  };
}

/** After a committed debit that marked the account due: start the refill now rather than at the sweep. */
async function startRefillIfMarked(charge: UsageCharge): Promise<void> {
  if (!charge.refillDue || recentlyMarkedDue(charge.accountId)) return;
  noteMarkedDue(charge.accountId);
  await requestRefill(charge.accountId);
}

/** Charges without a hold; the cost reported is the one recorded, also when the request was charged before. */
async function chargeOnce(charge: UsageCharge): Promise<Micros> {
  const outcome = await chargeUsage(charge);
  switch (outcome.status) {
    case 'charged':
      applyToView(charge.accountId, -charge.cost);
      await startRefillIfMarked(charge);
      return charge.cost;
    case 'already_applied':
      return -outcome.amount as Micros;
    case 'insufficient':
      return refuseForCredits(charge.accountId, outcome.account);
    case 'wrong_mode':
      return wrongMode();
  }
  return outcome satisfies never;
}

async function settle(hold: Hold, charge: UsageCharge): Promise<Micros> {
  const outcome = await settleHold(hold, charge);
  switch (outcome.status) {
    case 'charged':
      applyToView(charge.accountId, hold.amount - charge.cost);
      await startRefillIfMarked(charge);
      return charge.cost;
    case 'already_applied':
      return -outcome.amount as Micros;
    case 'hold_not_open':
      // Expired by the job while the feature ran (far beyond any API timeout): charge without it.
      return chargeOnce(charge);
    case 'insufficient': {
      // The actual cost exceeded the hold and the difference is not available: charge what was held.
      metrics.addMetric('SettleCappedAtHold', MetricUnit.Count, 1);
      logger.warn('actual cost above hold and balance; charging the held amount', { hold: hold.hold_id });
      return settle(hold, { ...charge, cost: hold.amount });
    }
  }
  return outcome satisfies never;
}

/** The metering middleware for one catalog feature; `estimate` gives a per-unit feature's hold quantity. */
export function metered(feature: string, estimate?: (body: unknown) => number): ApiMiddleware {
  return {
    before: async (request) => {
      const price = priceOf(feature);
      const { accountId, tokenId } = principalOf(request.context);
      const state: MeterState = { price };
      states.set(request.context, state);
      if (price.pricing === 'fixed') {
        // Overlaps the feature's own work; awaited before the charge so the header's base predates it.
        if (!isViewFresh(accountId)) state.refresh = refreshQuietly(accountId);
        return;
      }
      if (!estimate) throw new Error(`feature "${feature}" is priced per unit and needs an estimate`);
      if (!isViewFresh(accountId)) await refreshQuietly(accountId);
      const amount = costOf(estimate(request.context.api.body), price.unitPrice);
      const outcome = await reserveHold({
        accountId,
        holdId: request.context.api.entryId,
        amount,
        requestId: request.context.api.requestId,
        tokenId,
        feature,
        at: new Date(nowMs()),
      });
      switch (outcome.status) {
        case 'reserved':
          applyToView(accountId, -amount);
          state.hold = outcome.hold;
          return;
        case 'exists':
          if (outcome.hold.status === 'open') state.hold = outcome.hold;
          if (outcome.hold.status === 'settled') state.settledBefore = outcome.hold.settled_amount;
          return;
        case 'insufficient':
          return refuseForCredits(accountId, outcome.account);
        case 'wrong_mode':
          return wrongMode();
      }
    },
    after: async (request) => {
      const state = states.get(request.context)!;
      const result = request.response as unknown as FeatureResult<unknown>;
      const { accountId } = principalOf(request.context);
      let cost: Micros;
      if (state.price.pricing === 'fixed') {
        await state.refresh;
        cost = await chargeOnce(chargeFor(request, feature, 1, state.price.price));
      } else {
        const quantity = result.quantity ?? 0;
        const actual = costOf(quantity, state.price.unitPrice);
        const charge = chargeFor(request, feature, quantity, actual, actual - (state.hold?.amount ?? 0));
        if (state.settledBefore !== undefined) cost = state.settledBefore;
        else if (state.hold) cost = await settle(state.hold, charge);
        else cost = await chargeOnce(charge);
      }
      state.hold = undefined;
      metrics.addMetric('ChargedMicros', MetricUnit.Count, cost);
      const remaining = viewOf(accountId);
      request.response = json(
        200,
        { results: result.results, cost: toWire(cost) },
        remaining === undefined ? {} : { 'x-credits-remaining': String(toWire(remaining)) },
      );
    },
    onError: async (request) => {
      const hold = states.get(request.context)?.hold;
      if (!hold) return;
      // The feature failed (or the settle could not run): give the whole hold back. If this write fails
      // too, the expire-holds job releases the hold when it expires.
      try {
        if (await releaseHold(hold, 'released', nowIso())) applyToView(hold.account_id, hold.amount);
      } catch (error) {
        logger.error('hold release failed; the expiry job will release it', { error, hold: hold.hold_id });
      }
    },
  };
}

export type PaidFeature<B, R> = {
  /** The catalog name of the feature: its price comes from the price catalog. */
  feature: string;
  body: z.ZodMiniType<B>;
  maxBodyBytes?: number;
  /** Per-unit features: the quantity to hold before running (an upper bound of the actual quantity). */
  estimate?: (body: B) => number;
  run: (body: B, context: ApiContext) => Promise<FeatureResult<R>> | FeatureResult<R>;
};

/** A complete Lambda handler for a paid feature behind API Gateway. */
export function paidFeature<B, R>(definition: PaidFeature<B, R>) {
  return middy<ApiEvent, ApiResult, Error, ApiContext>()
    .use(apiRequest())
    .use(authenticated('api'))
    .use(jsonBody(definition.body, definition.maxBodyBytes))
    .use(idempotent((request) => principalOf(request.context).accountId))
    .use(metered(definition.feature, definition.estimate as ((body: unknown) => number) | undefined))
    .handler(async (_event, context) => {
      const result = await definition.run(context.api.body as B, context);
      return result as unknown as ApiResult;
    });
}
