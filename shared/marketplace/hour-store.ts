// The buyer-hour records in the table and the carried remainder: the rollup consumer sums a buyer's accrued
// ledger entries into the record of their hour while it is pending; every state change of an hour is a
// conditional write (pending → claimed → reported | rejected, or pending → rolled_over), and a claim
// consumes the carry in the same transaction, so a unit is never counted twice nor dropped.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys, MARKETPLACE_PENDING_SHARDS, shardOfAccount } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { type TransactItem, transactWrite, updateIf } from '../dynamo/transact.ts';

export type HourState = 'pending' | 'claimed' | 'reported' | 'rejected' | 'rolled_over';

/** Who the record is for: never both styles for one buyer and hour (AWS would bill twice). */
export type RecordIdentity =
  | { style: 'license'; customer_aws_account_id: string; license_arn: string }
  | { style: 'customer_identifier'; customer_identifier: string; product_code: string };

export type HourRecord = {
  account_id: string;
  hour: string;
  dimension: string;
  state: HourState;
  /** Exact micro-USD summed by the rollup consumer (negative only for a late reversal's hour). */
  cost: number;
  requests: number;
  /** Ledger entries rolled in (never decreases): a claim's proof that nothing changed since the read. */
  entries?: number;
  /** Fixed at the claim: the quantity sent, and the carry consumed and left. */
  units?: number;
  carry_in?: number;
  carry_out?: number;
  unit_price?: number;
  identity?: RecordIdentity;
  claim_id?: string;
  lease_until?: string;
  claimed_at?: string;
  metering_record_id?: string;
  /** `Results[].Status` of the record, or why it was never accepted. */
  aws_status?: string;
  reason?: string;
  reported_at?: string;
  /** Present while the hour is pending or claimed (the sparse index of unreported hours). */
  GSI1PK?: string;
};

export type Carry = { carry: number; seq: number; last_hour?: string };

const T = () => config.tableName;
const names = { '#state': 'state', '#cost': 'cost', '#hour': 'hour', '#requests': 'requests' };

export function hourIndex(accountId: string, hour: string, dimension: string) {
  return keys.marketplacePendingIndex(
    shardOfAccount(accountId, MARKETPLACE_PENDING_SHARDS),
    hour,
    accountId,
    dimension,
  );
}

/** What a batch of ledger entries adds to one hour record. */
export type HourIncrement = { cost: number; requests: number; entries: number };

/**
 * The rollup consumer's write to an hour record: the exact cost summed per buyer, hour and dimension, in the
 * pending index until the metering job reports it. Refused once the job claimed the hour (or rolled it
 * over): the consumer then books the entries into the next hour. Fixed size, whatever the traffic.
 */
export function hourRollupUpdate(
  accountId: string,
  hour: string,
  dimension: string,
  increment: HourIncrement,
): TransactItem {
  const index = hourIndex(accountId, hour, dimension);
  return {
    Update: {
      TableName: T(),
      Key: keys.marketplaceHour(accountId, hour, dimension),
      UpdateExpression:
        'SET kind = :kind, account_id = :account, #hour = :hour, dimension = :dimension, #state = if_not_exists(#state, :pending), GSI1PK = if_not_exists(GSI1PK, :gpk), GSI1SK = if_not_exists(GSI1SK, :gsk) ADD #cost :cost, #requests :requests, #entries :entries',
      ConditionExpression: 'attribute_not_exists(#state) OR #state = :pending',
      ExpressionAttributeNames: { ...names, '#entries': 'entries' },
      ExpressionAttributeValues: {
        ':kind': 'marketplace_hour',
        ':account': accountId,
        ':hour': hour,
        ':dimension': dimension,
        ':pending': 'pending',
        ':gpk': index.GSI1PK,
        ':gsk': index.GSI1SK,
        ':cost': increment.cost,
        ':requests': increment.requests,
        ':entries': increment.entries,
      },
    },
  };
}

/**
 * Makes sure the hour has a record (a zero hour for an idle buyer): the rollup consumer's own write with
 * nothing added. A claimed or reported hour is left alone.
 */
export async function ensureHour(accountId: string, hour: string, dimension: string): Promise<boolean> {
  const { Update } = hourRollupUpdate(accountId, hour, dimension, { cost: 0, requests: 0, entries: 0 });
  return updateIf(Update!);
}

