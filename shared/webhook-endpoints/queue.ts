// The webhook delivery queue: one message per attempt. In the cloud an SQS queue (WEBHOOK_QUEUE_URL) whose
// per-message delay covers at most 15 minutes, so a longer wait is re-queued by the worker until `not_before`;
// in local mode an in-process list of messages that `runDueWebhookDeliveries` (shared/webhook-endpoints/
// deliver.ts) runs once they are due by the shared clock, driven by a timer in the local stack and by tests.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { nowMs } from '../clock.ts';
import { config, required } from '../config.ts';

export type WebhookAttemptMessage = {
  account_id: string;
  endpoint_id: string;
  /** The delivery item's sort key (keys.webhookDelivery). */
  delivery: string;
  /** Which attempt this message is for (1-based): the worker claims exactly that number once. */
  attempt: number;
  /** Not to be sent before this ISO time. */
  not_before: string;
};

/** SQS's longest DelaySeconds. */
export const MAX_SQS_DELAY_SECONDS = 900;

type LocalWebhookQueue = { __localWebhookQueue?: WebhookAttemptMessage[] };

function localQueue(): WebhookAttemptMessage[] {
  const hook = globalThis as LocalWebhookQueue;
  hook.__localWebhookQueue ??= [];
  return hook.__localWebhookQueue;
}

let sqs: SQSClient | undefined;

export async function enqueueWebhookAttempt(message: WebhookAttemptMessage): Promise<void> {
  if (config.localMode) {
    localQueue().push(message);
    return;
  }
  const waitSeconds = Math.ceil((Date.parse(message.not_before) - nowMs()) / 1000);
  sqs ??= new SQSClient(awsClientConfig(awsCalls.sqs));
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: required('WEBHOOK_QUEUE_URL'),
      MessageBody: JSON.stringify(message),
      DelaySeconds: Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, waitSeconds)),
    }),
  );
}

/** Local mode: removes and answers the queued messages that are due now. */
export function takeDueLocalMessages(): WebhookAttemptMessage[] {
  const queue = localQueue();
  const now = nowMs();
  const due = queue.filter((message) => Date.parse(message.not_before) <= now);
  const waiting = queue.filter((message) => Date.parse(message.not_before) > now);
  queue.splice(0, queue.length, ...waiting);
  return due;
}

/** Local mode: how many messages wait (tests read it). */
export function localWebhookMessages(): readonly WebhookAttemptMessage[] {
  return localQueue();
}

/** Local mode: forgets every queued message (tests start from an empty queue). */
export function dropLocalWebhookMessages(): void {
  localQueue().splice(0);
}
