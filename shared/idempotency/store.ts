// Idempotency records: one per (scope, Idempotency-Key), holding the request's fingerprint, the request id
// that every attempt reuses, a lease for the attempt in progress, and the first final response.
// The records expire after IDEMPOTENCY_TTL_DAYS; the money effect does not, because each key's money
// movement is guarded by a permanent reference item written in the same transaction as the movement.
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { IDEMPOTENCY_LEASE_MS } from '#infra/definitions/timeouts.ts';
import { config, optionalNumber } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { conditionFailedItem, type TransactItem } from '../dynamo/transact.ts';

/** A final answer as stored for replays; `isBase64Encoded`: `body` is a binary answer's base64 (proxy routes). */
export type StoredResponse = {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
};

export type IdempotencyRecord = {
  fingerprint: string;
  request_id: string;
  status: 'in_progress' | 'completed' | 'released';
  lease_owner?: string;
  lease_until?: number;
  response?: StoredResponse;
  created_at: string;
};

export type ClaimOutcome =
  | { outcome: 'claimed'; record: IdempotencyRecord }
  | { outcome: 'completed'; record: IdempotencyRecord }
  | { outcome: 'in_progress'; record: IdempotencyRecord }
  | { outcome: 'mismatch' };

const ttlDays = () => optionalNumber('IDEMPOTENCY_TTL_DAYS', 7);

/** Where a key's record lives. */
export type RecordKey = { PK: string; SK: string };

/** Service scopes spread by their name already (`service-xx`); an account's keys spread by their hash. */
function spreadKey(scope: string, keyHash: string): RecordKey {
  return scope.startsWith('service-')
    ? keys.idempotency(scope, keyHash)
    : keys.idempotencySpread(scope, keyHash);
}

/**
 * The record's key: where it was first written. A record from before keys were spread (at most
 * IDEMPOTENCY_TTL_DAYS old) stays where it is, so a retry across the upgrade finds its answer.
 */
async function recordKeyOf(scope: string, keyHash: string): Promise<RecordKey> {
  const spread = spreadKey(scope, keyHash);
  const legacy = keys.idempotency(scope, keyHash);
  if (spread.PK === legacy.PK) return spread;
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: legacy,
      ConsistentRead: true,
      ProjectionExpression: 'PK',
    }),
  );
  return result.Item ? legacy : spread;
}

/**
 * Claims the key for this attempt. A new key takes `requestId`; a key whose earlier attempt was released
 * (failed with 5xx) or whose lease ran out is taken over with its original request id.
 */
export async function claimKey(input: {
  scope: string;
  keyHash: string;
  fingerprint: string;
  requestId: string;
  owner: string;
  nowMs: number;
}): Promise<ClaimOutcome & { key: RecordKey }> {
  const { scope, keyHash } = input;
  const key = await recordKeyOf(scope, keyHash);
  return { ...(await claimAt(key, input)), key };
}

async function claimAt(
  key: RecordKey,
  input: { fingerprint: string; requestId: string; owner: string; nowMs: number },
): Promise<ClaimOutcome> {
  const { fingerprint, requestId, owner, nowMs } = input;
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key,
        UpdateExpression:
          'SET kind = :kind, fingerprint = if_not_exists(fingerprint, :fp), request_id = if_not_exists(request_id, :rid), ' +
          '#status = :in_progress, lease_owner = :owner, lease_until = :lease, ' +
          'created_at = if_not_exists(created_at, :now_iso), expires_at = if_not_exists(expires_at, :expires)',
        ConditionExpression:
          'attribute_not_exists(PK) OR (fingerprint = :fp AND (#status = :released OR (#status = :in_progress AND lease_until < :now)))',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':kind': 'idempotency',
          ':fp': fingerprint,
          ':rid': requestId,
          ':in_progress': 'in_progress',
          ':released': 'released',
          ':owner': owner,
          ':lease': nowMs + IDEMPOTENCY_LEASE_MS,
          ':now': nowMs,
          ':now_iso': new Date(nowMs).toISOString(),
          ':expires': Math.floor(nowMs / 1000) + ttlDays() * 86_400,
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { outcome: 'claimed', record: result.Attributes as IdempotencyRecord };
  } catch (error) {
    const old = conditionFailedItem(error);
    if (old === null) throw error;
    if (!old) return { outcome: 'mismatch' };
    const record = old as IdempotencyRecord;
    if (record.fingerprint !== fingerprint) return { outcome: 'mismatch' };
    if (record.status === 'completed') return { outcome: 'completed', record };
    return { outcome: 'in_progress', record };
  }
}

