// Charging metered calls: the middleware every paid feature uses, and `paidFeature`, which composes the
// whole chain (request id, token auth, body, Idempotency-Key, metering) around a feature's own function.
//
// Fixed price: one transaction charges the call before the feature runs (one DynamoDB round trip), so an
// account that cannot pay is refused before any work is done; a feature that fails has its charge reversed,
// once (shared/ledger/reversal.ts). Per-unit price: an estimate is held before the feature runs, the actual
// cost is settled after and the rest released; a failed feature releases the whole hold; a hold never
// settled (crashed invocation) is released by the `expire-holds` job. Rules: CHARGING.md.
//
// Every billing mode is charged along the same path: what differs (the billing a charge carries, how a
// refusal ends the request, what the instance learns from a charge) the account's mode says, through
// shared/billing-modes/.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { ANSWER_MARGIN_MS } from '#infra/definitions/timeouts.ts';
import type { Account } from '../accounts/repository.ts';
import { isViewFresh, modeOf, placementOfView, refreshView, setView } from '../accounts/view.ts';
import {
  type BillingModeRules,
  modeNamed,
  modeOfCharge,
  modeOfHold,
  type Refusal,
} from '../billing-modes/mode.ts';
import { nowIso } from '../clock.ts';
import { ChargeRejectedError, TemporarilyUnavailableError } from '../errors.ts';
import { type ApiContext, type ApiEvent, type ApiResult, json, type RouteHandler } from '../http/api.ts';
import { authenticated, jsonBody, principalOf } from '../http/middleware.ts';
import { type ApiMiddleware, type ApiRequest, apiRequest } from '../http/request.ts';
import { usd } from '../http/validation.ts';
import { idempotent } from '../idempotency/middleware.ts';
import { chargeOnShards, fundAccountItem } from '../ledger/balance-shards.ts';
import {
  type ChargeRetry,
  CompanionExistsError,
  releaseHold,
  reserveHold,
  settleHold,
  type UsageCharge,
} from '../ledger/ledger.ts';
import { nextChargeIdOf, readEarlierCharge, reverseCharge } from '../ledger/reversal.ts';
import { isSharded } from '../ledger/shards.ts';
import type { Hold } from '../ledger/types.ts';
import { costOf, type Micros, toWire } from '../money.ts';
import { flushingMetrics, logger, metrics } from '../observability/powertools.ts';
import {
  learnLimitPeriod,
  learnLimitRemoved,
  refuseForTokenLimit,
  tokenLimitAt,
} from '../tokens/limit-view.ts';
import type { LimitRefusal, LimitReset } from '../tokens/spend-limit.ts';
import { type FeaturePrice, priceOf } from './catalog.ts';

export type FeatureResult<R> = { results: R; quantity?: number };

type MeterState = {
  price: FeaturePrice;
  /** Fixed price: the charge made before the feature ran (or sent: its reply may have been lost). */
  charge?: UsageCharge;
  hold?: Hold;
  /** A redelivered request whose hold was already settled: report that cost, charge nothing. */
  settledBefore?: Micros;
};

const states = new WeakMap<object, MeterState>();

function refreshQuietly(accountId: string): Promise<void> {
  return refreshView(accountId).catch((error) => logger.warn('credits view refresh failed', { error }));
}

/** DynamoDB refused the write for a reason that is not money: a 500, never a 402 or a depletion event. */
function rejectCharge(charge: UsageCharge, reasons: string[]): never {
  metrics.addMetric('ChargeRefusedUnexpectedly', MetricUnit.Count, 1);
  throw new ChargeRejectedError(charge.entryId, reasons);
}

/** Ends the request with the refusal: the token's limit (402), or the account's as its mode says (402, 403). */
function refuse(charge: UsageCharge, refusal: Refusal | LimitRefusal): Promise<never> {
  if (refusal.status === 'token_limit' && charge.tokenLimit)
    return refuseForTokenLimit(charge.accountId, charge.tokenLimit);
  if (
    refusal.status === 'token_limit' ||
    refusal.status === 'limit_period' ||
    refusal.status === 'limit_removed'
  )
    throw new Error(`charge of ${charge.entryId}: limit refusal ${refusal.status} without a limit`);
  return modeOfCharge(charge).refuse(charge, charge.billing, refusal);
}

