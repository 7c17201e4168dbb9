// API tokens in the table: a lookup item keyed by the token's hash, and the account's own record of it
// (listing, last use, revocation). Both are written together; the secret itself is never stored.
//
// The cap on active tokens is a counter item (keys.tokenCounter) in the same transactions: a creation
// increments it on condition that it is below the cap, a revocation decrements it on condition that the
// token was active, so racing creations can never pass the cap and a double revocation frees one slot.
// Accounts opened before the counter existed get it on their first token creation (startCounting).

import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { config, type RateLimit } from '../config.ts';
import { batchGetConsistent } from '../dynamo/batch-get.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import {
  failedCondition,
  isConditionFailure,
  reasonAt,
  type TransactItem,
  transactWrite,
} from '../dynamo/transact.ts';
import { newApiToken } from '../ids.ts';
import type { Micros } from '../money.ts';
import { type LimitReset, limitPeriodStart, type TokenLimitItem } from './spend-limit.ts';

export type Scope = 'api' | 'billing';

export type TokenRecord = {
  token_id: string;
  account_id: string;
  name: string;
  scopes: Scope[];
  prefix: string;
  token_hash: string;
  created_at: string;
  last_used_at?: string;
  revoked_at?: string;
  /**
   * Optional end of validity (ISO), `expires_at` on the wire. Not stored as `expires_at`: that is the table's
   * TTL attribute, and TTL deleting a token's items would lose its slot in the counter.
   */
  valid_until?: string;
  /** The token's own rate limit (`rate_limit` on the wire); without it the operator's default applies. */
  rate_limit?: RateLimit;
  /** The token's own spend limit; its running total is the limit item (shared/tokens/spend-limit.ts). */
  spend_limit?: TokenSpendLimit;
};

export type TokenSpendLimit = { amount: Micros; reset: LimitReset };

export type NewToken = { record: TokenRecord; token: string; items: TransactItem[] };

/** Builds a new token and the two puts that store it; the caller commits them (alone or with an account). */
export function prepareToken(input: {
  accountId: string;
  tokenId: string;
  name: string;
  scopes: Scope[];
  at: string;
  expiresAt?: string;
  rateLimit?: RateLimit;
  spendLimit?: TokenSpendLimit;
}): NewToken {
  const { token, hash, displayPrefix } = newApiToken();
  const record: TokenRecord = {
    token_id: input.tokenId,
    account_id: input.accountId,
    name: input.name,
    scopes: input.scopes,
    prefix: displayPrefix,
    token_hash: hash,
    created_at: input.at,
    ...(input.expiresAt ? { valid_until: input.expiresAt } : {}),
    ...(input.rateLimit ? { rate_limit: input.rateLimit } : {}),
    ...(input.spendLimit ? { spend_limit: input.spendLimit } : {}),
  };
  const items: TransactItem[] = [
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.tokenByHash(hash),
          kind: 'token_lookup',
          token_id: record.token_id,
          account_id: record.account_id,
          scopes: record.scopes,
          created_at: record.created_at,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
    {
      Put: {
        TableName: config.tableName,
        Item: { ...keys.accountToken(input.accountId, input.tokenId), kind: 'token', ...record },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
  ];
  if (input.spendLimit)
    items.push(limitSet(input.accountId, input.tokenId, input.spendLimit, true, input.at));
  return { record, token, items };
}

/**
 * Sets a token's limit item: a new one starts its period now with nothing spent; a changed amount keeps the
 * period's spend (the headroom may go below zero: the next call is refused); a changed reset starts the new
 * kind of period now, carrying what was spent (a change of reset never frees spend).
 */
export function limitSet(
  accountId: string,
  tokenId: string,
  limit: TokenSpendLimit,
  resetChanged: boolean,
  at: string,
): TransactItem {
  const periodStart = resetChanged ? ':p' : 'if_not_exists(period_start, :p)';
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.tokenLimit(accountId, tokenId),
      UpdateExpression: `SET kind = :kind, account_id = :account, token_id = :token, amount = :amount, #reset = :reset, period_start = ${periodStart}, spent = if_not_exists(spent, :zero), committed = if_not_exists(committed, :zero), headroom = :amount - if_not_exists(committed, :zero)`,
      ExpressionAttributeNames: { '#reset': 'reset' },
      ExpressionAttributeValues: {
        ':kind': 'token_limit',
        ':account': accountId,
        ':token': tokenId,
        ':amount': limit.amount,
        ':reset': limit.reset,
        ':p': limitPeriodStart(limit.reset, at),
        ':zero': 0,
      },
    },
  };
}