export async function readKey(scope: string, keyHash: string): Promise<IdempotencyRecord | undefined> {
  return readRecord(await recordKeyOf(scope, keyHash));
}

export async function readRecord(key: RecordKey): Promise<IdempotencyRecord | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: key, ConsistentRead: true }),
  );
  return result.Item as IdempotencyRecord | undefined;
}

/** Stores the final response; only the lease owner may, so a taken-over attempt cannot overwrite it. */
export async function completeKey(key: RecordKey, owner: string, response: StoredResponse): Promise<void> {
  await finish(
    key,
    owner,
    'SET #status = :completed, #response = :response REMOVE lease_owner, lease_until',
    {
      ':completed': 'completed',
      ':response': response,
    },
  );
}

/** Lets a retry take the key over at once (a 5xx or crash-free failure), keeping its request id. */
export async function releaseKey(key: RecordKey, owner: string): Promise<void> {
  await finish(key, owner, 'SET #status = :released REMOVE lease_owner, lease_until', {
    ':released': 'released',
  });
}

/** Deletes a key whose request was refused as invalid before anything ran, so the key can be used again. */
export async function forgetKey(key: RecordKey, owner: string): Promise<void> {
  try {
    await ddb().send(
      new DeleteCommand({
        TableName: config.tableName,
        Key: key,
        ConditionExpression: 'lease_owner = :owner',
        ExpressionAttributeValues: { ':owner': owner },
      }),
    );
  } catch (error) {
    if (conditionFailedItem(error) === null) throw error;
  }
}

async function finish(
  key: RecordKey,
  owner: string,
  updateExpression: string,
  values: Record<string, unknown>,
): Promise<void> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key,
        UpdateExpression: updateExpression,
        ConditionExpression: 'lease_owner = :owner',
        ExpressionAttributeNames: {
          '#status': 'status',
          ...(values[':response'] ? { '#response': 'response' } : {}),
        },
        ExpressionAttributeValues: { ...values, ':owner': owner },
      }),
    );
  } catch (error) {
    // Lost the lease to a takeover: that attempt now owns the record and will finish it.
    if (conditionFailedItem(error) === null) throw error;
  }
}

export type CompletedKey = {
  scope: string;
  keyHash: string;
  fingerprint: string;
  requestId: string;
  response: StoredResponse;
  nowMs: number;
};

/**
 * A key's record written complete in one put, for a request whose whole effect is one transaction (a
 * metering API charge): the put joins that transaction, so the key, the charge and its answer commit
 * together, with no claim before and no completion after. Fails (ALL_OLD) when the key has a record.
 * Such a record never expires: it is also the permanent guard of the money its key moved.
 */
export function completedKeyPut(input: CompletedKey): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: completedItem(input),
      ConditionExpression: 'attribute_not_exists(PK)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The same record put alone (a refusal, which writes nothing else): the key's existing record if it has one. */
export async function putCompletedKey(input: CompletedKey): Promise<IdempotencyRecord | undefined> {
  try {
    await ddb().send(
      new PutCommand({
        TableName: config.tableName,
        Item: completedItem(input),
        ConditionExpression: 'attribute_not_exists(PK)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return undefined;
  } catch (error) {
    const old = conditionFailedItem(error);
    if (old === null) throw error;
    return old as IdempotencyRecord | undefined;
  }
}

function completedItem(input: CompletedKey): Record<string, unknown> {
  return {
    ...keys.idempotency(input.scope, input.keyHash),
    kind: 'idempotency',
    fingerprint: input.fingerprint,
    request_id: input.requestId,
    status: 'completed',
    response: input.response,
    created_at: new Date(input.nowMs).toISOString(),
  };
}