/** The mode this instance knows the account to be in (prepaid until it has read the account). */
function accountMode(accountId: string): BillingModeRules {
  return modeNamed(modeOf(accountId));
}

/** Builds a request's charge at a time; rebuilt when the account's mode or period turns out to differ. */
export type ChargeBuilder = (at: string) => UsageCharge;

/** A committed (or earlier committed) charge: its ledger entry and the cost recorded. */
export type Charged = { entryId: string; cost: Micros };

/**
 * Who pays and for which request: a metered call's token, or the customer a metering API call names. The
 * entry id is the request's (stable across retries of one Idempotency-Key), so a retry finds its charge.
 */
export type Payer = {
  accountId: string;
  tokenId: string | undefined;
  entryId: string;
  requestId: string;
  idempotencyReference?: string | undefined;
  /** The token has its own spend limit, reset per this period (its charges write its limit item). */
  limitReset?: LimitReset | undefined;
};

function payerOf(request: ApiRequest): Payer {
  const { api } = request.context;
  const principal = principalOf(request.context);
  return {
    accountId: principal.accountId,
    tokenId: principal.tokenId,
    entryId: api.entryId,
    requestId: api.requestId,
    idempotencyReference: api.idempotencyReference,
    limitReset: principal.limitReset,
  };
}

/** The account is in another mode than the charge assumed: this instance learns it, the charge is rebuilt. */
function learnMode(outcome: ChargeRetry, accountId: string): void {
  setView(accountId, outcome.account.available, outcome.item as unknown as Account);
}

/**
 * After a refusal: the time to charge again at (the account is in another mode, or its mode says the refusal
 * is retryable: a postpaid period moved on), or, when `final` or the refusal stands, the request ends with it.
 */
function nextAttempt(
  charge: UsageCharge,
  outcome: Refusal | LimitRefusal | ChargeRetry,
  final = false,
): Promise<string> | string {
  if (outcome.status === 'wrong_mode') {
    learnMode(outcome, charge.accountId);
    if (!final) return charge.at;
    throw new Error(`charge of ${charge.entryId} found the account's mode changing`);
  }
  // The token's limit item holds another period, or is gone: learn it, and build the charge again.
  if (outcome.status === 'limit_period' || outcome.status === 'limit_removed') {
    const tokenId = charge.tokenLimit!.tokenId;
    if (outcome.status === 'limit_period') learnLimitPeriod(tokenId, outcome.held);
    else learnLimitRemoved(tokenId);
    if (!final) return charge.at;
    throw new Error(`charge of ${charge.entryId} found the token's limit changing`);
  }
  if (outcome.status === 'token_limit') return refuse(charge, outcome);
  const next = modeOfCharge(charge).retryAt(charge, charge.billing, outcome);
  return next === undefined || final ? refuse(charge, outcome) : next;
}

const MAX_CHARGE_ATTEMPTS = 4;
/** A settle that keeps being refused gives up (the hold is then released) rather than retry until it expires. */
const MAX_SETTLE_ATTEMPTS = 3;

/** After a committed charge: what its mode learns (the instance's view, a spend warning, a prompt refill). */
function afterCharged(charge: UsageCharge, availableDrop: number): Promise<void> {
  if (charge.tokenLimit) learnLimitPeriod(charge.tokenLimit.tokenId, charge.tokenLimit.periodStart);
  return modeOfCharge(charge).afterCharged(charge, charge.billing, availableDrop);
}

/**
 * Charges a fixed-price call before its feature runs; `state.charge` is what a failure must reverse. A
 * retry of the request (same Idempotency-Key, or a redelivered event) finds its earlier charge: one that
 * stands pays for this run and nothing more is charged; one that was reversed is followed by the request's
 * next charge (a derived id), so the feature never runs unpaid and each charge is reversed at most once.
 */
