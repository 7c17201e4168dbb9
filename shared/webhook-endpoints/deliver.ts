// The delivery worker's step for one queued attempt: claim the attempt number once (a redelivered message
// then sends nothing), check the endpoint and its address again, POST the signed body, record the outcome,
// queue the next attempt after a failure, and keep the endpoint's health. Plus the local stand-in that runs
// due messages in-process.
import { Webhook } from 'standardwebhooks';
import { nowIso, nowMs } from '../clock.ts';
import { checkWebhookTarget, WebhookTargetRefusedError } from './address-policy.ts';
import {
  type AttemptOutcome,
  claimAttempt,
  type DeliveryItem,
  getDelivery,
  recordAttempt,
} from './deliveries.ts';
import { findWebhookEndpoint } from './endpoints.ts';
import { recordEndpointFailure, recordEndpointSuccess } from './health.ts';
import { postToTarget } from './post.ts';
import { enqueueWebhookAttempt, takeDueLocalMessages, type WebhookAttemptMessage } from './queue.ts';
import { LOST_ATTEMPT_AFTER_MS, MAX_ATTEMPTS, retryDelayMs } from './schedule.ts';

export type AttemptReport =
  | 'deferred'
  | 'gone'
  | 'finished'
  | 'duplicate'
  | 'succeeded'
  | 'retrying'
  | 'failed'
  | 'refused'
  | 'endpoint_unavailable';

/** An attempt claimed by another copy of its message moments ago: SQS retries this copy after it. */
export class AttemptInProgressError extends Error {
  override readonly name = 'AttemptInProgressError';
}

/** The Standard Webhooks headers for one attempt, signed with the endpoint's secret. */
export function signedHeaders(secret: string, webhookId: string, body: string): Record<string, string> {
  const at = new Date(nowMs());
  return {
    'content-type': 'application/json',
    'user-agent': 'credits-billing-webhooks/1',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(webhookId, at, body),
  };
}

/** The outcome of a failed attempt: another one later, or failed for good after the last. */
function failure(attempt: number, fields: { statusCode?: number; error?: string }): AttemptOutcome {
  const delay = attempt < MAX_ATTEMPTS ? retryDelayMs(attempt) : undefined;
  return delay === undefined
    ? { attempt, status: 'failed', ...fields }
    : { attempt, status: 'pending', ...fields, nextAttemptAt: new Date(nowMs() + delay).toISOString() };
}

async function recordAndContinue(message: WebhookAttemptMessage, outcome: AttemptOutcome): Promise<void> {
  await recordAttempt(message.endpoint_id, message.delivery, outcome);
  if (outcome.status === 'pending' && outcome.nextAttemptAt) await queueNext(message, outcome.nextAttemptAt);
}

function queueNext(message: WebhookAttemptMessage, notBefore: string): Promise<void> {
  return enqueueWebhookAttempt({ ...message, attempt: message.attempt + 1, not_before: notBefore });
}

