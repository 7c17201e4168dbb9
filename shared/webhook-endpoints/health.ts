// An endpoint's health: `failing_since` marks the start of its current run of failed attempts and any success
// removes it; once the run reaches 3 days the endpoint is disabled, and the disabling records the billing event
// `credits.webhook_endpoint.disabled` in the same transaction (the notify worker emails the account from it).
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure } from '../dynamo/transact.ts';
import { billingEvent, updateWithEvents } from '../events/outbox.ts';
import { DISABLE_AFTER_FAILING_MS } from './schedule.ts';

export const DISABLED_FOR_FAILURES = 'failing for 3 days';

/** Pure: whether an endpoint failing since `failingSince` is to be disabled at `now`. */
export function failedLongEnough(failingSince: string, now: number): boolean {
  return now - Date.parse(failingSince) >= DISABLE_AFTER_FAILING_MS;
}

export async function recordEndpointSuccess(accountId: string, endpointId: string): Promise<void> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.webhookEndpoint(accountId, endpointId),
        UpdateExpression: 'REMOVE failing_since',
        ConditionExpression: 'attribute_exists(failing_since)',
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/**
 * Notes a failed attempt: starts the run when none is open, and disables the endpoint once the run is 3 days
 * old. True when this call disabled it (and so recorded the event: the condition lets only one call do it).
 */
export async function recordEndpointFailure(accountId: string, endpointId: string): Promise<boolean> {
  let endpoint: Record<string, unknown> | undefined;
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.webhookEndpoint(accountId, endpointId),
        UpdateExpression: 'SET failing_since = if_not_exists(failing_since, :now)',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':now': nowIso() },
        ReturnValues: 'ALL_NEW',
      }),
    );
    endpoint = result.Attributes;
  } catch (error) {
    if (isConditionFailure(error)) return false; // deleted meanwhile
    throw error;
  }
  const failingSince = endpoint?.failing_since as string | undefined;
  if (endpoint?.status !== 'enabled' || !failingSince || !failedLongEnough(failingSince, nowMs()))
    return false;
  const event = billingEvent('credits.webhook_endpoint.disabled', accountId, {
    endpoint_id: endpointId,
    url: endpoint.url,
    failing_since: failingSince,
  });
  return updateWithEvents(
    {
      Key: keys.webhookEndpoint(accountId, endpointId),
      UpdateExpression: 'SET #status = :disabled, disabled_reason = :reason, disabled_at = :now',
      ConditionExpression: '#status = :enabled AND failing_since = :since',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':disabled': 'disabled',
        ':enabled': 'enabled',
        ':reason': DISABLED_FOR_FAILURES,
        ':since': failingSince,
        ':now': nowIso(),
      },
    },
    [event],
  );
}