async function chargeFirst(build: ChargeBuilder, state: MeterState): Promise<void> {
  let again: Pick<UsageCharge, 'entryId' | 'replaces'> | undefined;
  const stamp = (at: string): UsageCharge => ({ ...build(at), ...again });
  let charge = stamp(nowIso());
  for (let attempt = 0; attempt < MAX_CHARGE_ATTEMPTS; attempt++) {
    state.charge = charge;
    const outcome = await chargeOnShards(charge).catch((error: unknown) => {
      // Every attempt was cancelled (a partition at its write limit): nothing to reverse, and a reversal
      // would only add writes to the hot partition and, throttled itself, turn the 503 into a 500.
      if (error instanceof TemporarilyUnavailableError) state.charge = undefined;
      throw error;
    });
    if (outcome.status === 'charged') return afterCharged(charge, charge.cost);
    state.charge = undefined;
    if (outcome.status === 'companion_exists') throw new CompanionExistsError(outcome.item);
    if (outcome.status === 'already_applied') {
      const earlier = await readEarlierCharge(charge.accountId, outcome.entryId);
      if (!earlier)
        throw new Error(`guard of ${charge.entryId} names ${outcome.entryId}, which has no entry`);
      if (!earlier.reversed) {
        state.charge = earlier.charge;
        return;
      }
      again = { entryId: nextChargeIdOf(earlier.charge.entryId), replaces: earlier.charge.entryId };
      charge = stamp(nowIso());
      continue;
    }
    if (outcome.status === 'rejected') return rejectCharge(charge, outcome.reasons);
    const next = await nextAttempt(charge, outcome);
    charge = stamp(next);
  }
  throw new Error(`charge of ${charge.entryId} did not settle after ${MAX_CHARGE_ATTEMPTS} attempts`);
}

/** The feature failed after its charge: give the charge back, or leave the request for its retry to. */
async function reverseAfterFailure(request: ApiRequest, charge: UsageCharge): Promise<void> {
  try {
    const outcome = await reverseCharge(charge, nowIso());
    if (outcome === 'reversed') modeOfCharge(charge).gaveBack(charge.accountId, charge.cost);
  } catch (error) {
    // The answer becomes a 500, which releases the Idempotency-Key: the retry finds the charge standing,
    // runs the feature under it and reverses it if it fails again.
    metrics.addMetric('ChargeReversalFailed', MetricUnit.Count, 1);
    request.error = new Error(`reversal of charge ${charge.entryId} failed`, { cause: error });
  }
}

/** Charges without a hold; the cost reported is the one recorded, also when the request was charged before. */
export async function chargeOnce(build: ChargeBuilder, at: string = nowIso()): Promise<Charged> {
  let charge = build(at);
  for (let attempt = 0; attempt < MAX_CHARGE_ATTEMPTS; attempt++) {
    const outcome = await chargeOnShards(charge);
    if (outcome.status === 'charged') {
      await afterCharged(charge, charge.cost);
      return { entryId: charge.entryId, cost: charge.cost };
    }
    if (outcome.status === 'already_applied') return earlier(outcome);
    if (outcome.status === 'companion_exists') throw new CompanionExistsError(outcome.item);
    if (outcome.status === 'rejected') return rejectCharge(charge, outcome.reasons);
    const next = await nextAttempt(charge, outcome);
    charge = build(next);
  }
  throw new Error(
    `charge of ${charge.entryId} did not settle on a billing mode after ${MAX_CHARGE_ATTEMPTS} attempts`,
  );
}

function earlier(outcome: { entryId: string; amount: Micros; accrued?: Micros }): Charged {
  return { entryId: outcome.entryId, cost: (outcome.accrued ?? -outcome.amount) as Micros };
}

