// API tokens in the table: a lookup item keyed by the token's hash, and the account's own record of it
// (listing, last use, revocation). Both are written together; the secret itself is never stored.

import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { isConditionFailure, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { newApiToken } from '../ids.ts';

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
};

export type NewToken = { record: TokenRecord; token: string; items: TransactItem[] };

/** Builds a new token and the two puts that store it; the caller commits them (alone or with an account). */
export function prepareToken(input: {
  accountId: string;
  tokenId: string;
  name: string;
  scopes: Scope[];
  at: string;
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
  return { record, token, items };
}

export type TokenLookup = { token_id: string; account_id: string; scopes: Scope[]; revoked_at?: string };

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

/** Marks both items revoked in one transaction; false when the token was already revoked. */
export async function revokeToken(record: TokenRecord, at: string): Promise<boolean> {
  const outcome = await transactWrite([
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
  ]);
  return outcome.committed;
}
