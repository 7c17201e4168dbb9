// The metering API (POST /v1/meter/*): the operator's own backends charge their callers through the same
// charge, hold and settle flows as a metered call (metered.ts), so each charge is the same single
// transaction with the same refusals, limits, usage, events and exactly-once guarantees. Only who pays is
// named differently: by the customer's token (as the customer sent it to the operator) or by account id.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { isViewFresh, refreshView, viewOf } from '../accounts/view.ts';
import { modeOfCharge, modeOfHold } from '../billing-modes/mode.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import {
  ConflictError,
  CustomerUnauthorizedError,
  DomainError,
  errorResponse,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  NotFoundError,
  TokenExpiredError,
  UnauthorizedError,
  ValidationError,
} from '../errors.ts';
import { type ApiState, json } from '../http/api.ts';
import { isoTime, usd, usdAmount } from '../http/validation.ts';
import {
  completedKeyPut,
  type IdempotencyRecord,
  putCompletedKey,
  readKey,
  type StoredResponse,
} from '../idempotency/store.ts';
import { CompanionExistsError, releaseHold } from '../ledger/ledger.ts';
import type { Hold } from '../ledger/types.ts';
import { costOf, type Micros, toWire } from '../money.ts';
import { enforceRateLimit } from '../rate-limit/enforce.ts';
import { authenticate, type Principal } from '../tokens/authenticate.ts';
import type { LimitReset } from '../tokens/spend-limit.ts';
import { type FeaturePrice, priceOf, UnknownFeatureError } from './catalog.ts';
import { chargeFor, chargeOnce, type Payer, reserveFor, settle } from './metered.ts';

const accountId = z.string().check(z.regex(/^acct_[0-9A-Z]{26}$/, 'is not an account id'));
const customerToken = z.string().check(z.maxLength(200));
/** Per-unit quantities: whole units, bounded so that no cost overflows the money type. */
const quantity = z.number().check(z.int(), z.gte(0), z.lte(1_000_000_000));
const amount = usdAmount.check(z.refine((value) => value >= 0, 'must not be negative'));
const feature = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'));

type Customer = { customer_token?: string | undefined; account_id?: string | undefined };

const oneCustomer = z.refine<Customer>(
  (body) => (body.customer_token === undefined) !== (body.account_id === undefined),
  { message: 'name the customer by exactly one of customer_token and account_id', path: ['customer_token'] },
);

/** A charge or a hold: the customer, the feature, and `quantity` (per unit) or `amount` (dynamic). */
export const meterCallBody = z
  .strictObject({
    customer_token: z.optional(customerToken),
    account_id: z.optional(accountId),
    feature,
    quantity: z.optional(quantity),
    amount: z.optional(amount),
  })
  .check(oneCustomer);

/** The customer may be named again, to make sure the hold is theirs (another account's hold is not found). */
export const meterSettleBody = z.strictObject({
  customer_token: z.optional(customerToken),
  account_id: z.optional(accountId),
  quantity: z.optional(quantity),
  amount: z.optional(amount),
});

export const holdPath = z.object({ id: z.string().check(z.maxLength(100)) });

export const meterChargeAnswer = z.object({
  charge_id: z.string(),
  account_id: z.string(),
  feature: z.string(),
  quantity: z.optional(z.number()),
  cost: usd,
  credits_remaining: z.optional(
    usd.check(z.describe('Prepaid accounts: the available balance after this charge')),
  ),
});

export const meterHoldAnswer = z.object({
  hold_id: z.string(),
  account_id: z.string(),
  amount_held: usd,
  expires_at: isoTime,
});

export const meterSettleAnswer = z.object({
  charge_id: z.string(),
  cost: usd,
  released: usd.check(z.describe('USD of the hold returned to the available balance')),
  capped: z
    .boolean()
    .check(z.describe('The cost asked was above the hold and not available: the hold was charged')),
});

export const meterReleaseAnswer = z.object({ released: usd });

type Priced = { quantity?: number | undefined; amount?: Micros | undefined };

