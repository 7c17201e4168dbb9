// Auto-refill's conditional writes on the account item: settings with the account's listing in the sparse
// index the sweep reads (shared/auto-refill/headroom.ts), the claim with its lease, and each attempt's record.
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Account, getAccount, stripKeys } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { type BillingEvent, updateWithEvents } from '../events/outbox.ts';
import type { Micros } from '../money.ts';
import { headroomOf, isListed } from './headroom.ts';
import type { AutoRefill, RefillAttempt } from './types.ts';

/** Charges and setting changes racing a listing write make it read again; this many times at most. */
const MAX_LISTING_ATTEMPTS = 8;

/**
 * Writes new auto-refill settings and the listing they imply: the index key while auto-refill is on and
 * active on a prepaid account (removed otherwise), and the headroom from the available balance and the
 * threshold. Conditional on the balance, mode and settings read just before, so a charge or another setting
 * change that lands in between makes it read and compute again. `change` answers the new settings from the
 * account as read, or undefined to write nothing; `written` says whether it wrote.
 */
async function writeListed(
  accountId: string,
  change: (account: Account) => AutoRefill | undefined,
  audit?: (before: AutoRefill | undefined, after: AutoRefill) => TransactItem,
): Promise<{ account: Account; written: boolean } | undefined> {
  for (let attempt = 0; attempt < MAX_LISTING_ATTEMPTS; attempt++) {
    const account = await getAccount(accountId);
    if (!account) return undefined;
    const next = change(account);
    if (!next) return { account, written: false };
    const before = account.auto_refill;
    const listed = isListed(account, next);
    // A sharded account's headroom lives on its account item, which holds about 1/N of its credit: its share
    // of the threshold is 1/N too (shared/ledger/SHARDS.md), against the account item's own available.
    const shards = account.balance_shards ?? 1;
    const available = shards > 1 ? await ownAvailable(accountId) : account.available;
    const share = shards > 1 ? { ...next, threshold: Math.ceil(next.threshold / shards) as Micros } : next;
    const update = {
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET auto_refill = :next, refill_headroom = :headroom${listed ? ', GSI2PK = :listing' : ' REMOVE GSI2PK'}`,
      ConditionExpression: `available = :available AND billing_mode = :mode AND ${before ? 'auto_refill = :before' : 'attribute_not_exists(auto_refill)'}`,
      ExpressionAttributeValues: {
        ':next': next,
        ':headroom': headroomOf(available, share, listed),
        ':available': available,
        ':mode': account.billing_mode,
        ...(before ? { ':before': before } : {}),
        ...(listed ? { ':listing': keys.refillListing(accountId).GSI2PK } : {}),
      },
    };
    if (audit) {
      // A person's change: the update and its audit entry in one transaction (same condition, same retry).
      const outcome = await transactWrite([{ Update: update }, audit(before, next)]);
      if (outcome.committed) {
        // As ALL_NEW would have answered it: the account item's own `available`, the new settings and listing.
        const { refill_listed: _listed, ...rest } = account;
        const written = {
          ...rest,
          available,
          auto_refill: next,
          ...(listed ? { refill_listed: true as const } : {}),
        };
        return { account: written, written: true };
      }
      if (outcome.reasons[0]?.code !== 'ConditionalCheckFailed') {
        throw new Error(`auto-refill settings not saved: ${outcome.reasons.map((r) => r.code).join(', ')}`);
      }
      continue;
    }
    try {
      const result = await ddb().send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' }));
      return { account: stripKeys(result.Attributes ?? {}) as Account, written: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  throw new Error(`auto-refill settings of ${accountId} kept changing under the listing write`);
}

/** The account item's own `available` (for a sharded account, one shard's: getAccount answers the sum). */
async function ownAvailable(accountId: string): Promise<Micros> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.account(accountId),
      ProjectionExpression: 'available',
      ConsistentRead: true,
    }),
  );
  return Number(result.Item?.available ?? 0) as Micros;
}

/** Saves the settings `decide` makes from the account as it is now (it may throw to refuse them). */
export async function saveSettings(
  accountId: string,
  decide: (account: Account) => AutoRefill,
  audit?: (before: AutoRefill | undefined, after: AutoRefill) => TransactItem,
): Promise<Account | undefined> {
  return (await writeListed(accountId, decide, audit))?.account;
}

/**
 * Lists (or unlists) the account as its current settings and billing mode say, with its headroom computed
 * afresh: after a billing-mode change, and for an account whose auto-refill was switched on before accounts
 * were listed (no migration: the first instance that reads such an account lists it).
 */
export async function relist(accountId: string): Promise<void> {
  await writeListed(accountId, (account) => account.auto_refill);
}

/**
 * Claims the account for one refill: only when auto-refill is on and active and no other run holds the
 * lease. A run that crashed left its `refill_id`; the next claim keeps it, so Stripe sees the same
 * idempotency key and the same PaymentIntent.
 */
export async function claimRefill(
  accountId: string,
  newRefillId: string,
  nowMs: number,
): Promise<Account | undefined> {
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.account(accountId),
        UpdateExpression:
          'SET auto_refill.lease_until = :lease, auto_refill.refill_id = if_not_exists(auto_refill.refill_id, :refill)',
        ConditionExpression:
          'auto_refill.enabled = :true AND auto_refill.#status = :active AND ' +
          '(attribute_not_exists(auto_refill.lease_until) OR auto_refill.lease_until < :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':lease': nowMs + 60_000,
          ':refill': newRefillId,
          ':true': true,
          ':active': 'active',
          ':now': nowMs,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return result.Attributes as Account;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/**
 * Ends the claimed run: writes the new auto-refill state (attempt recorded, refill id cleared or kept,
 * lease released). Only the holder of `refillId` may. The account stays listed while it is active: the
 * sweep sees it again as long as its headroom is below zero.
 */
export async function finishRefill(
  accountId: string,
  refillId: string,
  next: AutoRefill,
  events: BillingEvent[],
): Promise<boolean> {
  return updateWithEvents(
    {
      Key: keys.account(accountId),
      // A run that suspends auto-refill takes the account off the sweep's list (resuming lists it again).
      UpdateExpression: `SET auto_refill = :next${next.status === 'active' ? '' : ' REMOVE GSI2PK'}`,
      ConditionExpression: 'auto_refill.refill_id = :refill',
      ExpressionAttributeValues: { ':next': next, ':refill': refillId },
    },
    events,
  );
}

/** Every attempt is also kept as its own record under the account: time, amount, outcome, reason. */
export async function logAttempt(accountId: string, attempt: RefillAttempt): Promise<void> {
  await ddb().send(
    new PutCommand({
      TableName: config.tableName,
      Item: {
        PK: keys.account(accountId).PK,
        SK: `REFILL#${attempt.at}#${attempt.refill_id}`,
        kind: 'refill_attempt',
        account_id: accountId,
        ...attempt,
      },
    }),
  );
}

/**
 * A newly saved payment method ends a suspension: the customer changed (or re-confirmed) the method. The
 * account is listed again, with its headroom from the balance now.
 */
export async function reactivate(accountId: string): Promise<boolean> {
  const result = await writeListed(accountId, (account) => {
    const state = account.auto_refill;
    if (!state?.enabled || state.status !== 'suspended') return undefined;
    const { suspended_reason: _reason, ...rest } = state;
    return { ...rest, status: 'active', consecutive_failures: 0 };
  });
  return result?.written ?? false;
}

/** Suspends auto-refill with a reason (a detached method), recording the customer's notice with it. */
export async function suspend(accountId: string, reason: string, notice: BillingEvent): Promise<boolean> {
  return updateWithEvents(
    {
      Key: keys.account(accountId),
      UpdateExpression:
        'SET auto_refill.#status = :suspended, auto_refill.suspended_reason = :reason REMOVE GSI2PK',
      ConditionExpression: 'auto_refill.enabled = :true AND auto_refill.#status = :active',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':suspended': 'suspended',
        ':reason': reason,
        ':true': true,
        ':active': 'active',
      },
    },
    [notice],
  );
}
