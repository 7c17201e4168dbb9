// Lifecycle facts about buyers who have not registered yet. AWS announces a purchase, and may announce its end,
// before the buyer completes the registration form: such a fact is remembered in a small item keyed by the
// buyer identity the event carries (its AWS account id, else its CustomerIdentifier) and licence, with the
// lifecycle's own version, so a newer fact is never replaced by an older one. The registration reads them and
// opens the account in the newest remembered state, in the transaction that creates it.
// Neither side can lose a fact to the other: remembering checks, in its transaction, that the buyer's lookup
// item does not exist (else the fact goes to the account), and the registration checks that the remembered
// items it read are unchanged (else it reads them again).
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { type TransactItem, transactWrite } from '../dynamo/transact.ts';
import {
  type BuyerIdentity,
  customerIdentifierKey,
  type SubscriptionStatus,
  subscriptionVersion,
} from './buyers.ts';

/** Remembered facts expire (DynamoDB TTL on `expires_at`) this long after their last write. */
export const EARLY_FACT_TTL_DAYS = 30;

export type EarlyFact = {
  status: SubscriptionStatus;
  /** When it happened (the event's time). */
  at: string;
  customerAwsAccountId?: string;
  customerIdentifier?: string;
  licenseArn?: string;
  source: string;
};

/** The newest fact remembered for a buyer, as the registration applies it. */
export type RememberedFact = {
  status: SubscriptionStatus;
  version: string;
  /** The event's time (ISO). */
  at: string;
  source: string;
};

export type RememberOutcome =
  /** Stored: the registration will apply it. */
  | 'remembered'
  /** The same fact, or a newer one, is already remembered. */
  | 'already_remembered_or_older'
  /** The buyer registered meanwhile: the fact is for its account now. */
  | 'registered_meanwhile'
  /** The event names neither an AWS account id nor a CustomerIdentifier. */
  | 'unidentified';

const T = () => config.tableName;

const byAccount = (customerAwsAccountId: string) => `ACCT#${customerAwsAccountId}`;
const byIdentifier = (customerIdentifier: string) => `CID#${customerIdentifier}`;

/** Remembers a fact about a buyer with no account yet, unless an equal or newer one is remembered. */
export async function rememberFact(fact: EarlyFact): Promise<RememberOutcome> {
  const buyer = fact.customerAwsAccountId
    ? byAccount(fact.customerAwsAccountId)
    : fact.customerIdentifier
      ? byIdentifier(fact.customerIdentifier)
      : undefined;
  if (!buyer) return 'unidentified';
  const lookup = fact.customerAwsAccountId
    ? keys.marketplaceCustomer(fact.customerAwsAccountId)
    : customerIdentifierKey(fact.customerIdentifier!);
  const version = subscriptionVersion(fact.at, fact.status);
  const outcome = await transactWrite([
    {
      Put: {
        TableName: T(),
        Item: {
          ...keys.marketplaceEarlyFact(buyer, fact.licenseArn),
          kind: 'marketplace_early_fact',
          subscription_status: fact.status,
          subscription_version: version,
          event_at: new Date(fact.at).toISOString(),
          source: fact.source,
          ...(fact.customerAwsAccountId ? { customer_aws_account_id: fact.customerAwsAccountId } : {}),
          ...(fact.customerIdentifier ? { customer_identifier: fact.customerIdentifier } : {}),
          ...(fact.licenseArn ? { license_arn: fact.licenseArn } : {}),
          remembered_at: nowIso(),
          expires_at: Math.floor(nowMs() / 1000) + EARLY_FACT_TTL_DAYS * 86_400,
        },
        ConditionExpression: 'attribute_not_exists(PK) OR subscription_version < :v',
        ExpressionAttributeValues: { ':v': version },
      },
    },
    { ConditionCheck: { TableName: T(), Key: lookup, ConditionExpression: 'attribute_not_exists(PK)' } },
  ]);
  if (outcome.committed) return 'remembered';
  const [put, check] = outcome.reasons;
  if (check?.code === 'ConditionalCheckFailed') return 'registered_meanwhile';
  if (put?.code === 'ConditionalCheckFailed') return 'already_remembered_or_older';
  throw new Error(`lifecycle fact not remembered: ${outcome.reasons.map((r) => r.code).join(', ')}`);
}

export type RememberedState = {
  /** The newest fact remembered for this buyer and licence (or for the buyer without a licence). */
  fact?: RememberedFact;
  /** For the registration's transaction: every remembered item it read (or found absent) is unchanged. */
  checks: TransactItem[];
};

/** What was remembered about the buyer ResolveCustomer identified, read consistently. */
export async function rememberedFor(identity: BuyerIdentity): Promise<RememberedState> {
  const buyers = [
    byAccount(identity.customer_aws_account_id),
    ...(identity.customer_identifier ? [byIdentifier(identity.customer_identifier)] : []),
  ];
  const candidates = buyers.flatMap((buyer) => [
    keys.marketplaceEarlyFact(buyer, identity.license_arn),
    keys.marketplaceEarlyFact(buyer, undefined),
  ]);
  const items = await Promise.all(
    candidates.map(async (Key) => {
      const result = await ddb().send(new GetCommand({ TableName: T(), Key, ConsistentRead: true }));
      return result.Item;
    }),
  );
  let fact: RememberedFact | undefined;
  const checks: TransactItem[] = [];
  for (const [i, Key] of candidates.entries()) {
    const item = items[i];
    if (!item) {
      checks.push({
        ConditionCheck: { TableName: T(), Key, ConditionExpression: 'attribute_not_exists(PK)' },
      });
      continue;
    }
    const version = item.subscription_version as string;
    checks.push({
      ConditionCheck: {
        TableName: T(),
        Key,
        ConditionExpression: 'subscription_version = :v',
        ExpressionAttributeValues: { ':v': version },
      },
    });
    if (!fact || version > fact.version) {
      fact = {
        status: item.subscription_status as SubscriptionStatus,
        version,
        at: item.event_at as string,
        source: item.source as string,
      };
    }
  }
  return { ...(fact ? { fact } : {}), checks };
}
