// Service keys in the table: a lookup item keyed by the key's hash (authentication is one GetItem) and the
// operator's record of it (listing, last use, revocation), written and revoked together. Never the secret.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { isConditionFailure, transactWrite } from '../dynamo/transact.ts';

export type ServiceKeyRecord = {
  key_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: string;
  last_used_at?: string;
  revoked_at?: string;
};

export type ServiceKeyLookup = { key_id: string; revoked_at?: string };

export async function insertServiceKey(record: ServiceKeyRecord): Promise<void> {
  const outcome = await transactWrite([
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.serviceKeyByHash(record.key_hash),
          kind: 'service_key_lookup',
          key_id: record.key_id,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
    {
      Put: {
        TableName: config.tableName,
        Item: { ...keys.serviceKey(record.key_id), kind: 'service_key', ...record },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
  ]);
  if (!outcome.committed) throw new Error('service key id or hash collision');
}

export async function findServiceKeyByHash(hash: string): Promise<ServiceKeyLookup | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.serviceKeyByHash(hash) }),
  );
  return result.Item as ServiceKeyLookup | undefined;
}

/** Records a use and re-reads revocation in the same write (at most once per cache period per key). */
export async function touchServiceKey(keyId: string, at: string): Promise<ServiceKeyRecord | undefined> {
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.serviceKey(keyId),
        UpdateExpression: 'SET last_used_at = :at',
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(revoked_at)',
        ExpressionAttributeValues: { ':at': at },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return result.Attributes as ServiceKeyRecord;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

export async function getServiceKey(keyId: string): Promise<ServiceKeyRecord | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.serviceKey(keyId), ConsistentRead: true }),
  );
  return result.Item as ServiceKeyRecord | undefined;
}

export async function listServiceKeys(): Promise<ServiceKeyRecord[]> {
  const records = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk',
    ExpressionAttributeValues: { ':pk': keys.serviceKeysPartition },
    ConsistentRead: true,
  });
  return records as ServiceKeyRecord[];
}

/** Marks both items revoked in one transaction; false when the key was already revoked. */
export async function revokeServiceKey(record: ServiceKeyRecord, at: string): Promise<boolean> {
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.serviceKey(record.key_id),
        UpdateExpression: 'SET revoked_at = :at',
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(revoked_at)',
        ExpressionAttributeValues: { ':at': at },
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: keys.serviceKeyByHash(record.key_hash),
        UpdateExpression: 'SET revoked_at = :at',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':at': at },
      },
    },
  ]);
  return outcome.committed;
}