/**
 * The customer a call names, as the payer of this request; a bad customer token charges nothing. `newWork`
 * (a charge or a hold, not the settling or release of one): the customer token's rate limit counts the call,
 * as if the customer had called this API with it, and refuses it before anything is charged.
 */
async function payerFor(customer: Customer, api: ApiState, newWork = false): Promise<Payer> {
  let account: string;
  let tokenId: string | undefined;
  let limitReset: LimitReset | undefined;
  if (customer.customer_token !== undefined) {
    let principal: Principal;
    try {
      principal = await authenticate(`Bearer ${customer.customer_token}`);
    } catch (error) {
      if (error instanceof UnauthorizedError || error instanceof TokenExpiredError)
        throw new CustomerUnauthorizedError({ cause: error });
      throw error;
    }
    if (newWork) enforceRateLimit(principal);
    account = principal.accountId;
    tokenId = principal.tokenId;
    limitReset = principal.limitReset;
  } else {
    account = customer.account_id!;
  }
  // The instance's view of the account (at most one read per CREDITS_VIEW_TTL_MS) tells its mode and
  // whether it exists at all: a charge to an account that does not exist is a 404, not a 402.
  if (!isViewFresh(account)) await refreshView(account);
  if (viewOf(account) === undefined) throw new NotFoundError('Account not found');
  return {
    accountId: account,
    tokenId,
    entryId: api.entryId,
    requestId: api.requestId,
    idempotencyReference: api.idempotencyReference,
    limitReset,
  };
}

function catalogPrice(name: string): FeaturePrice {
  try {
    return priceOf(name);
  } catch (error) {
    if (error instanceof UnknownFeatureError)
      throw new ValidationError([{ field: 'feature', problem: 'is not in the price catalog' }]);
    throw error;
  }
}

/** The cost a call asks for, by the feature's pricing: `quantity` per unit, `amount` for dynamic prices. */
function costFor(
  price: FeaturePrice,
  priced: Priced,
  defaultQuantity: number | undefined,
): {
  cost: Micros;
  quantity: number;
} {
  const problems: { field: string; problem: string }[] = [];
  if (price.pricing !== 'per_unit' && priced.quantity !== undefined)
    problems.push({ field: 'quantity', problem: 'applies to per-unit features only' });
  if (price.pricing !== 'dynamic' && priced.amount !== undefined)
    problems.push({ field: 'amount', problem: 'applies to dynamically priced features only' });
  if (price.pricing === 'dynamic' && priced.amount === undefined)
    problems.push({ field: 'amount', problem: 'is required for a dynamically priced feature' });
  if (price.pricing === 'dynamic' && priced.amount !== undefined && priced.amount > price.maxAmount)
    problems.push({
      field: 'amount',
      problem: `must be at most ${toWire(price.maxAmount)} (the feature's max_amount)`,
    });
  const units = priced.quantity ?? defaultQuantity;
  if (price.pricing === 'per_unit' && units === undefined)
    problems.push({ field: 'quantity', problem: 'is required for a per-unit feature' });
  if (problems.length) throw new ValidationError(problems);
  switch (price.pricing) {
    case 'fixed':
      return { cost: price.price, quantity: 1 };
    case 'per_unit':
      return { cost: costOf(units!, price.unitPrice), quantity: units! };
    case 'dynamic':
      return { cost: priced.amount!, quantity: 1 };
  }
}

/** What a charge request's Idempotency-Key gives: its record's scope and hash, and the request's fingerprint. */
export type ChargeKey = { scope: string; keyHash: string; fingerprint: string };

/** A charge's answer: made now, or replayed from the key's record (with the request id that made it). */
export type ChargeAnswer =
  | { made: z.output<typeof meterChargeAnswer> }
  | { replayed: StoredResponse; requestId: string };

