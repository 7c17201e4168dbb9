// Registration of a buyer landing from AWS Marketplace: resolve the registration token, then open the
// buyer's account in marketplace mode, or link the one it already has, and issue a billing token.
// One account per buyer, however often and however concurrently the form is posted: the lookup item keyed
// by the buyer's AWS account id is written with attribute_not_exists in the account's own transaction.
// Lifecycle facts that arrived before the registration (early-facts.ts) set the new account's state in that
// same transaction: a buyer whose subscription has already ended gets a cancelled account.
// One registration token mints at most one billing token: an item keyed by the registration token's hash is
// written with attribute_not_exists in the transaction that stores the token, so a replayed (or re-posted,
// or concurrently posted) form finds it and answers without a token.

import {
  ResolveCustomerCommand,
  type ResolveCustomerCommandOutput,
} from '@aws-sdk/client-marketplace-metering';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type Account, getAccount, newAccountPut } from '../accounts/repository.ts';
import { newAccountId, newTokenId } from '../accounts/service.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { DomainError } from '../errors.ts';
import { sha256Hex } from '../ids.ts';
import { ZERO } from '../money.ts';
import { logger } from '../observability/powertools.ts';
import { newTokenCounterPut, prepareToken } from '../tokens/repository.ts';
import { issueToken } from '../tokens/service.ts';
import {
  type BuyerIdentity,
  buyersIndex,
  customerIdentifierKey,
  customersIndex,
  ENDED_STATES,
  findCustomer,
  type SubscriptionStatus,
  subscriptionVersion,
  UNDATED_VERSION,
} from './buyers.ts';
import { meteringClient } from './client.ts';
import { type RememberedState, rememberedFor } from './early-facts.ts';
import { type EntitlementRead, holdsEntitlements, readEntitlements, syncContract } from './entitlements.ts';
import { MarketplaceUnavailableError } from './errors.ts';

/** The registration token is unknown, expired or for another product. */
export class RegistrationTokenError extends DomainError {
  override readonly name = 'RegistrationTokenError';
  readonly status = 400;
  readonly code = 'invalid_registration_token';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export { MarketplaceUnavailableError };

export type Registration = {
  account_id: string;
  /** `marketplace` (pay as you go) or `marketplace_contract` (funded from the contract's entitlements). */
  billing_mode: 'marketplace' | 'marketplace_contract';
  /** A new `billing` token, shown once; null when this registration token was used before (a replay). */
  token: string | null;
  /** False when the buyer already had an account (it was linked; the new token joins the earlier ones). */
  created: boolean;
  subscription_status: SubscriptionStatus;
};

type MarketplaceAccount = Account & {
  subscription_status: SubscriptionStatus;
  subscription_version: string;
  cancelled_at?: string;
  marketplace: BuyerIdentity;
};

const TOKEN_ERRORS = new Set(['InvalidTokenException', 'ExpiredTokenException', 'ValidationException']);

async function resolve(registrationToken: string): Promise<BuyerIdentity> {
  let result: ResolveCustomerCommandOutput;
  try {
    result = await meteringClient().send(
      new ResolveCustomerCommand({ RegistrationToken: registrationToken }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (TOKEN_ERRORS.has(name)) {
      throw new RegistrationTokenError(
        name === 'ExpiredTokenException'
          ? 'This AWS Marketplace registration link has expired; open the product from your AWS Marketplace subscriptions again'
          : 'This AWS Marketplace registration token is not valid',
        { cause: error },
      );
    }
    throw new MarketplaceUnavailableError({ cause: error });
  }
  const accountId = result.CustomerAWSAccountId;
  const licenseArn = result.LicenseArn;
  if (!accountId || !licenseArn) {
    throw new RegistrationTokenError('AWS Marketplace did not identify a buyer for this token');
  }
  const productCode = config.marketplaceProductCode;
  if (productCode && result.ProductCode && result.ProductCode !== productCode) {
    throw new RegistrationTokenError('This registration token is for another AWS Marketplace product');
  }
  return {
    customer_aws_account_id: accountId,
    license_arn: licenseArn,
    ...(result.ProductCode ? { product_code: result.ProductCode } : {}),
    ...(result.CustomerIdentifier ? { customer_identifier: result.CustomerIdentifier } : {}),
  };
}

/** Marks `registrationToken` used by `accountId`: joins the transaction that stores the token it minted. */
function registrationGuard(registrationToken: string, accountId: string, at: string): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: {
        ...keys.marketplaceRegistration(sha256Hex(registrationToken)),
        kind: 'marketplace_registration',
        account_id: accountId,
        used_at: at,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

async function accountOfUsedRegistration(registrationToken: string): Promise<string | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.marketplaceRegistration(sha256Hex(registrationToken)),
      ConsistentRead: true,
    }),
  );
  return result.Item?.account_id as string | undefined;
}