/**
 * Settles a hold at the cost `build` gives, releasing the rest; a cost above the hold that is not available
 * is capped at the hold (the hold then records the cost asked, `capped_from`).
 */
export async function settle(
  hold: Hold,
  build: ChargeBuilder,
  at: string = nowIso(),
  attempt = 1,
): Promise<Charged> {
  const charge = build(at);
  const outcome = await settleHold(hold, charge);
  switch (outcome.status) {
    case 'charged':
      await afterCharged(charge, charge.cost - hold.amount);
      return { entryId: charge.entryId, cost: charge.cost };
    case 'already_applied':
      return earlier(outcome);
    case 'rejected':
      return rejectCharge(charge, outcome.reasons);
    case 'hold_not_open':
      // Expired by the job while the feature ran (far beyond any API timeout): charge without it.
      return chargeOnce(build, charge.at);
    case 'insufficient':
    case 'spend_limit':
    case 'token_limit': {
      // Even the held amount is refused (a dispute took the balance below zero meanwhile): give up.
      if (attempt >= MAX_SETTLE_ATTEMPTS || charge.cost === hold.amount) return refuse(charge, outcome);
      // The actual cost exceeded the hold and the difference is not available (or not within the limit):
      // charge what was held, which was reserved for this call.
      metrics.addMetric('SettleCappedAtHold', MetricUnit.Count, 1);
      logger.warn('actual cost above hold and what is left; charging the held amount', {
        hold: hold.hold_id,
      });
      return settle(
        hold,
        (time) => ({ ...build(time), cost: hold.amount, cappedFrom: charge.cost }),
        charge.at,
        attempt + 1,
      );
    }
    case 'mode_changed':
    case 'wrong_mode': {
      // The account changed billing mode while the feature ran: the hold belongs to the old mode. Give it
      // back, then charge the call in the account's mode now.
      if (outcome.status === 'wrong_mode') learnMode(outcome, charge.accountId);
      else await refreshView(charge.accountId);
      if (await releaseHold(hold, 'released', nowIso()))
        modeOfHold(hold).gaveBack(hold.account_id, hold.amount);
      return chargeOnce(build, charge.at);
    }
  }
  const next = await nextAttempt(charge, outcome, attempt >= MAX_SETTLE_ATTEMPTS);
  return settle(hold, build, next, attempt + 1);
}

/**
 * Reserves a per-unit call's estimate in the account's mode: the new hold, or the request's hold made
 * before (a retry; it may be settled or released by now). A mode with no limit holds nothing: it admits the
 * call (or refuses it) before the work instead.
 */
export async function reserveFor(payer: Payer, feature: string, amount: Micros): Promise<Hold | undefined> {
  const { accountId, tokenId } = payer;
  let at = nowIso();
  for (let attempt = 0; attempt < MAX_CHARGE_ATTEMPTS; attempt++) {
    const mode = accountMode(accountId);
    // The hold's terms, as a charge of its estimate at `at` would have them (a refusal is read through it).
    const probe = chargeFor(payer, feature, 0, amount, amount, at);
    const { billing, tokenLimit } = probe;
    if (!mode.accountReserve({ accountId, amount, at }, billing)) {
      if (await mode.admit(accountId)) return undefined;
      continue;
    }
    const outcome = await reserveHold({
      accountId,
      holdId: payer.entryId,
      amount,
      requestId: payer.requestId,
      tokenId,
      feature,
      at: new Date(at),
      ...(billing ? { billing } : {}),
      ...(tokenLimit ? { tokenLimit } : {}),
    });
    switch (outcome.status) {
      case 'rejected':
        return rejectCharge(probe, outcome.reasons);
      case 'reserved':
        mode.afterReserved(accountId, billing, amount);
        if (tokenLimit) learnLimitPeriod(tokenLimit.tokenId, tokenLimit.periodStart);
        return outcome.hold;
      case 'exists':
        return outcome.hold;
    }
    // Holds are reserved on the account item: a sharded account whose total can pay moves credit there first.
    if (
      outcome.status === 'insufficient' &&
      mode.name === 'prepaid' &&
      isSharded(placementOfView(accountId)) &&
      (await fundAccountItem(accountId, amount))
    )
      continue;
    at = await nextAttempt(probe, outcome);
  }
  throw new Error(`hold for ${payer.entryId} did not settle on a billing mode`);
}