function replayOf(record: IdempotencyRecord | undefined, key: ChargeKey): ChargeAnswer {
  if (!record || record.fingerprint !== key.fingerprint) throw new IdempotencyKeyReusedError();
  if (record.status !== 'completed' || !record.response) throw new IdempotencyInProgressError();
  return { replayed: record.response, requestId: record.request_id };
}

/**
 * `POST /v1/meter/charges`: one charge, as a metered call makes it (402/403 and nothing charged otherwise).
 * Its Idempotency-Key costs no round trip of its own: the key's completed record, answer included, is one
 * more put in the charge's transaction (the answer is known before the write), so a key with a record
 * replays it and a new key is charged and recorded at once. A refusal writes the record alone. The record
 * never expires, so it is also the key's permanent money guard (no `REF#idem:…` item: one item less in
 * every charge).
 */
export async function meterCharge(
  body: z.output<typeof meterCallBody>,
  api: ApiState,
  key: ChargeKey,
): Promise<ChargeAnswer> {
  const price = catalogPrice(body.feature);
  const asked = costFor(price, body, 1);
  let payer: Payer;
  try {
    payer = await payerFor(body, api, true);
  } catch (error) {
    // The customer's token was revoked (or expired) after this key's charge: its retry still gets the
    // answer the key had. Only this refusal reads the record; a charge never does.
    const earlier = error instanceof CustomerUnauthorizedError && (await readKey(key.scope, key.keyHash));
    if (earlier) return replayOf(earlier, key);
    throw error;
  }
  const record = (response: StoredResponse) => ({
    ...key,
    requestId: api.requestId,
    response: { ...response, headers: { ...response.headers, 'x-request-id': api.requestId } },
    nowMs: nowMs(),
  });
  let answered: z.output<typeof meterChargeAnswer> | undefined;
  try {
    const charged = await chargeOnce((at) => {
      const charge = chargeFor(payer, body.feature, asked.quantity, asked.cost, asked.cost, at);
      // A prepaid charge takes its cost off the instance's view as it commits (afterCharged): the answer
      // is known now, and written with the charge.
      const seen = modeOfCharge(charge).remaining(payer.accountId);
      answered = {
        charge_id: charge.entryId,
        account_id: payer.accountId,
        feature: body.feature,
        ...(price.pricing === 'per_unit' ? { quantity: asked.quantity } : {}),
        cost: toWire(charge.cost),
        ...(seen === undefined ? {} : { credits_remaining: toWire((seen - charge.cost) as Micros) }),
      };
      return { ...charge, companion: completedKeyPut(record(json(201, answered))) };
    });
    // The entry is the request's own: one with this id commits only with this key's record, which was new.
    if (charged.entryId !== payer.entryId)
      throw new Error(`charge ${payer.entryId} found ${charged.entryId}`);
    return { made: answered! };
  } catch (error) {
    if (error instanceof CompanionExistsError) return replayOf(error.item as IdempotencyRecord, key);
    if (error instanceof DomainError && (error.status === 402 || error.status === 403)) {
      const { status, body: refusal } = errorResponse(error);
      const existing = await putCompletedKey(record(json(status, refusal)));
      if (existing) return replayOf(existing, key);
    }
    throw error;
  }
}

/**
 * On the wire a hold is named by its account and its own id, so settling and releasing it is one read with
 * no lookup item; both parts are ULIDs, and a malformed id is simply not found.
 */
function wireHoldId(hold: Hold): string {
  return `hold_${hold.account_id.slice('acct_'.length)}_${hold.hold_id}`;
}

function parseHoldId(id: string): { accountId: string; holdId: string } {
  const match = /^hold_([0-9A-Z]{26})_([0-9A-Z]{26})$/.exec(id);
  if (!match) throw new NotFoundError('Hold not found');
  return { accountId: `acct_${match[1]}`, holdId: match[2]! };
}