export async function getHour(accountId: string, hour: string, dimension: string) {
  const result = await ddb().send(
    new GetCommand({
      TableName: T(),
      Key: keys.marketplaceHour(accountId, hour, dimension),
      ConsistentRead: true,
    }),
  );
  return result.Item as HourRecord | undefined;
}

/** Hours still to report (pending or claimed) that started before `beforeHour`, from every index shard. */
export async function unreportedHours(beforeHour: string): Promise<HourRecord[]> {
  const shards = Array.from({ length: MARKETPLACE_PENDING_SHARDS }, (_, shard) => shard);
  const pages = await Promise.all(
    shards.map((shard) =>
      queryAll({
        TableName: T(),
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk AND GSI1SK < :before',
        ExpressionAttributeValues: { ':pk': keys.marketplacePendingShard(shard), ':before': beforeHour },
      }),
    ),
  );
  return pages.flat() as HourRecord[];
}

/** One buyer's hour records from `fromHour` to `toHour` (both included), read consistently. */
export async function hoursOfAccount(accountId: string, fromHour: string, toHour: string) {
  const items = await queryAll({
    TableName: T(),
    KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': keys.account(accountId).PK,
      ':from': `${keys.marketplaceHourPrefix}${fromHour}`,
      ':to': `${keys.marketplaceHourPrefix}${toHour}#\uffff`,
    },
    ConsistentRead: true,
  });
  return items as HourRecord[];
}

export async function getCarry(accountId: string, dimension: string): Promise<Carry> {
  const result = await ddb().send(
    new GetCommand({
      TableName: T(),
      Key: keys.marketplaceCarry(accountId, dimension),
      ConsistentRead: true,
    }),
  );
  const item = result.Item as Carry | undefined;
  return {
    carry: item?.carry ?? 0,
    seq: item?.seq ?? 0,
    ...(item?.last_hour ? { last_hour: item.last_hour } : {}),
  };
}

/** The carry item's write in a claim or roll-over: it moves only from the version that was read. */
function carryWrite(
  accountId: string,
  dimension: string,
  read: Carry,
  carryOut: number,
  hour: string,
): TransactItem {
  return {
    Update: {
      TableName: T(),
      Key: keys.marketplaceCarry(accountId, dimension),
      UpdateExpression:
        'SET kind = :kind, account_id = :account, dimension = :dimension, carry = :carry, seq = :next, last_hour = :hour',
      ConditionExpression: read.seq === 0 ? 'attribute_not_exists(seq)' : 'seq = :seq',
      ExpressionAttributeValues: {
        ':kind': 'marketplace_carry',
        ':account': accountId,
        ':dimension': dimension,
        ':carry': carryOut,
        ':next': read.seq + 1,
        ':hour': hour,
        ...(read.seq === 0 ? {} : { ':seq': read.seq }),
      },
    },
  };
}

export type Claim = {
  units: number;
  carryIn: number;
  carryOut: number;
  unitPrice: number;
  identity: RecordIdentity;
  claimId: string;
  leaseUntil: string;
  at: string;
};

/**
 * The record is pending and exactly as read: `entries` grows with every batch the consumer rolls in (a
 * charge and a reversal can leave the cost unchanged, never `entries`). A record from before the rollups has
 * no `entries` until the consumer first adds to it; its cost is compared too.
 */
function pendingAsRead(record: HourRecord) {
  const entries = record.entries === undefined ? 'attribute_not_exists(#entries)' : '#entries = :entries';
  return {
    ConditionExpression: `#state = :pending AND #cost = :cost AND ${entries}`,
    names: { '#state': 'state', '#cost': 'cost', '#entries': 'entries' },
    values: {
      ':pending': 'pending',
      ':cost': record.cost,
      ...(record.entries === undefined ? {} : { ':entries': record.entries }),
    },
  };
}

/**
 * Claims a pending hour whose cost was read as `record.cost` and consumes the carry read as `carry`, in one
 * transaction: either both move or neither (another run claimed first, the consumer rolled entries in).
 */
