// The account's webhook endpoints (`/v1/webhook-endpoints`): one item each under the account, a counter item
// that caps how many there are (changed in the create and delete transactions), and the signing secret kept
// on the item as is: the service must sign with it, so it cannot be stored as a hash like a token. Only
// functions with the table's access read it, and it is shown to the customer once, at creation.
import { randomBytes } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { failedCondition, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { isoTime } from '../http/validation.ts';
import { newUlid } from '../ids.ts';
import { checkWebhookTarget, MAX_URL_LENGTH, WebhookTargetRefusedError } from './address-policy.ts';
import { WEBHOOK_EVENT_TYPES } from './event-types.ts';

/** Endpoints per account: enough for a few environments and services, few enough to fan out in one pass. */
export const MAX_WEBHOOK_ENDPOINTS = 16;

export const ENDPOINT_ID_PREFIX = 'we_';
const SECRET_PREFIX = 'whsec_';

/** The body of `POST /v1/webhook-endpoints`. */
export const newWebhookEndpoint = z.strictObject({
  url: z.string().check(z.minLength(1), z.maxLength(MAX_URL_LENGTH)),
  events: z.array(z.enum(['*', ...WEBHOOK_EVENT_TYPES])).check(
    z.minLength(1),
    z.refine((events) => new Set(events).size === events.length, 'lists a type twice'),
    z.refine((events) => !events.includes('*') || events.length === 1, '"*" must be the only entry'),
  ),
});

export const webhookEndpointPath = z.object({
  id: z.string().check(z.regex(/^we_[0-9A-HJKMNP-TV-Z]{26}$/, 'is not a webhook endpoint id')),
});

/** An endpoint on the wire (never its secret, except in the creation answer). */
export const webhookEndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  status: z.enum(['enabled', 'disabled']),
  disabled_reason: z.optional(z.string()),
  failing_since: z.optional(isoTime),
  created_at: isoTime,
});

export const createdWebhookEndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  secret: z.nullable(
    z
      .string()
      .check(z.describe('whsec_ + base64 key, shown once (null in the replay of an Idempotency-Key)')),
  ),
  status: z.enum(['enabled', 'disabled']),
  created_at: isoTime,
});

export type WebhookEndpoint = {
  account_id: string;
  id: string;
  url: string;
  events: string[];
  secret: string;
  status: 'enabled' | 'disabled';
  disabled_reason?: string;
  /** When the endpoint's current run of failed attempts began; removed by any success. */
  failing_since?: string;
  created_at: string;
};

export function endpointView(endpoint: WebhookEndpoint): z.output<typeof webhookEndpointSchema> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    status: endpoint.status,
    ...(endpoint.disabled_reason ? { disabled_reason: endpoint.disabled_reason } : {}),
    ...(endpoint.failing_since ? { failing_since: endpoint.failing_since } : {}),
    created_at: endpoint.created_at,
  };
}

/** A new signing secret: 24 random bytes, base64, behind the Standard Webhooks prefix. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString('base64');
}

/** The audit entry of a change to an endpoint (`actor` absent: none), with its id and URL, never its secret. */
function endpointAudit(
  endpoint: WebhookEndpoint,
  actor: Actor | undefined,
  action: 'webhook_endpoint.created' | 'webhook_endpoint.enabled' | 'webhook_endpoint.deleted',
): TransactItem[] {
  if (!actor) return [];
  const details =
    action === 'webhook_endpoint.created'
      ? { url: endpoint.url, events: endpoint.events }
      : { url: endpoint.url };
  return [auditItem(endpoint.account_id, actor, action, { target: endpoint.id, details })];
}

export async function createWebhookEndpoint(
  accountId: string,
  input: z.output<typeof newWebhookEndpoint>,
  actor?: Actor,
): Promise<z.output<typeof createdWebhookEndpointSchema>> {
  try {
    await checkWebhookTarget(input.url);
  } catch (error) {
    if (error instanceof WebhookTargetRefusedError) {
      throw new ValidationError([{ field: 'url', problem: error.message }], { cause: error });
    }
    throw error;
  }
  const endpoint: WebhookEndpoint = {
    account_id: accountId,
    id: ENDPOINT_ID_PREFIX + newUlid(),
    url: input.url,
    events: input.events,
    secret: newWebhookSecret(),
    status: 'enabled',
    created_at: nowIso(),
  };
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.webhookEndpointCount(accountId),
        UpdateExpression: 'SET endpoints = if_not_exists(endpoints, :zero) + :one, kind = :kind',
        ConditionExpression: 'attribute_not_exists(endpoints) OR endpoints < :cap',
        ExpressionAttributeValues: {
          ':zero': 0,
          ':one': 1,
          ':cap': MAX_WEBHOOK_ENDPOINTS,
          ':kind': 'webhook_endpoint_count',
        },
      },
    },
    {
      Put: {
        TableName: config.tableName,
        Item: { ...keys.webhookEndpoint(accountId, endpoint.id), kind: 'webhook_endpoint', ...endpoint },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
    ...endpointAudit(endpoint, actor, 'webhook_endpoint.created'),
  ]);
  if (!outcome.committed) {
    if (failedCondition(outcome, 0)) {
      throw new ConflictError(
        'too_many_webhook_endpoints',
        `An account can have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first`,
      );
    }
    throw new Error(`webhook endpoint not created: ${JSON.stringify(outcome.reasons)}`);
  }
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    secret: endpoint.secret,
    status: endpoint.status,
    created_at: endpoint.created_at,
  };
}