/** `availableDrop`: how much this write takes from `available` (the cost, less any hold it releases). */
export function chargeFor(
  payer: Payer,
  feature: string,
  quantity: number,
  cost: Micros,
  availableDrop: number = cost,
  at: string = nowIso(),
): UsageCharge {
  const mode = accountMode(payer.accountId);
  const billing = mode.billingAt(payer.accountId, at, availableDrop);
  const tokenLimit = tokenLimitAt(payer.tokenId, payer.limitReset, at);
  // Prepaid charges go where the account's shards and ledger slots are, as this instance knows them.
  const placement = mode.name === 'prepaid' ? placementOfView(payer.accountId) : undefined;
  return {
    accountId: payer.accountId,
    entryId: payer.entryId,
    requestId: payer.requestId,
    tokenId: payer.tokenId,
    feature,
    quantity,
    cost,
    at,
    ...(payer.idempotencyReference ? { guard: { reference: payer.idempotencyReference } } : {}),
    ...(billing ? { billing } : {}),
    ...(placement ? { placement } : {}),
    ...(tokenLimit ? { tokenLimit } : {}),
  };
}

/**
 * Before the work: charges a fixed-price call, or holds a per-unit call's `estimate` of units. Throws the
 * refusal (402/403) when the account cannot pay, so the work never starts.
 */
export async function payBeforeWork(
  request: ApiRequest,
  feature: string,
  estimate?: (body: unknown) => number,
): Promise<void> {
  const price = priceOf(feature);
  if (price.pricing === 'dynamic') {
    throw new Error(`feature "${feature}" is priced dynamically: it is charged through the metering API`);
  }
  const payer = payerOf(request);
  const state: MeterState = { price };
  states.set(request.context, state);
  // Read before the charge, so the header's base predates it (at most every CREDITS_VIEW_TTL_MS).
  if (!isViewFresh(payer.accountId)) await refreshQuietly(payer.accountId);
  if (price.pricing === 'fixed') {
    const cost = price.price;
    await chargeFirst((at) => chargeFor(payer, feature, 1, cost, cost, at), state);
    return;
  }
  if (!estimate) throw new Error(`feature "${feature}" is priced per unit and needs an estimate`);
  const hold = await reserveFor(payer, feature, costOf(estimate(request.context.api.body), price.unitPrice));
  if (hold?.status === 'open') state.hold = hold;
  if (hold?.status === 'settled') state.settledBefore = hold.settled_amount;
}

export type PaidCall = {
  cost: Micros /** Prepaid accounts: available credits after the call. */;
  remaining?: Micros;
};

/**
 * After the work succeeded: what the call cost (fixed: the charge made before; per unit: `quantity` units,
 * settled against the hold) and, for a prepaid account, what is left.
 */
export async function chargeForWork(request: ApiRequest, feature: string, quantity = 0): Promise<PaidCall> {
  const state = states.get(request.context);
  if (!state) throw new Error(`payBeforeWork did not run for ${feature}`);
  const { accountId } = principalOf(request.context);
  let cost: Micros;
  if (state.price.pricing === 'fixed') {
    if (!state.charge) throw new Error(`fixed-price call to ${feature} ran without a charge`);
    cost = state.charge.cost;
    // Answered: from here on an error (storing the Idempotency-Key's response) is not the feature's.
    state.charge = undefined;
  } else if (state.price.pricing === 'per_unit') {
    const actual = costOf(quantity, state.price.unitPrice);
    const hold = state.hold;
    const payer = payerOf(request);
    const build: ChargeBuilder = (at) =>
      chargeFor(payer, feature, quantity, actual, actual - (hold?.amount ?? 0), at);
    if (state.settledBefore !== undefined) cost = state.settledBefore;
    else if (hold) cost = (await settle(hold, build)).cost;
    else cost = (await chargeOnce(build)).cost;
  } else {
    throw new Error(`feature "${feature}" is priced dynamically: it is charged through the metering API`);
  }
  state.hold = undefined;
  metrics.addMetric('ChargedMicros', MetricUnit.Count, cost);
  const remaining = accountMode(accountId).remaining(accountId);
  return remaining === undefined ? { cost } : { cost, remaining };
}