export async function claimHour(record: HourRecord, carry: Carry, claim: Claim): Promise<boolean> {
  const asRead = pendingAsRead(record);
  const outcome = await transactWrite([
    {
      Update: {
        TableName: T(),
        Key: keys.marketplaceHour(record.account_id, record.hour, record.dimension),
        UpdateExpression:
          'SET #state = :claimed, units = :units, carry_in = :in, carry_out = :out, unit_price = :price, #identity = :identity, claim_id = :claim, lease_until = :lease, claimed_at = :at',
        ConditionExpression: asRead.ConditionExpression,
        ExpressionAttributeNames: { ...asRead.names, '#identity': 'identity' },
        ExpressionAttributeValues: {
          ...asRead.values,
          ':claimed': 'claimed',
          ':units': claim.units,
          ':in': claim.carryIn,
          ':out': claim.carryOut,
          ':price': claim.unitPrice,
          ':identity': claim.identity,
          ':claim': claim.claimId,
          ':lease': claim.leaseUntil,
          ':at': claim.at,
        },
      },
    },
    carryWrite(record.account_id, record.dimension, carry, claim.carryOut, record.hour),
  ]);
  return outcome.committed;
}

/** Takes over a claim whose lease ran out (its run crashed): the units and identity stay as claimed. */
export async function takeOverHour(
  record: HourRecord,
  claimId: string,
  leaseUntil: string,
  nowIso: string,
): Promise<boolean> {
  return updateIf({
    TableName: T(),
    Key: keys.marketplaceHour(record.account_id, record.hour, record.dimension),
    UpdateExpression: 'SET claim_id = :claim, lease_until = :lease',
    ConditionExpression: '#state = :claimed AND lease_until < :now',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: {
      ':claimed': 'claimed',
      ':claim': claimId,
      ':lease': leaseUntil,
      ':now': nowIso,
    },
  });
}

/** AWS accepted the record: the hour leaves the pending index for good. */
export async function markReported(
  record: HourRecord,
  meteringRecordId: string,
  at: string,
): Promise<boolean> {
  return updateIf({
    TableName: T(),
    Key: keys.marketplaceHour(record.account_id, record.hour, record.dimension),
    UpdateExpression:
      'SET #state = :reported, metering_record_id = :id, aws_status = :status, reported_at = :at REMOVE GSI1PK, GSI1SK, lease_until',
    ConditionExpression: '#state = :claimed',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: {
      ':reported': 'reported',
      ':claimed': 'claimed',
      ':id': meteringRecordId,
      ':status': 'Success',
      ':at': at,
    },
  });
}

/** AWS refused the record (or it can no longer be sent): kept, out of the pending index, for the alarm. */
export async function markRejected(
  record: HourRecord,
  status: string,
  reason: string,
  at: string,
): Promise<boolean> {
  return updateIf({
    TableName: T(),
    Key: keys.marketplaceHour(record.account_id, record.hour, record.dimension),
    UpdateExpression:
      'SET #state = :rejected, aws_status = :status, reason = :reason, rejected_at = :at REMOVE GSI1PK, GSI1SK, lease_until',
    ConditionExpression: '#state = :claimed',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: {
      ':rejected': 'rejected',
      ':claimed': 'claimed',
      ':status': status,
      ':reason': reason,
      ':at': at,
    },
  });
}

/**
 * A pending hour that can no longer be sent (its window closed before any run reached it): its whole cost
 * moves into the carry, so it is billed with the buyer's next reported hour instead of being lost.
 */
export async function rollOverHour(record: HourRecord, carry: Carry, at: string): Promise<boolean> {
  const carryOut = carry.carry + record.cost;
  const asRead = pendingAsRead(record);
  const outcome = await transactWrite([
    {
      Update: {
        TableName: T(),
        Key: keys.marketplaceHour(record.account_id, record.hour, record.dimension),
        UpdateExpression:
          'SET #state = :rolled, units = :zero, carry_in = :in, carry_out = :out, rolled_at = :at REMOVE GSI1PK, GSI1SK',
        ConditionExpression: asRead.ConditionExpression,
        ExpressionAttributeNames: asRead.names,
        ExpressionAttributeValues: {
          ...asRead.values,
          ':rolled': 'rolled_over',
          ':zero': 0,
          ':in': carry.carry,
          ':out': carryOut,
          ':at': at,
        },
      },
    },
    carryWrite(record.account_id, record.dimension, carry, carryOut, record.hour),
  ]);
  return outcome.committed;
}
