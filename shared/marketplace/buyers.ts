// Marketplace buyers in the table: the lookup from AWS identity to account, the buyer's metering registration
// (identity, zero-hour cursor, end of subscription) and the sparse index of buyers that need hourly records.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys, MARKETPLACE_PENDING_SHARDS, shardOfAccount } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { updateIf } from '../dynamo/transact.ts';

export type SubscriptionStatus = 'active' | 'cancel_pending' | 'cancelled' | 'failed';

/** Calls are served in these states; the charging transaction checks the same list. */
export const USABLE_STATES: SubscriptionStatus[] = ['active', 'cancel_pending'];
export const ENDED_STATES: SubscriptionStatus[] = ['cancelled', 'failed'];

/** Ties between events of the same second: the later state in a subscription's life wins. */
const RANK: Record<SubscriptionStatus, number> = { active: 1, cancel_pending: 2, failed: 3, cancelled: 4 };

/**
 * The subscription's version: the time of the fact it came from, then its rank. A change is applied only
 * when its version is greater, so duplicated and reordered events converge to the same state. Seconds, as
 * EventBridge stamps events: a cancellation in the registration's second must not look older than it.
 */
export function subscriptionVersion(atIso: string, status: SubscriptionStatus): string {
  return `${new Date(atIso).toISOString().slice(0, 19)}Z#${RANK[status]}`;
}

/**
 * The version of a state no lifecycle fact has dated: a first registration with nothing remembered. Any fact
 * about the subscription is newer, so a cancellation that happened before the registration but is delivered
 * after it still ends the subscription.
 */
export const UNDATED_VERSION = '0000-00-00T00:00:00Z#0';

/** What ResolveCustomer told us about the buyer; stored on the account as `marketplace`. */
export type BuyerIdentity = {
  customer_aws_account_id: string;
  license_arn: string;
  product_code?: string;
  customer_identifier?: string;
};

export type Buyer = {
  account_id: string;
  marketplace: BuyerIdentity;
  registered_at: string;
  /** The last hour for which a (zero) hour record is known to exist. */
  zero_through?: string;
  /** When the subscription ended: hours up to this one are still reported, none after. */
  ends_at?: string;
  GSI1PK?: string;
};

export type CustomerLookup = {
  account_id: string;
  customer_aws_account_id: string;
  license_arn: string;
  customer_identifier?: string;
};

const T = () => config.tableName;
const BUYER_SHARDS = MARKETPLACE_PENDING_SHARDS;

export const buyersIndex = (accountId: string) =>
  keys.marketplaceBuyersIndex(shardOfAccount(accountId, BUYER_SHARDS), accountId);
export const customersIndex = (accountId: string) =>
  keys.marketplaceCustomersIndex(shardOfAccount(accountId, BUYER_SHARDS), accountId);

/** Legacy SNS messages name the buyer by CustomerIdentifier only: a second lookup, written with the first. */
export const customerIdentifierKey = (identifier: string) => ({
  PK: `MKT_CUSTOMER_ID#${identifier}`,
  SK: 'MKT_CUSTOMER_ID',
});

export async function findCustomer(customerAwsAccountId: string): Promise<CustomerLookup | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: T(),
      Key: keys.marketplaceCustomer(customerAwsAccountId),
      ConsistentRead: true,
    }),
  );
  return result.Item as CustomerLookup | undefined;
}

export async function findCustomerByIdentifier(identifier: string): Promise<CustomerLookup | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: T(), Key: customerIdentifierKey(identifier), ConsistentRead: true }),
  );
  return result.Item as CustomerLookup | undefined;
}

export async function getBuyer(accountId: string): Promise<Buyer | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: T(), Key: keys.marketplaceBuyer(accountId), ConsistentRead: true }),
  );
  return result.Item as Buyer | undefined;
}

/** Every item of one sparse GSI1 partition set, all shards read at once. */
async function allInShards(shardKey: (shard: number) => string): Promise<Record<string, unknown>[]> {
  const pages = await Promise.all(
    Array.from({ length: BUYER_SHARDS }, (_, shard) =>
      queryAll({
        TableName: T(),
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': shardKey(shard) },
      }),
    ),
  );
  return pages.flat();
}

/** Buyers that need hourly records: subscribed, or ended less than a window ago. */
export async function buyersToMeter(): Promise<Buyer[]> {
  return (await allInShards(keys.marketplaceBuyersShard)) as Buyer[];
}

/** Every buyer ever registered (reconciliation). */
export async function allCustomers(): Promise<CustomerLookup[]> {
  return (await allInShards(keys.marketplaceCustomersShard)) as CustomerLookup[];
}

/** Moves the zero-hour cursor forward (never back). */
export async function advanceZeroThrough(accountId: string, hour: string): Promise<boolean> {
  return updateIf({
    TableName: T(),
    Key: keys.marketplaceBuyer(accountId),
    UpdateExpression: 'SET zero_through = :hour',
    ConditionExpression:
      'attribute_exists(PK) AND (attribute_not_exists(zero_through) OR zero_through < :hour)',
    ExpressionAttributeValues: { ':hour': hour },
  });
}

/** An ended buyer whose last hour has left the window: no more hourly records, out of the index. */
export async function retireBuyer(accountId: string, endsAt: string): Promise<boolean> {
  return updateIf({
    TableName: T(),
    Key: keys.marketplaceBuyer(accountId),
    UpdateExpression: 'REMOVE GSI1PK, GSI1SK',
    ConditionExpression: 'ends_at = :ends',
    ExpressionAttributeValues: { ':ends': endsAt },
  });
}