type BuyerMode = Registration['billing_mode'];

const modeOf = (account: Account | undefined): BuyerMode =>
  account?.billing_mode === 'marketplace_contract' ? 'marketplace_contract' : 'marketplace';

/**
 * A contract buyer's entitlements as read now, or undefined for a pay-as-you-go buyer (MARKETPLACE_PRODUCT_TYPE:
 * `contract` always reads them, `auto` makes a buyer with entitlements a contract buyer). Read before anything
 * is written: when AWS does not answer, the registration fails whole (503) and the buyer posts the form again.
 */
async function contractRead(identity: BuyerIdentity): Promise<EntitlementRead | undefined> {
  const type = config.marketplaceProductType;
  if (type === 'metered') return undefined;
  const read = await readEntitlements(identity);
  return type === 'contract' || holdsEntitlements(read) ? read : undefined;
}

/**
 * Grants a contract account what its entitlements owe, after its registration committed. A failure here loses
 * nothing: the token is still shown, and the next registration post or lifecycle event grants what is owed.
 */
async function grantRegistered(
  accountId: string,
  identity: BuyerIdentity,
  read: EntitlementRead | undefined,
): Promise<void> {
  try {
    await syncContract(accountId, identity, read);
  } catch (error) {
    logger.error('marketplace contract credits not granted at registration; the next event grants them', {
      accountId,
      error,
    });
  }
}

/** The answer to a registration token used before: the account, no new token; a contract is granted what it is owed. */
async function replayed(accountId: string): Promise<Registration> {
  const account = (await getAccount(accountId)) as MarketplaceAccount | undefined;
  if (account?.billing_mode === 'marketplace_contract') {
    await grantRegistered(accountId, account.marketplace, undefined);
  }
  return {
    account_id: accountId,
    billing_mode: modeOf(account),
    token: null,
    created: false,
    subscription_status: account?.subscription_status ?? 'active',
  };
}

function newBuyerItems(
  identity: BuyerIdentity,
  at: string,
  remembered: RememberedState,
  registrationToken: string,
  mode: BuyerMode,
) {
  const accountId = newAccountId();
  // The newest remembered fact is the subscription's state (the registration itself dates none: a token
  // resolves for a while after the subscription ended); without one, active until any fact says otherwise.
  const fact = remembered.fact;
  const status = fact?.status ?? 'active';
  const ended = ENDED_STATES.includes(status);
  const account: MarketplaceAccount = {
    account_id: accountId,
    name: `AWS Marketplace buyer ${identity.customer_aws_account_id}`,
    billing_mode: mode,
    balance: ZERO,
    held: ZERO,
    available: ZERO,
    entry_count: 0,
    created_at: at,
    updated_at: at,
    subscription_status: status,
    subscription_version: fact?.version ?? UNDATED_VERSION,
    ...(ended && fact ? { cancelled_at: fact.at } : {}),
    marketplace: identity,
  };
  const token = prepareToken({
    accountId,
    tokenId: newTokenId(),
    name: 'AWS Marketplace registration',
    scopes: ['api', 'billing'],
    at,
  });
  const lookup = {
    account_id: accountId,
    customer_aws_account_id: identity.customer_aws_account_id,
    license_arn: identity.license_arn,
    ...(identity.customer_identifier ? { customer_identifier: identity.customer_identifier } : {}),
  };
  const items: TransactItem[] = [
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.marketplaceCustomer(identity.customer_aws_account_id),
          ...customersIndex(accountId),
          kind: 'marketplace_customer',
          ...lookup,
          created_at: at,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
    newAccountPut(account),
    ...token.items,
    newTokenCounterPut(accountId, 1),
    registrationGuard(registrationToken, accountId, at),
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.marketplaceBuyer(accountId),
          // Ended before it registered: no hour to report, so not in the index of buyers to meter; nor is a
          // contract buyer, whose usage is debited rather than reported.
          ...(ended || mode === 'marketplace_contract' ? {} : buyersIndex(accountId)),
          kind: 'marketplace_buyer',
          account_id: accountId,
          marketplace: identity,
          registered_at: at,
          ...(ended && fact ? { ends_at: fact.at } : {}),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
  ];
  if (identity.customer_identifier) {
    items.push({
      Put: {
        TableName: config.tableName,
        Item: {
          ...customerIdentifierKey(identity.customer_identifier),
          kind: 'marketplace_customer_id',
          ...lookup,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    });
  }
  items.push(...remembered.checks);
  return { accountId, token: token.token, items, status };
}

/**
 * A buyer who registers again with another license has subscribed again: the account takes the new
 * identity and is active from now (unless a later event already said otherwise).
 */
async function resubscribe(
  accountId: string,
  identity: BuyerIdentity,
  at: string,
  mode: BuyerMode,
): Promise<void> {
  const version = subscriptionVersion(at, 'active');
  // A contract buyer is not in the index of buyers to meter.
  const index = mode === 'marketplace' ? buyersIndex(accountId) : undefined;
  await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.account(accountId),
        UpdateExpression:
          'SET marketplace = :identity, subscription_status = :active, subscription_version = :v, updated_at = :at REMOVE cancelled_at',
        ConditionExpression: 'billing_mode = :mode AND subscription_version < :v',
        ExpressionAttributeValues: {
          ':identity': identity,
          ':active': 'active',
          ':v': version,
          ':at': at,
          ':mode': mode,
        },
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: keys.marketplaceCustomer(identity.customer_aws_account_id),
        UpdateExpression: 'SET license_arn = :license',
        ConditionExpression: 'account_id = :account',
        ExpressionAttributeValues: { ':license': identity.license_arn, ':account': accountId },
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: keys.marketplaceBuyer(accountId),
        // Hourly records restart from now: the hours between the subscriptions belong to no licence.
        UpdateExpression: index
          ? 'SET marketplace = :identity, registered_at = :at, GSI1PK = :gpk, GSI1SK = :gsk REMOVE ends_at'
          : 'SET marketplace = :identity, registered_at = :at REMOVE ends_at',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: {
          ':identity': identity,
          ':at': at,
          ...(index ? { ':gpk': index.GSI1PK, ':gsk': index.GSI1SK } : {}),
        },
      },
    },
  ]);
}

