// Purchase records: one per checkout, under the account. Their status only moves forward
// (pending → paid | failed | expired, and failed/expired → paid when a later payment succeeds), so an older
// event or a slower reader never overwrites a newer state.

import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { type BillingEvent, updateWithEvents } from '../events/outbox.ts';
import { isoTime, usd } from '../http/validation.ts';
import { type Micros, toWire } from '../money.ts';

export type PurchaseStatus = 'pending' | 'paid' | 'failed' | 'expired';

export type Purchase = {
  purchase_id: string;
  account_id: string;
  amount: Micros;
  status: PurchaseStatus;
  status_rank: number;
  created_at: string;
  updated_at: string;
  checkout_session_id?: string;
  payment_intent_id?: string;
  payment_method_type?: string;
  credited_at?: string;
  failure_reason?: string;
  /** The checkout asks Stripe for an invoice once paid (`invoice_creation`); older purchases have none. */
  invoice_creation?: boolean;
} & PurchaseLinks;

/** Where the customer finds the paid purchase at Stripe: the charge's receipt, Checkout's invoice. */
export type PurchaseLinks = {
  receipt_url?: string;
  invoice_id?: string;
  /** The invoice's hosted page (`hosted_invoice_url`), which also offers its PDF. */
  invoice_url?: string;
};

/** Paid is final; failed and expired can still be overtaken by a payment that succeeds later. */
const RANK: Record<PurchaseStatus, number> = { pending: 0, failed: 1, expired: 1, paid: 2 };

/** Records a new pending purchase; `audit` (who started it) is written in the same transaction. */
export async function createPurchase(
  purchase: Omit<Purchase, 'status' | 'status_rank' | 'updated_at'>,
  audit?: TransactItem,
): Promise<void> {
  const outcome = await transactWrite([
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.purchase(purchase.account_id, purchase.purchase_id),
          kind: 'purchase',
          ...purchase,
          status: 'pending',
          status_rank: RANK.pending,
          updated_at: purchase.created_at,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
    ...(audit ? [audit] : []),
  ]);
  if (!outcome.committed) {
    throw new Error(`purchase not created: ${outcome.reasons.map((r) => r.code).join(', ')}`);
  }
}

export async function getPurchase(accountId: string, purchaseId: string): Promise<Purchase | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.purchase(accountId, purchaseId),
      ConsistentRead: true,
    }),
  );
  return result.Item as Purchase | undefined;
}

/**
 * Records the purchase's session (and whether it makes an invoice), and the session's purchase (a replay
 * writes the same again).
 */
export async function attachCheckoutSession(
  accountId: string,
  purchaseId: string,
  sessionId: string,
  options: { invoiceCreation: boolean } = { invoiceCreation: false },
): Promise<void> {
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.purchase(accountId, purchaseId),
        UpdateExpression: 'SET checkout_session_id = :session, invoice_creation = :invoice',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':session': sessionId, ':invoice': options.invoiceCreation },
      },
    },
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.checkoutSession(sessionId),
          kind: 'checkout_session',
          account_id: accountId,
          purchase_id: purchaseId,
        },
      },
    },
  ]);
  if (!outcome.committed) throw new Error(`purchase ${purchaseId} vanished before its session was attached`);
}

/** The stored purchase whose Checkout Session this is (one read, no Stripe call), or undefined. */
export async function purchaseOfSession(sessionId: string): Promise<Purchase | undefined> {
  const pointer = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.checkoutSession(sessionId),
      ConsistentRead: true,
    }),
  );
  const item = pointer.Item as { account_id: string; purchase_id: string } | undefined;
  if (!item) return undefined;
  const purchase = await getPurchase(item.account_id, item.purchase_id);
  return purchase?.checkout_session_id === sessionId ? purchase : undefined;
}

/**
 * The stored purchase a Checkout Session names in its metadata, if that purchase was opened with this very
 * session: how a webhook tells this deployment's sessions from any other's before asking Stripe. (Sessions
 * opened before the session pointer existed are found this way too.)
 */
export async function purchaseNamedBySession(session: {
  id: string;
  metadata?: Record<string, string> | null;
}): Promise<Purchase | undefined> {
  const accountId = session.metadata?.account_id;
  const purchaseId = session.metadata?.purchase_id;
  if (!accountId || !purchaseId) return undefined;
  const purchase = await getPurchase(accountId, purchaseId);
  return purchase?.checkout_session_id === session.id ? purchase : undefined;
}