export type TokenChanges = {
  name?: string;
  /** null: the token no longer expires. */
  validUntil?: string | null;
  /** null: the token no longer has a limit (its limit item is deleted). */
  spendLimit?: TokenSpendLimit | null;
  /** null: the operator's default rate limit applies again. */
  rateLimit?: RateLimit | null;
};

/**
 * Changes an active token's name, expiry and spend limit, with its limit item, in one transaction; false
 * when the token is revoked or gone. Returns the record as it is now.
 */
export async function changeToken(
  record: TokenRecord,
  changes: TokenChanges,
  at: string,
  audit?: TransactItem,
): Promise<TokenRecord | undefined> {
  const set: string[] = ['updated_at = :at'];
  const remove: string[] = [];
  const values: Record<string, unknown> = { ':at': at };
  if (changes.name !== undefined) {
    set.push('#name = :name');
    values[':name'] = changes.name;
  }
  if (changes.validUntil === null) remove.push('valid_until');
  else if (changes.validUntil !== undefined) {
    set.push('valid_until = :until');
    values[':until'] = changes.validUntil;
  }
  if (changes.rateLimit === null) remove.push('rate_limit');
  else if (changes.rateLimit !== undefined) {
    set.push('rate_limit = :rate');
    values[':rate'] = changes.rateLimit;
  }
  if (changes.spendLimit === null) remove.push('spend_limit');
  else if (changes.spendLimit !== undefined) {
    set.push('spend_limit = :limit');
    values[':limit'] = changes.spendLimit;
  }
  const items: TransactItem[] = [
    {
      Update: {
        TableName: config.tableName,
        Key: keys.accountToken(record.account_id, record.token_id),
        UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(revoked_at)',
        ...(changes.name === undefined ? {} : { ExpressionAttributeNames: { '#name': 'name' } }),
        ExpressionAttributeValues: values,
      },
    },
  ];
  if (changes.spendLimit === null) {
    items.push({
      Delete: { TableName: config.tableName, Key: keys.tokenLimit(record.account_id, record.token_id) },
    });
  } else if (changes.spendLimit !== undefined) {
    const resetChanged = record.spend_limit?.reset !== changes.spendLimit.reset;
    items.push(limitSet(record.account_id, record.token_id, changes.spendLimit, resetChanged, at));
  }
  if (audit) items.push(audit);
  const outcome = await transactWrite(items);
  if (!outcome.committed) {
    if (failedCondition(outcome, 0)) return undefined;
    throw new Error(`token change cancelled: ${outcome.reasons.map((r) => r.code).join(', ')}`);
  }
  const { valid_until: _until, spend_limit: _limit, rate_limit: _rate, ...rest } = record;
  const validUntil = changes.validUntil === undefined ? record.valid_until : changes.validUntil;
  const spendLimit = changes.spendLimit === undefined ? record.spend_limit : changes.spendLimit;
  const rateLimit = changes.rateLimit === undefined ? record.rate_limit : changes.rateLimit;
  return {
    ...rest,
    ...(changes.name === undefined ? {} : { name: changes.name }),
    ...(validUntil ? { valid_until: validUntil } : {}),
    ...(spendLimit ? { spend_limit: spendLimit } : {}),
    ...(rateLimit ? { rate_limit: rateLimit } : {}),
  };
}

/** The limit items of the given tokens (those that have one), by token id. */
export async function getLimitItems(
  accountId: string,
  tokenIds: string[],
): Promise<Map<string, TokenLimitItem>> {
  const items = await batchGetConsistent(
    tokenIds.map((tokenId) => keys.tokenLimit(accountId, tokenId)),
    () => new Error('token limit items stayed unprocessed'),
  );
  const found = new Map<string, TokenLimitItem>();
  for (const item of items) if (item) found.set(String(item.token_id), item as TokenLimitItem);
  return found;
}

export type TokenLookup = {
  token_id: string;
  account_id: string;
  scopes: Scope[];
  revoked_at?: string;
};

/** The counter of a new account that is opened with `active` tokens in the same transaction. */
export function newTokenCounterPut(accountId: string, active: number): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: { ...keys.tokenCounter(accountId), kind: 'token_counter', active_tokens: active },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

export type InsertOutcome = 'created' | 'cap_reached' | 'uncounted' | 'guard_taken';

/**
 * Stores a prepared token and takes one slot under `cap`, in one transaction; `guard` (a put with its own
 * condition) joins it, so the token exists exactly when the guard does, and so does `audit` (its entry).
 */