function endpointOf(item: Record<string, unknown>): WebhookEndpoint {
  const { PK: _pk, SK: _sk, kind: _kind, ...endpoint } = item;
  return endpoint as WebhookEndpoint;
}

/** The account's endpoints, oldest first (at most MAX_WEBHOOK_ENDPOINTS: one page). */
export async function listWebhookEndpoints(accountId: string): Promise<WebhookEndpoint[]> {
  const endpoints: WebhookEndpoint[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb().send(
      new QueryCommand({
        TableName: config.tableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
        ExpressionAttributeValues: {
          ':pk': keys.account(accountId).PK,
          ':prefix': keys.webhookEndpointsPrefix,
        },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    endpoints.push(...(page.Items ?? []).map(endpointOf));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return endpoints;
}

/** One endpoint of the account, or undefined (another account's is as unknown as a missing one). */
export async function findWebhookEndpoint(
  accountId: string,
  endpointId: string,
): Promise<WebhookEndpoint | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.webhookEndpoint(accountId, endpointId),
      ConsistentRead: true,
    }),
  );
  return result.Item ? endpointOf(result.Item) : undefined;
}

export async function getWebhookEndpoint(accountId: string, endpointId: string): Promise<WebhookEndpoint> {
  const endpoint = await findWebhookEndpoint(accountId, endpointId);
  if (!endpoint) throw new NotFoundError('No such webhook endpoint');
  return endpoint;
}

/** The body of `PATCH /v1/webhook-endpoints/{id}`: only re-enabling for now. */
export const webhookEndpointChanges = z.strictObject({ enabled: z.literal(true) });

/**
 * Turns a disabled endpoint back on: deliveries of new events resume, its failure run starts afresh. One
 * transaction with its audit entry, so the endpoint is read first (its URL is in the entry).
 */
export async function enableWebhookEndpoint(
  accountId: string,
  endpointId: string,
  actor?: Actor,
): Promise<WebhookEndpoint> {
  const endpoint = await getWebhookEndpoint(accountId, endpointId);
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.webhookEndpoint(accountId, endpointId),
        UpdateExpression: 'SET #status = :enabled REMOVE disabled_reason, disabled_at, failing_since',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':enabled': 'enabled' },
      },
    },
    ...endpointAudit(endpoint, actor, 'webhook_endpoint.enabled'),
  ]);
  if (!outcome.committed) {
    if (failedCondition(outcome, 0)) throw new NotFoundError('No such webhook endpoint');
    throw new Error(`webhook endpoint not enabled: ${JSON.stringify(outcome.reasons)}`);
  }
  // As the update left it (the item may also carry `disabled_at`, which the update removed).
  const {
    disabled_reason: _reason,
    failing_since: _since,
    disabled_at: _at,
    ...enabled
  } = endpoint as WebhookEndpoint & { disabled_at?: string };
  return { ...enabled, status: 'enabled' };
}

/** Deletes the endpoint and frees its place under the cap; its pending deliveries stop at their next attempt. */
export async function deleteWebhookEndpoint(
  accountId: string,
  endpointId: string,
  actor?: Actor,
): Promise<void> {
  // Read first only for the audit entry's URL; the delete's own condition still decides.
  const audit = actor
    ? endpointAudit(await getWebhookEndpoint(accountId, endpointId), actor, 'webhook_endpoint.deleted')
    : [];
  const outcome = await transactWrite([
    {
      Delete: {
        TableName: config.tableName,
        Key: keys.webhookEndpoint(accountId, endpointId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: keys.webhookEndpointCount(accountId),
        UpdateExpression: 'SET endpoints = endpoints - :one',
        ConditionExpression: 'endpoints > :zero',
        ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
      },
    },
    ...audit,
  ]);
  if (outcome.committed) return;
  if (failedCondition(outcome, 0)) throw new NotFoundError('No such webhook endpoint');
  throw new Error(`webhook endpoint not deleted: ${JSON.stringify(outcome.reasons)}`);
}