/** Moves the purchase to `status` if that is a step forward; false when it already is there or beyond. */
export async function advancePurchase(
  accountId: string,
  purchaseId: string,
  status: PurchaseStatus,
  at: string,
  details: Partial<
    Pick<Purchase, 'payment_intent_id' | 'payment_method_type' | 'credited_at' | 'failure_reason'>
  > &
    PurchaseLinks = {},
  /** Recorded with the change, when it is made (the status only ever moves up, so once). */
  events: BillingEvent[] = [],
): Promise<boolean> {
  const sets = ['#status = :status', 'status_rank = :rank', 'updated_at = :at'];
  const values: Record<string, unknown> = { ':status': status, ':rank': RANK[status], ':at': at };
  for (const [name, value] of Object.entries(details)) {
    if (value === undefined) continue;
    sets.push(`${name} = :${name}`);
    values[`:${name}`] = value;
  }
  return updateWithEvents(
    {
      Key: keys.purchase(accountId, purchaseId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(PK) AND status_rank < :rank',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: values,
    },
    events,
  );
}

/**
 * Writes the links known of a purchase, whatever its status (they never change once Stripe made them):
 * how a link found after the purchase was recorded paid is filled in. Nothing to write: no call.
 */
export async function recordPurchaseLinks(
  accountId: string,
  purchaseId: string,
  links: PurchaseLinks,
): Promise<void> {
  const known = Object.entries(links).filter(([, value]) => value !== undefined);
  if (known.length === 0) return;
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.purchase(accountId, purchaseId),
      UpdateExpression: `SET ${known.map(([name]) => `${name} = :${name}`).join(', ')}`,
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: Object.fromEntries(known.map(([name, value]) => [`:${name}`, value])),
    }),
  );
}

/**
 * Records how a still-pending purchase is being paid (a bank transfer waits for its funds for days), so its
 * readers can say so. Only on a pending purchase that has no method yet: a paid one keeps what its payment
 * wrote. False when nothing was written.
 */
export async function notePendingMethod(
  accountId: string,
  purchaseId: string,
  paymentMethodType: string,
): Promise<boolean> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.purchase(accountId, purchaseId),
        UpdateExpression: 'SET payment_method_type = :type',
        ConditionExpression:
          'attribute_exists(PK) AND #status = :pending AND attribute_not_exists(payment_method_type)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':type': paymentMethodType, ':pending': 'pending' },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** True when a paid purchase still lacks a link Stripe has or will have for it. */
export function missingLinks(purchase: Purchase): boolean {
  if (purchase.status !== 'paid' || !purchase.payment_intent_id) return false;
  return !purchase.receipt_url || (purchase.invoice_creation === true && !purchase.invoice_url);
}

/** The account's purchases, newest first (ids are time-ordered). */
export async function listPurchases(accountId: string, limit = 100): Promise<Purchase[]> {
  const page = await ddb().send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':prefix': 'PURCHASE#' },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (page.Items ?? []) as Purchase[];
}

export const purchaseSchema = z.object({
  purchase_id: z.string(),
  amount: usd,
  status: z.enum(['pending', 'paid', 'failed', 'expired']),
  payment_method_type: z.optional(z.string()),
  credited_at: z.optional(isoTime),
  created_at: isoTime,
  receipt_url: z
    .nullable(z.string())
    .check(z.describe("Stripe's hosted receipt of the payment; null until the purchase is paid and known")),
  invoice_url: z
    .nullable(z.string())
    .check(
      z.describe("Stripe's hosted invoice (with its PDF); null until Stripe made it, or for older purchases"),
    ),
});

export function purchaseView(purchase: Purchase): z.output<typeof purchaseSchema> {
  return {
    purchase_id: purchase.purchase_id,
    amount: toWire(purchase.amount),
    status: purchase.status,
    ...(purchase.payment_method_type ? { payment_method_type: purchase.payment_method_type } : {}),
    ...(purchase.credited_at ? { credited_at: purchase.credited_at } : {}),
    created_at: purchase.created_at,
    receipt_url: purchase.receipt_url ?? null,
    invoice_url: purchase.invoice_url ?? null,
  };
}
