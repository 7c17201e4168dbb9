// Starting a refill without waiting for it: an SQS message to the refill worker in the cloud
// (REFILL_QUEUE_URL); in local mode the local stack's in-process queue. The every-minute sweep catches
// anything a lost message missed, since the due mark is written with the debit itself.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { config, optional } from '../config.ts';
import { logger } from '../observability/powertools.ts';

type LocalQueue = { __localRefillQueue?: (accountId: string) => void };

let sqs: SQSClient | undefined;

export async function requestRefill(accountId: string): Promise<void> {
  if (config.localMode) {
    (globalThis as LocalQueue).__localRefillQueue?.(accountId);
    return;
  }
  const queueUrl = optional('REFILL_QUEUE_URL');
  if (!queueUrl) return;
  sqs ??= new SQSClient(awsClientConfig(awsCalls.sqs));
  try {
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ account_id: accountId }) }),
    );
  } catch (error) {
    // The due mark is already written: the sweep starts this refill within a minute.
    logger.warn('refill request not queued; the sweep will pick it up', { accountId, error });
  }
}