/** The work failed (or was not paid for): reverse the fixed-price charge, or release the whole hold. */
export async function refundFailedWork(request: ApiRequest): Promise<void> {
  const state = states.get(request.context);
  if (state?.charge) {
    const charge = state.charge;
    state.charge = undefined;
    await reverseAfterFailure(request, charge);
  }
  const hold = state?.hold;
  if (!hold) return;
  state.hold = undefined;
  // If this write fails too, the expire-holds job releases the hold when it expires.
  try {
    if (await releaseHold(hold, 'released', nowIso()))
      modeOfHold(hold).gaveBack(hold.account_id, hold.amount);
  } catch (error) {
    logger.error('hold release failed; the expiry job will release it', { error, hold: hold.hold_id });
  }
}

/** The metering middleware for one catalog feature; `estimate` gives a per-unit feature's hold quantity. */
export function metered(feature: string, estimate?: (body: unknown) => number): ApiMiddleware {
  return {
    before: (request) => payBeforeWork(request, feature, estimate),
    after: async (request) => {
      const result = request.response as unknown as FeatureResult<unknown>;
      const { cost, remaining } = await chargeForWork(request, feature, result.quantity);
      request.response = json(
        200,
        { results: result.results, cost: toWire(cost) },
        remaining === undefined ? {} : { 'x-credits-remaining': String(toWire(remaining)) },
      );
    },
    onError: (request) => refundFailedWork(request),
  };
}

/** A paid feature's 200 answer: its `results` and the USD charged for the request. */
export function paidAnswerSchema<R>(results: z.ZodMiniType<R>) {
  return z.object({ results, cost: usd });
}

export type PaidFeature<B, R> = {
  /** The catalog name of the feature: its price comes from the price catalog. */
  feature: string;
  body: z.ZodMiniType<B>;
  /** The shape of `results` in the answer: `run` must return it, and the OpenAPI document shows it. */
  results: z.ZodMiniType<R>;
  maxBodyBytes?: number;
  /** Per-unit features: the quantity to hold before running (an upper bound of the actual quantity). */
  estimate?: (body: B) => number;
  run: (body: B, context: ApiContext) => Promise<FeatureResult<R>> | FeatureResult<R>;
};

/**
 * How long before the Lambda timeout a feature still running is abandoned as failed, so its charge is
 * reversed (or its hold released) by this invocation rather than left to a retry or the expiry job: the
 * margin every function keeps to answer (infra/definitions/timeouts.ts).
 */
const FEATURE_DEADLINE_MARGIN_MS = ANSWER_MARGIN_MS;

/** A complete Lambda handler for a paid feature behind API Gateway. */
export function paidFeature<B, R>(definition: PaidFeature<B, R>): RouteHandler {
  const chain = middy<ApiEvent, ApiResult, Error, ApiContext>({
    timeoutEarlyInMillis: FEATURE_DEADLINE_MARGIN_MS,
  })
    .use(apiRequest())
    .use(authenticated('api'))
    .use(jsonBody(definition.body, definition.maxBodyBytes))
    .use(idempotent((request) => principalOf(request.context).accountId))
    .use(metered(definition.feature, definition.estimate as ((body: unknown) => number) | undefined))
    .handler(async (_event, context) => {
      const result = await definition.run(context.api.body as B, context);
      return result as unknown as ApiResult;
    });
  return flushingMetrics(chain as unknown as RouteHandler);
}
