// The delivery log: one item per event and endpoint, keyed by the event (so a duplicated event finds the item
// it already wrote), holding the exact body every attempt sends, the attempt counters that make a redelivered
// queue message harmless, and what each attempt got. Bounded: at most MAX_ATTEMPTS log lines; kept 30 days.
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { conditionFailedItem, updateIf } from '../dynamo/transact.ts';
import { isoTime } from '../http/validation.ts';

export const DELIVERY_RETENTION_DAYS = 30;
export const DELIVERY_PAGE_LIMIT = 50;

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export type AttemptLogLine = { attempt: number; at: string; status_code?: number; error?: string };

export type DeliveryItem = {
  PK: string;
  SK: string;
  account_id: string;
  endpoint_id: string;
  /** The `webhook-id`: the event's id, the same on every attempt. */
  id: string;
  event_type: string;
  /** The signed body, exactly as every attempt sends it. */
  payload: string;
  status: DeliveryStatus;
  /** Attempts claimed (a claim comes before the POST). */
  attempts: number;
  /** Attempts whose outcome is recorded. */
  attempts_recorded: number;
  /** The first attempt's message was sent (the fan-out's duplicate calls then send nothing). */
  queued?: boolean;
  claimed_at?: string;
  last_status_code?: number;
  last_error?: string;
  next_attempt_at?: string;
  log: AttemptLogLine[];
  created_at: string;
};

/** Newest first: the event's time, then its id. */
export function deliverySortKey(at: string, eventId: string): string {
  return `DELIVERY#${at}#${eventId}`;
}

export const deliverySchema = z.object({
  id: z.string().check(z.describe('The webhook-id header of every attempt')),
  event_type: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number(),
  last_status_code: z.optional(z.number()),
  last_error: z.optional(z.string()),
  next_attempt_at: z.optional(isoTime),
  created_at: isoTime,
  log: z.array(
    z.object({
      attempt: z.number(),
      at: isoTime,
      status_code: z.optional(z.number()),
      error: z.optional(z.string()),
    }),
  ),
});

export function deliveryView(item: DeliveryItem): z.output<typeof deliverySchema> {
  return {
    id: item.id,
    event_type: item.event_type,
    status: item.status,
    attempts: item.attempts_recorded,
    ...(item.last_status_code === undefined ? {} : { last_status_code: item.last_status_code }),
    ...(item.last_error === undefined ? {} : { last_error: item.last_error }),
    ...(item.next_attempt_at === undefined ? {} : { next_attempt_at: item.next_attempt_at }),
    created_at: item.created_at,
    log: item.log,
  };
}

/** Writes the delivery unless it exists; answers the existing one when it does. */
export async function putDeliveryOnce(
  item: Omit<DeliveryItem, 'PK' | 'SK'>,
  sortKey: string,
): Promise<{ created: true } | { created: false; existing: DeliveryItem }> {
  try {
    await ddb().send(
      new PutCommand({
        TableName: config.tableName,
        Item: {
          ...keys.webhookDelivery(item.endpoint_id, sortKey),
          kind: 'webhook_delivery',
          ...item,
          expires_at: Math.floor(nowMs() / 1000) + DELIVERY_RETENTION_DAYS * 86_400,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { created: true };
  } catch (error) {
    const existing = conditionFailedItem(error);
    if (existing === null || existing === undefined) throw error;
    return { created: false, existing: existing as DeliveryItem };
  }
}

export async function markQueued(endpointId: string, sortKey: string): Promise<void> {
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.webhookDelivery(endpointId, sortKey),
      UpdateExpression: 'SET queued = :yes',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: { ':yes': true },
    }),
  );
}

export async function getDelivery(endpointId: string, sortKey: string): Promise<DeliveryItem | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.webhookDelivery(endpointId, sortKey),
      ConsistentRead: true,
    }),
  );
  return result.Item as DeliveryItem | undefined;
}

/** Claims attempt `attempt`: true for exactly one caller, and only when the previous attempt is recorded. */
export function claimAttempt(endpointId: string, sortKey: string, attempt: number): Promise<boolean> {
  return updateIf({
    TableName: config.tableName,
    Key: keys.webhookDelivery(endpointId, sortKey),
    UpdateExpression: 'SET attempts = :attempt, claimed_at = :now',
    ConditionExpression: '#status = :pending AND attempts = :previous AND attempts_recorded = :previous',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':attempt': attempt,
      ':previous': attempt - 1,
      ':pending': 'pending',
      ':now': nowIso(),
    },
  });
}

export type AttemptOutcome = {
  attempt: number;
  status: DeliveryStatus;
  statusCode?: number;
  error?: string;
  nextAttemptAt?: string;
};

/** Records what attempt `attempt` got, once (a second recording of the same attempt changes nothing). */
export function recordAttempt(
  endpointId: string,
  sortKey: string,
  outcome: AttemptOutcome,
): Promise<boolean> {
  const line: AttemptLogLine = {
    attempt: outcome.attempt,
    at: nowIso(),
    ...(outcome.statusCode === undefined ? {} : { status_code: outcome.statusCode }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
  };
  const set = [
    'attempts = :attempt',
    'attempts_recorded = :attempt',
    '#status = :status',
    '#log = list_append(#log, :line)',
  ];
  const remove: string[] = [];
  const values: Record<string, unknown> = {
    ':attempt': outcome.attempt,
    ':previous': outcome.attempt - 1,
    ':status': outcome.status,
    ':line': [line],
    ':pending': 'pending',
  };
  for (const [attribute, value] of [
    ['last_status_code', outcome.statusCode],
    ['last_error', outcome.error],
    ['next_attempt_at', outcome.nextAttemptAt],
  ] as const) {
    if (value === undefined) remove.push(attribute);
    else {
      set.push(`${attribute} = :${attribute}`);
      values[`:${attribute}`] = value;
    }
  }
  return updateIf({
    TableName: config.tableName,
    Key: keys.webhookDelivery(endpointId, sortKey),
    UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
    ConditionExpression: '#status = :pending AND attempts_recorded = :previous',
    ExpressionAttributeNames: { '#status': 'status', '#log': 'log' },
    ExpressionAttributeValues: values,
  });
}

/** The endpoint's newest deliveries (one bounded page). */
export async function listDeliveries(
  endpointId: string,
  limit = DELIVERY_PAGE_LIMIT,
): Promise<DeliveryItem[]> {
  const page = await ddb().send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.webhookDeliveriesPartition(endpointId) },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (page.Items ?? []) as DeliveryItem[];
}
