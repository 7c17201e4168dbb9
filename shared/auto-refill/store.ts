// Auto-refill's conditional writes on the account item: settings, the due mark (a sparse index entry that
// the sweep reads), the claim with its lease, and the recording of each attempt.
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Account } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure, updateIf } from '../dynamo/transact.ts';
import type { AutoRefill, RefillAttempt } from './types.ts';

export const REFILL_DUE_SHARDS = 4;

export function dueShardOf(accountId: string): number {
  let h = 0;
  for (const ch of accountId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % REFILL_DUE_SHARDS;
}

export function dueIndexKey(accountId: string, atIso: string) {
  return { GSI1PK: `REFILL_DUE#${dueShardOf(accountId)}`, GSI1SK: `${atIso}#${accountId}` };
}

export async function saveSettings(
  accountId: string,
  settings: AutoRefill,
  markDueAt?: string,
): Promise<Account> {
  const result = await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.account(accountId),
      UpdateExpression: `SET auto_refill = :settings${markDueAt ? ', GSI1PK = :duePk, GSI1SK = :dueSk' : ''}`,
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: {
        ':settings': settings,
        ...(markDueAt
          ? {
              ':duePk': dueIndexKey(accountId, markDueAt).GSI1PK,
              ':dueSk': dueIndexKey(accountId, markDueAt).GSI1SK,
            }
          : {}),
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return result.Attributes as Account;
}

/** Marks the account due (keeping an earlier due time), if auto-refill is on and active. */
export async function markRefillDue(accountId: string, atIso: string): Promise<boolean> {
  const due = dueIndexKey(accountId, atIso);
  return updateIf({
    TableName: config.tableName,
    Key: keys.account(accountId),
    UpdateExpression: 'SET GSI1PK = :duePk, GSI1SK = if_not_exists(GSI1SK, :dueSk)',
    ConditionExpression: 'auto_refill.enabled = :true AND auto_refill.#status = :active',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':duePk': due.GSI1PK,
      ':dueSk': due.GSI1SK,
      ':true': true,
      ':active': 'active',
    },
  });
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
 * lease released) and clears or keeps the due mark. Only the holder of `refillId` may.
 */
export async function finishRefill(
  accountId: string,
  refillId: string,
  next: AutoRefill,
  options: { stillDue: boolean },
): Promise<boolean> {
  return updateIf({
    TableName: config.tableName,
    Key: keys.account(accountId),
    UpdateExpression: `SET auto_refill = :next${options.stillDue ? '' : ' REMOVE GSI1PK, GSI1SK'}`,
    ConditionExpression: 'auto_refill.refill_id = :refill',
    ExpressionAttributeValues: { ':next': next, ':refill': refillId },
  });
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

/** A newly saved payment method ends a suspension: the customer changed (or re-confirmed) the method. */
export async function reactivate(accountId: string): Promise<boolean> {
  return updateIf({
    TableName: config.tableName,
    Key: keys.account(accountId),
    UpdateExpression:
      'SET auto_refill.#status = :active, auto_refill.consecutive_failures = :zero REMOVE auto_refill.suspended_reason',
    ConditionExpression: 'auto_refill.enabled = :true AND auto_refill.#status = :suspended',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':active': 'active',
      ':zero': 0,
      ':true': true,
      ':suspended': 'suspended',
    },
  });
}

/** Suspends auto-refill with a reason (a detached or expired method, SCA, repeated failures). */
export async function suspend(accountId: string, reason: string): Promise<boolean> {
  return updateIf({
    TableName: config.tableName,
    Key: keys.account(accountId),
    UpdateExpression:
      'SET auto_refill.#status = :suspended, auto_refill.suspended_reason = :reason REMOVE GSI1PK, GSI1SK',
    ConditionExpression: 'auto_refill.enabled = :true AND auto_refill.#status = :active',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':suspended': 'suspended',
      ':reason': reason,
      ':true': true,
      ':active': 'active',
    },
  });
}