export async function insertToken(
  prepared: NewToken,
  cap: number,
  guard?: TransactItem,
  audit?: TransactItem,
): Promise<InsertOutcome> {
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.tokenCounter(prepared.record.account_id),
        UpdateExpression: 'SET active_tokens = active_tokens + :one',
        ConditionExpression: 'active_tokens < :cap',
        ExpressionAttributeValues: { ':one': 1, ':cap': cap },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    ...prepared.items,
    ...(guard ? [guard] : []),
    ...(audit ? [audit] : []),
  ]);
  if (outcome.committed) return 'created';
  const counter = reasonAt(outcome, 0);
  if (counter?.code === 'ConditionalCheckFailed') return counter.item ? 'cap_reached' : 'uncounted';
  if (guard && failedCondition(outcome, 1 + prepared.items.length)) return 'guard_taken';
  throw new Error('token id collision');
}

/**
 * Gives an account opened before the counter existed its counter, set to its active tokens; false when they
 * already reach `cap` (nothing is written: the counter starts once one is revoked). Each counted token is
 * checked still active in the same transaction, so a revocation racing the count cancels it (and the caller
 * counts again) instead of being missed. Below the cap that is at most cap - 1 checks and one put, within
 * the 100 actions of a transaction.
 */
export async function startCounting(accountId: string, cap: number): Promise<boolean> {
  const active = (await listAccountTokens(accountId)).filter((t) => !t.revoked_at);
  if (active.length >= cap) return false;
  await transactWrite([
    newTokenCounterPut(accountId, active.length),
    ...active.map(
      (token): TransactItem => ({
        ConditionCheck: {
          TableName: config.tableName,
          Key: keys.accountToken(accountId, token.token_id),
          ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(revoked_at)',
        },
      }),
    ),
  ]);
  // Not committed: another creation started the counter first, or a token was revoked meanwhile; either way
  // the caller's next attempt sees the current state.
  return true;
}

export async function findTokenByHash(hash: string): Promise<TokenLookup | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.tokenByHash(hash) }),
  );
  return result.Item as TokenLookup | undefined;
}

/** Records a use and re-reads revocation in the same write; called at most once per cache period per token. */
export async function touchToken(
  accountId: string,
  tokenId: string,
  at: string,
): Promise<TokenRecord | undefined> {
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.accountToken(accountId, tokenId),
        UpdateExpression: 'SET last_used_at = :at',
        // A revoked token's last use stays the last use it had before it was revoked.
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(revoked_at)',
        ExpressionAttributeValues: { ':at': at },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return result.Attributes as TokenRecord;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

export async function getAccountToken(accountId: string, tokenId: string): Promise<TokenRecord | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.accountToken(accountId, tokenId),
      ConsistentRead: true,
    }),
  );
  return result.Item as TokenRecord | undefined;
}

export async function listAccountTokens(accountId: string): Promise<TokenRecord[]> {
  const records = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':prefix': keys.accountTokensPrefix },
    ConsistentRead: true,
  });
  return records as TokenRecord[];
}

/**
 * Marks both items revoked and frees the token's slot, in one transaction; false when the token was already
 * revoked (so a second revocation frees nothing). An account without a counter yet is checked to have none,
 * so that its first creation, counting tokens, either sees this revocation or cancels it.
 */
export async function revokeToken(record: TokenRecord, at: string, audit?: TransactItem): Promise<boolean> {
  const counterKey = keys.tokenCounter(record.account_id);
  const decrement: TransactItem = {
    Update: {
      TableName: config.tableName,
      Key: counterKey,
      UpdateExpression: 'SET active_tokens = active_tokens - :one',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: { ':one': 1 },
    },
  };
  const noCounter: TransactItem = {
    ConditionCheck: {
      TableName: config.tableName,
      Key: counterKey,
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
  for (const counter of [decrement, noCounter, decrement]) {
    const outcome = await revokeWith(record, at, counter, audit);
    if (outcome.committed) return true;
    if (failedCondition(outcome, 0)) return false;
    if (!failedCondition(outcome, 2)) {
      throw new Error(`token revocation cancelled: ${outcome.reasons.map((r) => r.code).join(', ')}`);
    }
    // No counter yet (an account from before it), or one started meanwhile: try the other shape.
  }
  throw new Error('token revocation kept conflicting with the start of its counter');
}

function revokeWith(record: TokenRecord, at: string, counter: TransactItem, audit?: TransactItem) {
  return transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.accountToken(record.account_id, record.token_id),
        UpdateExpression: 'SET revoked_at = :at',
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(revoked_at)',
        ExpressionAttributeValues: { ':at': at },
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: keys.tokenByHash(record.token_hash),
        UpdateExpression: 'SET revoked_at = :at',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':at': at },
      },
    },
    counter,
    ...(audit ? [audit] : []),
  ]);
}