/** `POST /v1/meter/holds`: reserves an upper bound of a per-unit or dynamically priced call's cost. */
export async function meterHold(
  body: z.output<typeof meterCallBody>,
  api: ApiState,
): Promise<z.output<typeof meterHoldAnswer>> {
  const price = catalogPrice(body.feature);
  if (price.pricing === 'fixed') {
    throw new ValidationError([
      { field: 'feature', problem: 'is fixed-price: charge it with POST /v1/meter/charges' },
    ]);
  }
  const asked = costFor(price, body, undefined);
  const payer = await payerFor(body, api, true);
  const hold = await reserveFor(payer, body.feature, asked.cost);
  if (!hold) {
    throw new ConflictError(
      'wrong_billing_mode',
      'AWS Marketplace buyers have no limit to hold against: charge them with POST /v1/meter/charges',
    );
  }
  return {
    hold_id: wireHoldId(hold),
    account_id: hold.account_id,
    amount_held: toWire(hold.amount),
    expires_at: hold.hold_expires_at,
  };
}

async function readHold(id: string, customer: Customer, api: ApiState): Promise<Hold> {
  const { accountId: account, holdId } = parseHoldId(id);
  if (customer.customer_token !== undefined || customer.account_id !== undefined) {
    if ((await payerFor(customer, api)).accountId !== account) throw new NotFoundError('Hold not found');
  }
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.hold(account, holdId), ConsistentRead: true }),
  );
  if (!result.Item) throw new NotFoundError('Hold not found');
  return result.Item as Hold;
}

function settledAnswer(hold: Hold): z.output<typeof meterSettleAnswer> {
  const cost = hold.settled_amount ?? (0 as Micros);
  return {
    charge_id: hold.hold_id,
    cost: toWire(cost),
    released: toWire(Math.max(0, hold.amount - cost) as Micros),
    capped: hold.capped_from !== undefined,
  };
}

/**
 * `POST /v1/meter/holds/{id}/settle`: charges the actual cost and releases the rest, in one transaction.
 * The charge's entry id is the hold's, so however many settles race or repeat, one charge is made and
 * each answers it. A hold no longer open (expired, released) is settled by charging without it.
 */
export async function meterSettle(
  id: string,
  body: z.output<typeof meterSettleBody>,
  api: ApiState,
): Promise<z.output<typeof meterSettleAnswer>> {
  const hold = await readHold(id, body, api);
  if (hold.status === 'settled') return settledAnswer(hold);
  const price = catalogPrice(hold.feature ?? '');
  const asked = costFor(price, body, undefined);
  const payer: Payer = {
    accountId: hold.account_id,
    tokenId: hold.token_id,
    entryId: hold.hold_id,
    requestId: api.requestId,
    idempotencyReference: api.idempotencyReference,
    // A hold reserved on its token's limit is settled on it too, whoever settles it.
    limitReset: hold.limit_reset,
  };
  if (!isViewFresh(payer.accountId)) await refreshView(payer.accountId);
  const charged = await settle(hold, (at) =>
    chargeFor(payer, hold.feature ?? '', asked.quantity, asked.cost, asked.cost - hold.amount, at),
  );
  const after = await readHold(id, {}, api);
  if (after.status === 'settled') return settledAnswer(after);
  return { charge_id: charged.entryId, cost: toWire(charged.cost), released: 0, capped: false };
}

/** What a closed hold gave back to the available balance. */
function releasedBy(hold: Hold): Micros {
  if (hold.status === 'settled') return Math.max(0, hold.amount - (hold.settled_amount ?? 0)) as Micros;
  return hold.amount;
}

/** `POST /v1/meter/holds/{id}/release`: gives the whole hold back; a closed hold answers what it gave back. */
export async function meterRelease(id: string, api: ApiState): Promise<z.output<typeof meterReleaseAnswer>> {
  const hold = await readHold(id, {}, api);
  if (hold.status === 'open' && (await releaseHold(hold, 'released', nowIso()))) {
    modeOfHold(hold).gaveBack(hold.account_id, hold.amount);
    return { released: toWire(hold.amount) };
  }
  const closed = hold.status === 'open' ? await readHold(id, {}, api) : hold;
  return { released: toWire(releasedBy(closed)) };
}