export async function deliverAttempt(message: WebhookAttemptMessage): Promise<AttemptReport> {
  // SQS delays a message by 15 minutes at most: a longer wait goes back on the queue for the rest of it.
  if (Date.parse(message.not_before) > nowMs()) {
    await enqueueWebhookAttempt(message);
    return 'deferred';
  }
  const delivery = await getDelivery(message.endpoint_id, message.delivery);
  if (!delivery) return 'gone';
  if (delivery.status !== 'pending') return 'finished';
  const decided = await settleEarlierCopies(message, delivery);
  if (decided) return decided;
  if (delivery.attempts !== message.attempt - 1) return 'duplicate';

  const endpoint = await findWebhookEndpoint(message.account_id, message.endpoint_id);
  if (endpoint?.status !== 'enabled') {
    await recordAttempt(message.endpoint_id, message.delivery, {
      attempt: message.attempt,
      status: 'failed',
      error: endpoint ? 'endpoint disabled' : 'endpoint deleted',
    });
    return 'endpoint_unavailable';
  }
  if (!(await claimAttempt(message.endpoint_id, message.delivery, message.attempt))) return 'duplicate';

  let target: Awaited<ReturnType<typeof checkWebhookTarget>>;
  try {
    target = await checkWebhookTarget(endpoint.url);
  } catch (error) {
    if (!(error instanceof WebhookTargetRefusedError)) throw error;
    // Refused, not retried: the address became one we never send to (DNS changed), or no longer resolves.
    await recordAttempt(message.endpoint_id, message.delivery, {
      attempt: message.attempt,
      status: 'failed',
      error: `refused: the URL ${error.message}`,
    });
    await recordEndpointFailure(message.account_id, message.endpoint_id);
    return 'refused';
  }
  const result = await postToTarget(
    target,
    signedHeaders(endpoint.secret, delivery.id, delivery.payload),
    delivery.payload,
  );
  const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
  if (ok) {
    await recordAttempt(message.endpoint_id, message.delivery, {
      attempt: message.attempt,
      status: 'succeeded',
      statusCode: result.statusCode,
    });
    await recordEndpointSuccess(message.account_id, message.endpoint_id);
    return 'succeeded';
  }
  const outcome = failure(message.attempt, {
    ...(result.statusCode === undefined ? {} : { statusCode: result.statusCode }),
    error: result.error ?? `answered ${result.statusCode}`,
  });
  await recordAndContinue(message, outcome);
  await recordEndpointFailure(message.account_id, message.endpoint_id);
  return outcome.status === 'failed' ? 'failed' : 'retrying';
}

/**
 * A copy of a message whose attempt was already made. Recorded: make sure the next attempt is queued (the
 * worker may have stopped between recording and queueing; a second copy of that message is harmless).
 * Claimed but never recorded: a worker stopped mid-attempt; once it cannot still be running, the attempt
 * counts as failed, without a second POST.
 */
async function settleEarlierCopies(
  message: WebhookAttemptMessage,
  delivery: DeliveryItem,
): Promise<AttemptReport | undefined> {
  if (delivery.attempts_recorded >= message.attempt) {
    if (delivery.attempts_recorded === message.attempt && delivery.next_attempt_at) {
      await queueNext(message, delivery.next_attempt_at);
    }
    return 'duplicate';
  }
  if (delivery.attempts >= message.attempt) {
    if (delivery.attempts !== message.attempt) return 'duplicate';
    const claimedAt = Date.parse(delivery.claimed_at ?? nowIso());
    if (nowMs() - claimedAt < LOST_ATTEMPT_AFTER_MS) {
      throw new AttemptInProgressError(`attempt ${message.attempt} of ${delivery.id} is in progress`);
    }
    const lost = failure(message.attempt, { error: 'no outcome recorded (worker stopped)' });
    await recordAndContinue(message, lost);
    await recordEndpointFailure(message.account_id, message.endpoint_id);
    return lost.status === 'failed' ? 'failed' : 'retrying';
  }
  return undefined;
}

/**
 * Local mode and tests: runs every queued attempt that is due by the shared clock (all at once, like parallel
 * SQS consumers), again while running them made more due; a message that failed goes back for a retry.
 */
export async function runDueWebhookDeliveries(): Promise<AttemptReport[]> {
  const reports: AttemptReport[] = [];
  for (let round = 0; round < 10; round++) {
    const due = takeDueLocalMessages();
    if (due.length === 0) break;
    const results = await Promise.allSettled(due.map((message) => deliverAttempt(message)));
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') reports.push(result.value);
      else {
        const message = due[i] as WebhookAttemptMessage;
        // SQS would make it visible again after the visibility timeout.
        await enqueueWebhookAttempt({ ...message, not_before: new Date(nowMs() + 30_000).toISOString() });
      }
    }
  }
  return reports;
}
