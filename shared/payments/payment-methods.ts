// The payment method on file: what auto-refill charges. Learnt from successful payments that saved a
// method, kept current by Stripe's detach and automatic-update events; an older fact never replaces a newer.

import { DeleteCommand, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type Stripe from 'stripe';
import * as z from 'zod/mini';
import type { PaymentMethodOnFile } from '../accounts/repository.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure, updateIf } from '../dynamo/transact.ts';

export function describeMethod(method: Stripe.PaymentMethod, version: number): PaymentMethodOnFile {
  return {
    id: method.id,
    type: method.type,
    ...(method.card?.brand ? { brand: method.card.brand } : {}),
    ...(method.card?.last4 ? { last4: method.card.last4 } : {}),
    ...(method.card?.exp_month ? { exp_month: method.card.exp_month } : {}),
    ...(method.card?.exp_year ? { exp_year: method.card.exp_year } : {}),
    version,
  };
}

/** Either kind of refused condition: a single write's, or a transaction's. */
function refused(error: unknown): boolean {
  return (
    isConditionFailure(error) || (error instanceof Error && error.name === 'TransactionCanceledException')
  );
}

/** Saves `method` as the account's method on file unless a newer fact is already stored. */
export async function rememberPaymentMethod(
  accountId: string,
  method: PaymentMethodOnFile,
): Promise<boolean> {
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: config.tableName,
              Key: keys.account(accountId),
              UpdateExpression: 'SET payment_method = :method',
              ConditionExpression:
                'attribute_exists(PK) AND (attribute_not_exists(payment_method) OR payment_method.version <= :version)',
              ExpressionAttributeValues: { ':method': method, ':version': method.version },
            },
          },
          {
            Put: {
              TableName: config.tableName,
              Item: { ...keys.paymentMethod(method.id), kind: 'payment_method', account_id: accountId },
            },
          },
        ],
      }),
    );
    return true;
  } catch (error) {
    if (refused(error)) return false;
    throw error;
  }
}

export async function accountOfPaymentMethod(paymentMethodId: string): Promise<string | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.paymentMethod(paymentMethodId),
      ConsistentRead: true,
    }),
  );
  return result.Item?.account_id as string | undefined;
}

/** Updates card details Stripe refreshed (new expiry or number) if this is still the method on file. */
export async function refreshPaymentMethod(accountId: string, method: PaymentMethodOnFile): Promise<boolean> {
  return updateIf({
    TableName: config.tableName,
    Key: keys.account(accountId),
    UpdateExpression: 'SET payment_method = :method',
    ConditionExpression: 'payment_method.id = :id AND payment_method.version <= :version',
    ExpressionAttributeValues: { ':method': method, ':id': method.id, ':version': method.version },
  });
}

/** Forgets a detached method if it is the one on file (a newer method saved since is left alone). */
export async function forgetPaymentMethod(accountId: string, paymentMethodId: string): Promise<boolean> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.account(accountId),
        UpdateExpression: 'REMOVE payment_method',
        ConditionExpression: 'payment_method.id = :id',
        ExpressionAttributeValues: { ':id': paymentMethodId },
      }),
    );
    await ddb().send(
      new DeleteCommand({ TableName: config.tableName, Key: keys.paymentMethod(paymentMethodId) }),
    );
    return true;
  } catch (error) {
    if (refused(error)) return false;
    throw error;
  }
}

/** What the customer sees of the method on file (never its Stripe id). */
export const paymentMethodSchema = z.object({
  type: z.string().check(z.describe('card, paypal, ...')),
  brand: z.optional(z.string()),
  last4: z.optional(z.string()),
});

export function paymentMethodView(
  method: PaymentMethodOnFile | undefined,
): z.output<typeof paymentMethodSchema> | null {
  if (!method) return null;
  return {
    type: method.type,
    ...(method.brand ? { brand: method.brand } : {}),
    ...(method.last4 ? { last4: method.last4 } : {}),
  };
}