export async function registerBuyer(registrationToken: string): Promise<Registration> {
  // A replay is answered from the table: no ResolveCustomer call, no token.
  const usedBy = await accountOfUsedRegistration(registrationToken);
  if (usedBy) return replayed(usedBy);
  const identity = await resolve(registrationToken);
  const read = await contractRead(identity);
  for (let attempt = 0; attempt < 5; attempt++) {
    const at = nowIso();
    const existing = await findCustomer(identity.customer_aws_account_id);
    if (existing) {
      // A buyer keeps the mode it registered in (a pay-as-you-go buyer's hours stay reportable).
      const mode = modeOf(await getAccount(existing.account_id));
      if (existing.license_arn !== identity.license_arn)
        await resubscribe(existing.account_id, identity, at, mode);
      if (mode === 'marketplace_contract')
        await grantRegistered(
          existing.account_id,
          identity,
          read && existing.license_arn === identity.license_arn ? read : undefined,
        );
      const issued = await issueToken(
        existing.account_id,
        { name: 'AWS Marketplace registration', scopes: ['api', 'billing'] },
        registrationGuard(registrationToken, existing.account_id, at),
      );
      // A concurrent post of this same form minted the token first.
      if (!issued) return replayed(existing.account_id);
      const account = (await getAccount(existing.account_id)) as MarketplaceAccount | undefined;
      return {
        account_id: existing.account_id,
        billing_mode: mode,
        token: issued.token,
        created: false,
        subscription_status: account?.subscription_status ?? 'active',
      };
    }
    const remembered = await rememberedFor(identity);
    const mode: BuyerMode = read ? 'marketplace_contract' : 'marketplace';
    const fresh = newBuyerItems(identity, at, remembered, registrationToken, mode);
    const outcome = await transactWrite(fresh.items);
    if (outcome.committed) {
      if (read) await grantRegistered(fresh.accountId, identity, read);
      if (remembered.fact) {
        logger.info('marketplace registration took the remembered subscription state', {
          accountId: fresh.accountId,
          status: fresh.status,
          source: remembered.fact.source,
        });
      }
      return {
        account_id: fresh.accountId,
        billing_mode: mode,
        token: fresh.token,
        created: true,
        subscription_status: fresh.status,
      };
    }
    // Another registration of the same buyer won the lookup item (link to its account on the next pass, where
    // a post of this same form finds its guard taken), or a lifecycle fact was remembered meanwhile (read it
    // on the next pass).
  }
  throw new Error('marketplace registration kept conflicting');
}
