// The account's Stripe Customer, created once: concurrent first purchases share one Stripe idempotency key,
// so Stripe answers them with the same customer, and the account keeps the first id stored.

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { getAccount } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure } from '../dynamo/transact.ts';
import { NotFoundError } from '../errors.ts';
import { stripe } from './stripe-client.ts';

export async function ensureCustomer(accountId: string): Promise<string> {
  const account = await getAccount(accountId);
  if (!account) throw new NotFoundError('Account not found');
  if (account.stripe_customer_id) return account.stripe_customer_id;
  const customer = await (await stripe()).customers.create(
    {
      name: account.name,
      ...(account.email ? { email: account.email } : {}),
      metadata: { account_id: accountId },
    },
    { idempotencyKey: `customer-${accountId}` },
  );
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.account(accountId),
        UpdateExpression: 'SET stripe_customer_id = :customer',
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(stripe_customer_id)',
        ExpressionAttributeValues: { ':customer': customer.id },
      }),
    );
    return customer.id;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const stored = (await getAccount(accountId))?.stripe_customer_id;
    if (!stored) throw error;
    return stored;
  }
}
